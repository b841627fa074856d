"""Model type ``decoder``: one causal stack over [enrollment ; mixture] (online capable)."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from espnet2_tsdia.networks.joint import JointStackNetwork
from espnet2_tsdia.stacks.abs_stack import AbsStack


class DecoderNetwork(JointStackNetwork):
    """Decoder-only TS-DIA: mixture frame t sees the whole enrollment (it comes first) and
    mixture frames <= t, so the output at t never waits for the future.

    Args:
        decoder: the stack (e.g. ``TransformerStack`` with ``causal=True``, the decoder's
            default in the task); it must not use cross-attention (there is no encoder to
            attend to).
        input_size: feature dimension F.
        num_classes: classes of the head (plan ``decoder.num_classes``; 4 = powerset).
        similarity: speaker-similarity conditioning keywords, or None (see
            :class:`~espnet2_tsdia.networks.joint.JointStackNetwork`).
    """

    model_type = "decoder"

    def __init__(
        self,
        *,
        decoder: AbsStack,
        input_size: int = 345,
        num_classes: int = 4,
        similarity: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__(stack=decoder, input_size=input_size, num_classes=num_classes, similarity=similarity)
