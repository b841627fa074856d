"""Model-type registry, the stacks each type builds, and a builder from plain config dicts."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type

from espnet2_tsdia.networks.abs_network import AbsTSDiaNetwork
from espnet2_tsdia.networks.decoder import DecoderNetwork
from espnet2_tsdia.networks.encoder import EncoderNetwork
from espnet2_tsdia.networks.encoder_decoder import EncoderDecoderNetwork
from espnet2_tsdia.stacks.transformer import TransformerStack

NETWORK_TYPES: Dict[str, Type[AbsTSDiaNetwork]] = {
    "encoder": EncoderNetwork,
    "decoder": DecoderNetwork,
    "encoder_decoder": EncoderDecoderNetwork,
}

#: model type -> the stacks it builds (role = config section and constructor keyword) -> what
#: the role defaults to over the stack's own defaults: a decoder is causal (online capable);
#: the decoder of encoder_decoder reads the encoded enrollment through cross-attention.
MODEL_STACKS: Dict[str, Dict[str, Dict[str, Any]]] = {
    "encoder": {"encoder": {}},
    "decoder": {"decoder": {"causal": True}},
    "encoder_decoder": {"encoder": {}, "decoder": {"causal": True, "use_cross_attention": True}},
}


def stack_conf(model_type: str, role: str, conf: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The keywords of ``model_type``'s ``role`` stack: the role's defaults, then ``conf``."""
    return {**MODEL_STACKS[model_type][role], **(conf or {})}


def build_network(
    model_type: str,
    *,
    input_size: int = 345,
    num_classes: int = 4,
    encoder_conf: Optional[Mapping[str, Any]] = None,
    decoder_conf: Optional[Mapping[str, Any]] = None,
    similarity: Optional[Mapping[str, Any]] = None,
) -> AbsTSDiaNetwork:
    """Build a network of ``model_type`` with transformer stacks from keyword dicts.

    Args:
        model_type: encoder, decoder or encoder_decoder.
        input_size: feature dimension F.
        num_classes: classes of the head.
        encoder_conf: ``TransformerStack`` keywords of the encoder (encoder, encoder_decoder).
        decoder_conf: ``TransformerStack`` keywords of the decoder (decoder, encoder_decoder).
        similarity: ``SpeakerSimilarity`` keywords (speaker-similarity conditioning), or None.
    """
    if model_type not in NETWORK_TYPES:
        raise ValueError(f"unknown model_type {model_type!r}; valid: {sorted(NETWORK_TYPES)}")
    confs = {"encoder": encoder_conf, "decoder": decoder_conf}
    stacks = {role: TransformerStack(**stack_conf(model_type, role, confs[role])) for role in MODEL_STACKS[model_type]}
    return NETWORK_TYPES[model_type](**stacks, input_size=input_size, num_classes=num_classes, similarity=similarity)
