"""Model type ``decoder``: one causal stack over [enrollment ; mixture] (online capable)."""

from __future__ import annotations

from espnet2_tsdia.decoder.abs_decoder import AbsDecoder
from espnet2_tsdia.networks.joint import JointStackNetwork


class DecoderNetwork(JointStackNetwork):
    """Decoder-only TS-DIA: mixture frame t sees the whole enrollment (it comes first) and
    mixture frames <= t, so the output at t never waits for the future.

    Args:
        decoder: the stack (e.g. ``TransformerDecoderStack`` with ``causal=True``); it must
            not use cross-attention (there is no encoder to attend to).
        input_size: feature dimension F.
        num_classes: classes of the head (plan ``decoder.num_classes``; 4 = powerset).
    """

    def __init__(self, *, decoder: AbsDecoder, input_size: int = 345, num_classes: int = 4):
        if getattr(decoder, "use_cross_attention", False):
            raise ValueError(
                "model_type 'decoder' has no encoder, so decoder.use_cross_attention=True would "
                "be cross-attention without an encoder; set it to False or use 'encoder_decoder'"
            )
        super().__init__(stack=decoder, input_size=input_size, num_classes=num_classes)
