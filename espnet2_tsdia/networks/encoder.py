"""Model type ``encoder``: one bidirectional stack over [enrollment ; mixture]."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from espnet2_tsdia.networks.joint import JointStackNetwork
from espnet2_tsdia.stacks.abs_stack import AbsStack


class EncoderNetwork(JointStackNetwork):
    """Encoder-only TS-DIA: every frame attends to the whole enrollment and mixture (offline).

    ``enrollment_embedding`` encodes the enrollment alone; :meth:`encode`'s ``enroll_emb``
    pools the enrollment frames of the joint pass, which also attended to the mixture.

    Args:
        encoder: the stack (e.g. ``TransformerStack``), without cross-attention.
        input_size: feature dimension F.
        num_classes: classes of the head (plan ``decoder.num_classes``; 4 = powerset).
        similarity: speaker-similarity conditioning keywords, or None (see
            :class:`~espnet2_tsdia.networks.joint.JointStackNetwork`).
    """

    model_type = "encoder"

    def __init__(
        self,
        *,
        encoder: AbsStack,
        input_size: int = 345,
        num_classes: int = 4,
        similarity: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__(stack=encoder, input_size=input_size, num_classes=num_classes, similarity=similarity)
