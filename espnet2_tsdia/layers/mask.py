"""Lengths <-> masks: the one place where frame validity is computed from lengths."""

from __future__ import annotations

import torch


def lengths_to_mask(lens: torch.Tensor, max_len: int) -> torch.Tensor:
    """Boolean validity mask from lengths.

    Args:
        lens: (B,) integer lengths.
        max_len: padded length T.

    Returns:
        (B, T) bool, True at real frames (t < lens[b]) and False at padding.
    """
    return torch.arange(max_len, device=lens.device)[None, :] < lens[:, None]
