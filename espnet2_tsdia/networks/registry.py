"""Model-type registry and a builder from plain config dicts (plan ``model_type``)."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type

from espnet2_tsdia.decoder.transformer_decoder import TransformerDecoderStack
from espnet2_tsdia.encoder.transformer_encoder import TransformerEncoderStack
from espnet2_tsdia.networks.abs_network import AbsTSDiaNetwork
from espnet2_tsdia.networks.decoder import DecoderNetwork
from espnet2_tsdia.networks.encoder import EncoderNetwork
from espnet2_tsdia.networks.encoder_decoder import EncoderDecoderNetwork

NETWORK_TYPES: Dict[str, Type[AbsTSDiaNetwork]] = {
    "encoder": EncoderNetwork,
    "decoder": DecoderNetwork,
    "encoder_decoder": EncoderDecoderNetwork,
}


def build_network(
    model_type: str,
    *,
    input_size: int = 345,
    num_classes: int = 4,
    encoder_conf: Optional[Mapping[str, Any]] = None,
    decoder_conf: Optional[Mapping[str, Any]] = None,
) -> AbsTSDiaNetwork:
    """Build a network of ``model_type`` with transformer stacks from keyword dicts.

    Args:
        model_type: encoder, decoder or encoder_decoder.
        input_size: feature dimension F.
        num_classes: classes of the head.
        encoder_conf: ``TransformerEncoderStack`` keywords (encoder, encoder_decoder).
        decoder_conf: ``TransformerDecoderStack`` keywords (decoder, encoder_decoder).
    """
    if model_type not in NETWORK_TYPES:
        raise ValueError(f"unknown model_type {model_type!r}; valid: {sorted(NETWORK_TYPES)}")
    common = dict(input_size=input_size, num_classes=num_classes)
    if model_type == "encoder":
        return EncoderNetwork(encoder=TransformerEncoderStack(**(encoder_conf or {})), **common)
    if model_type == "decoder":
        return DecoderNetwork(decoder=TransformerDecoderStack(**(decoder_conf or {})), **common)
    return EncoderDecoderNetwork(
        encoder=TransformerEncoderStack(**(encoder_conf or {})),
        decoder=TransformerDecoderStack(**{"use_cross_attention": True, **(decoder_conf or {})}),
        **common,
    )
