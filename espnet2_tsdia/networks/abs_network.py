"""Interface of the TS-DIA model types (docs/design.md)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

import torch
from torch import nn

from espnet2_tsdia.layers.attention import ProjectionRedraws
from espnet2_tsdia.networks.speaker_similarity import SpeakerSimilarity


@dataclass(frozen=True)
class NetworkOutput:
    """What one pass of a network gives the loss.

    Args:
        logits: (B, T, C) class scores of the mixture frames.
        lens: (B,) frame counts (equal to the input ``feats_lens``).
        frame_emb: (B, T, D) the head's input per mixture frame (0 at padding).
        enroll_emb: (B, D) mean of the encoded enrollment frames of the same pass.
        speaker_frames: (B, T, D_s) normalised frame speaker embeddings of the mixture, from
            the speaker-similarity conditioning (None without it).
        speaker_enroll: (B, D_s) the enrollment's speaker embedding (None without it).
    """

    logits: torch.Tensor
    lens: torch.Tensor
    frame_emb: torch.Tensor
    enroll_emb: torch.Tensor
    speaker_frames: Optional[torch.Tensor] = None
    speaker_enroll: Optional[torch.Tensor] = None


def build_similarity(
    conf: Optional[Mapping[str, Any]], *, input_size: int, output_size: int
) -> Optional[SpeakerSimilarity]:
    """The :class:`~espnet2_tsdia.networks.speaker_similarity.SpeakerSimilarity` of a network's
    ``similarity`` option (its keywords), or None when the option is None/empty."""
    if not conf:
        return None
    if not isinstance(conf, Mapping):
        raise ValueError(f"similarity must be a mapping of SpeakerSimilarity keywords or null, got {conf!r}")
    valid = ("dim", "num_layers", "kernel_size", "dropout", "with_embedding", "relative")
    bad = sorted(set(conf) - set(valid))
    if bad:
        raise ValueError(f"similarity: unknown keys {bad}; valid: {', '.join(valid)}")
    return SpeakerSimilarity(input_size=input_size, output_size=output_size, **conf)


class AbsTSDiaNetwork(ProjectionRedraws, nn.Module, ABC):
    """A target-speaker diarization network: mixture + enrollment -> per-frame class scores.

    Subclasses set ``num_classes`` and implement :meth:`encode` and
    :meth:`enrollment_embedding`.
    """

    num_classes: int

    @abstractmethod
    def encode(
        self,
        feats: torch.Tensor,
        feats_lens: torch.Tensor,
        enroll: torch.Tensor,
        enroll_lens: torch.Tensor,
    ) -> NetworkOutput:
        """Args: feats (B, T, F), feats_lens (B,), enroll (B, E, F), enroll_lens (B,)
        (every length >= 1). Returns a :class:`NetworkOutput`."""

    @abstractmethod
    def enrollment_embedding(self, enroll: torch.Tensor, enroll_lens: torch.Tensor) -> torch.Tensor:
        """Encode the enrollment alone and mean-pool it: (B, E, F), (B,) -> (B, D)."""

    def forward(
        self,
        feats: torch.Tensor,
        feats_lens: torch.Tensor,
        enroll: torch.Tensor,
        enroll_lens: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Args: feats (B, T, F), feats_lens (B,), enroll (B, E, F), enroll_lens (B,).
        Returns (logits (B, T, C), lens (B,))."""
        out = self.encode(feats, feats_lens, enroll, enroll_lens)
        return out.logits, out.lens
