"""Speaker-similarity conditioning: how much each mixture frame sounds like the enrollment.

A network that only cross-attends to the enrollment can learn its training voices instead of the
task (find the enrolled voice): nothing forces it to compare. This module gives it the comparison
directly, as TS-VAD-style conditioning with a metric inside:

1. one shared **frame speaker encoder** embeds every frame of the mixture and of the enrollment:
   a linear map of the features, ``num_layers`` residual 1-D convolutions over time (kernel
   ``kernel_size``, GELU, so a frame sees ``num_layers * (kernel_size - 1)`` neighbouring frames:
   speaker identity is local, so no attention mixes in the other speakers of the mixture), a
   LayerNorm and a linear map to ``dim``; every embedding is L2-normalised;
2. the **enrollment embedding** ``e`` is the normalised mean of the enrollment frames' embeddings;
3. per mixture frame the **agreement** ``z_t * e`` (elementwise, ``dim`` values whose sum is the
   cosine) and the cosine itself go through a linear map to the conditioned stack's width, and
   are added to that stack's input (``with_embedding`` also appends ``e`` itself, as TS-VAD
   appends its i-vectors; off by default: it lets the network learn voices again);
4. with ``relative``, the cosine standardised over the example's frames (minus its mean, over
   its standard deviation) is appended too: unseen voices shift every cosine of a recording
   (two similar voices both score high), while the ranking of the frames within the recording
   still tells the target from the others.

Only the comparison depends on the enrollment, so a voice never heard in training is handled as
well as the encoder tells voices apart. The frame and enrollment embeddings are also returned for
an auxiliary speaker loss (``loss_conf.speaker_contrastive``: InfoNCE of target frames against the
enrollments of the batch), which trains the encoder to tell voices apart directly.

Padding: padded frames are zeroed before every convolution, so a sequence's embeddings do not
depend on how much padding follows it (zero padding of the convolution equals the padding of a
batch).
"""

from __future__ import annotations

import logging
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from espnet2_tsdia.layers.mask import lengths_to_mask

logger = logging.getLogger(__name__)


def standardise(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """(B, T, 1) values minus their mean over the real frames, over their standard deviation
    (floored at ``eps``); 0 at padded frames."""
    n = mask.sum(1, keepdim=True).clamp_min(1).to(x.dtype)
    mean = (x * mask).sum(1, keepdim=True) / n
    var = (((x - mean) * mask) ** 2).sum(1, keepdim=True) / n
    return ((x - mean) / var.sqrt().clamp_min(eps)).masked_fill(~mask, 0.0)


class FrameSpeakerEncoder(nn.Module):
    """Features -> L2-normalised frame speaker embeddings: (B, T, F), (B,) -> (B, T, dim).

    Args:
        input_size: feature dimension F.
        dim: embedding dimension.
        num_layers: residual convolution blocks (0: a per-frame MLP of the projection alone).
        kernel_size: odd temporal kernel of each convolution.
        dropout: dropout after each convolution.
    """

    def __init__(
        self, *, input_size: int, dim: int = 64, num_layers: int = 2, kernel_size: int = 3, dropout: float = 0.1
    ):
        super().__init__()
        if input_size < 1 or dim < 1:
            raise ValueError(f"input_size and dim must be >= 1, got {input_size}, {dim}")
        if num_layers < 0:
            raise ValueError(f"num_layers must be >= 0, got {num_layers}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {kernel_size}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.input = nn.Linear(input_size, dim)
        self.convs = nn.ModuleList(
            nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2) for _ in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)
        self.output = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        mask = lengths_to_mask(lens, x.size(1))[..., None]
        h = self.input(x).masked_fill(~mask, 0.0)
        for conv in self.convs:
            y = F.gelu(conv(h.transpose(1, 2)).transpose(1, 2))
            h = (h + self.dropout(y)).masked_fill(~mask, 0.0)
        z = F.normalize(self.output(self.norm(h)), dim=-1)
        return z.masked_fill(~mask, 0.0)


class SpeakerSimilarity(nn.Module):
    """Conditioning of a stack's mixture input on its agreement with the enrollment (module doc).

    Args:
        input_size: feature dimension F.
        output_size: width of the stack the conditioning is added to.
        dim: speaker embedding dimension.
        num_layers: convolution blocks of the frame speaker encoder.
        kernel_size: their temporal kernel (odd).
        dropout: dropout in the encoder.
        with_embedding: also feed the enrollment embedding itself.
        relative: also feed the cosine standardised over the example's frames.
    """

    def __init__(
        self,
        *,
        input_size: int,
        output_size: int,
        dim: int = 64,
        num_layers: int = 2,
        kernel_size: int = 3,
        dropout: float = 0.1,
        with_embedding: bool = False,
        relative: bool = False,
    ):
        super().__init__()
        if output_size < 1:
            raise ValueError(f"output_size must be >= 1, got {output_size}")
        self.encoder = FrameSpeakerEncoder(
            input_size=input_size, dim=dim, num_layers=num_layers, kernel_size=kernel_size, dropout=dropout
        )
        self.with_embedding = with_embedding
        self.relative = relative
        self.project = nn.Linear(dim + 1 + (dim if with_embedding else 0) + int(relative), output_size)

    def enrollment_embedding(self, enroll: torch.Tensor, enroll_lens: torch.Tensor) -> torch.Tensor:
        """(B, E, F), (B,) -> (B, dim) normalised mean of the frame embeddings."""
        z = self.encoder(enroll, enroll_lens)
        return F.normalize(z.sum(1) / enroll_lens.clamp_min(1)[:, None].to(z.dtype), dim=-1)

    def forward(
        self, feats: torch.Tensor, feats_lens: torch.Tensor, enroll: torch.Tensor, enroll_lens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Args: feats (B, T, F), feats_lens (B,), enroll (B, E, F), enroll_lens (B,).

        Returns:
            conditioning (B, T, output_size) (0 at padded frames), frame embeddings z (B, T, dim),
            enrollment embeddings e (B, dim).
        """
        z = self.encoder(feats, feats_lens)
        e = self.enrollment_embedding(enroll, enroll_lens)
        agree = z * e[:, None, :]
        cos = agree.sum(-1, keepdim=True)
        parts = [agree, cos]
        if self.with_embedding:
            parts.append(e[:, None, :].expand_as(z))
        mask = lengths_to_mask(feats_lens, feats.size(1))[..., None]
        if self.relative:
            parts.append(standardise(cos, mask))
        cond = self.project(torch.cat(parts, dim=-1)).masked_fill(~mask, 0.0)
        return cond, z, e
