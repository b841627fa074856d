"""Interface of the decoder stacks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional, Tuple

import torch
from torch import nn


class AbsDecoder(nn.Module, ABC):
    """A (usually causal) stack over (B, T, D) frames, optionally cross-attending to a memory."""

    use_cross_attention: bool

    @abstractmethod
    def output_size(self) -> int:
        """Feature dimension D of the outputs."""

    @abstractmethod
    def forward(
        self,
        x: torch.Tensor,
        x_lens: torch.Tensor,
        memory: Optional[torch.Tensor] = None,
        memory_lens: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Args: x (B, T, D), x_lens (B,), memory (B, S, D), memory_lens (B,).
        Returns (y (B, T, D), y_lens (B,))."""

    def maybe_redraw(self) -> bool:
        """Count one training step for random-feature redraws; True if any redrew."""
        return False

    def redraw_projections(self) -> int:
        """Redraw random-feature projections now; returns how many."""
        return 0
