"""Normalisation choices of the residual branches: LayerNorm, ScaleNorm, or ReZero (no norm)."""

from __future__ import annotations

import logging

import torch
from torch import nn

logger = logging.getLogger(__name__)


class ScaleNorm(nn.Module):
    """ScaleNorm (Nguyen & Salazar, 2019): ``g * x / max(||x||, eps)``, one learnable scalar g.

    Args:
        d_model: feature dimension D (g starts at sqrt(D), so outputs start at unit RMS).
        eps: floor of the norm.
    """

    def __init__(self, *, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.g = nn.Parameter(torch.tensor(float(d_model) ** 0.5))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., D)."""
        return self.g * x / x.norm(dim=-1, keepdim=True).clamp_min(self.eps)


class ReZero(nn.Module):
    """ReZero (Bachlechner et al., 2021): scale a residual branch by a learnable scalar that
    starts at 0, so every block starts as the identity; used with no normalisation."""

    def __init__(self):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., D)."""
        return self.alpha * x


def check_norm_options(*, use_rezero: bool, use_scalenorm: bool) -> None:
    """ReZero means no normalisation at all, so it cannot be combined with ScaleNorm."""
    if use_rezero and use_scalenorm:
        raise ValueError(
            "use_rezero and use_scalenorm exclude each other (ReZero uses no norm), got "
            f"use_rezero={use_rezero}, use_scalenorm={use_scalenorm}"
        )


def build_norm(*, d_model: int, use_rezero: bool = False, use_scalenorm: bool = False) -> nn.Module:
    """The pre-norm of a residual branch: Identity for ReZero, ScaleNorm, or LayerNorm."""
    check_norm_options(use_rezero=use_rezero, use_scalenorm=use_scalenorm)
    if use_rezero:
        return nn.Identity()
    if use_scalenorm:
        return ScaleNorm(d_model=d_model)
    return nn.LayerNorm(d_model)


def build_residual_scale(*, use_rezero: bool = False) -> nn.Module:
    """The scale of a residual branch: a :class:`ReZero` scalar, or Identity."""
    return ReZero() if use_rezero else nn.Identity()
