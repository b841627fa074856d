"""Interface of the encoder stacks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Tuple

import torch
from torch import nn


class AbsEncoder(nn.Module, ABC):
    """A stack mapping (B, T, D) frames with lengths to (B, T, D) frames with lengths."""

    @abstractmethod
    def output_size(self) -> int:
        """Feature dimension D of the outputs."""

    @abstractmethod
    def forward(self, x: torch.Tensor, x_lens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Args: x (B, T, D), x_lens (B,). Returns (y (B, T, D), y_lens (B,))."""

    def maybe_redraw(self) -> bool:
        """Count one training step for random-feature redraws; True if any redrew."""
        return False

    def redraw_projections(self) -> int:
        """Redraw random-feature projections now; returns how many."""
        return 0
