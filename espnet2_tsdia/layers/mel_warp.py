"""Vocal-tract-length perturbation of stored log-mel features: new voices for every example.

A target-speaker model trained on a few dozen voices can learn those voices instead of the task.
Warping the mel axis by a factor ``alpha`` (VTLP, Jaitly & Hinton 2013) moves the formants as a
longer or shorter vocal tract would: the same speaker sounds like another one. Applied with ONE
factor to the whole example (the mixture and its enrollment), it keeps the relation the model has
to learn (the enrolled voice is the target's voice) while every example brings its own set of
voices, so memorising voices stops paying.

Features are the standard frontend's (``espnet2_tsdia.frontend.fbank``): ``2 * context + 1``
spliced frames of ``n_mels`` log-mel bands, context-major. Band ``k`` of the warped frame is the
linear interpolation of the original bands at ``k / alpha`` (clamped to the band range): alpha > 1
stretches the spectrum upwards (a shorter tract), alpha < 1 compresses it.
"""

from __future__ import annotations

import math
from typing import Sequence, Tuple

import torch
from torch import nn


def warp_mel(feats: torch.Tensor, alpha: torch.Tensor, *, n_mels: int) -> torch.Tensor:
    """Warp every ``n_mels``-band block of ``feats`` (B, T, K * n_mels) by the factor ``alpha`` (B,)."""
    if feats.size(-1) % n_mels:
        raise ValueError(f"feature dim {feats.size(-1)} is not a multiple of n_mels={n_mels}")
    b, t, d = feats.shape
    x = feats.reshape(b, t, d // n_mels, n_mels)
    pos = (torch.arange(n_mels, device=feats.device, dtype=feats.dtype)[None, :] / alpha[:, None]).clamp(0, n_mels - 1)
    lo = pos.floor().long().clamp_max(n_mels - 2) if n_mels > 1 else pos.floor().long()
    hi = (lo + 1).clamp_max(n_mels - 1)
    w = (pos - lo.to(pos.dtype))[:, None, None, :]
    idx_lo = lo[:, None, None, :].expand(b, t, x.size(2), n_mels)
    idx_hi = hi[:, None, None, :].expand(b, t, x.size(2), n_mels)
    y = x.gather(-1, idx_lo) * (1 - w) + x.gather(-1, idx_hi) * w
    return y.reshape(b, t, d)


class MelWarp(nn.Module):
    """Training-time VTLP of an example's mixture and enrollment features with one factor each.

    Args:
        warp_range: ``(low, high)``: the factor is drawn log-uniformly in it per example.
        n_mels: bands per spliced frame (23 for the standard frontend).
        probability: share of the examples that are warped (the others keep alpha = 1).
    """

    def __init__(self, *, warp_range: Sequence[float] = (0.85, 1.18), n_mels: int = 23, probability: float = 1.0):
        super().__init__()
        lo, hi = (float(v) for v in warp_range) if len(warp_range) == 2 else (math.nan, math.nan)
        if not (0.5 <= lo <= hi <= 2.0):
            raise ValueError(f"warp_range must be [low, high] with 0.5 <= low <= high <= 2.0, got {list(warp_range)}")
        if n_mels < 1:
            raise ValueError(f"n_mels must be >= 1, got {n_mels}")
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {probability}")
        self.warp_range: Tuple[float, float] = (lo, hi)
        self.n_mels = n_mels
        self.probability = probability

    def extra_repr(self) -> str:
        return f"warp_range={self.warp_range}, n_mels={self.n_mels}, probability={self.probability}"

    def draw(self, batch: int, device: torch.device) -> torch.Tensor:
        """(B,) factors: log-uniform in the range, 1 for the examples left alone."""
        lo, hi = (math.log(v) for v in self.warp_range)
        alpha = torch.exp(torch.empty(batch, device=device).uniform_(lo, hi))
        keep = torch.rand(batch, device=device) >= self.probability
        return alpha.masked_fill(keep, 1.0)

    def forward(self, feats: torch.Tensor, enroll: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Warp (B, T, D) mixture and (B, E, D) enrollment features with the same factor per example;
        identity in eval mode."""
        if not self.training:
            return feats, enroll
        alpha = self.draw(feats.size(0), feats.device).to(feats.dtype)
        return warp_mel(feats, alpha, n_mels=self.n_mels), warp_mel(enroll, alpha, n_mels=self.n_mels)
