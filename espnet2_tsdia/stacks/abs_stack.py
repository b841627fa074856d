"""Interface of the stacks that the model types use as encoder and as decoder."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional, Tuple

import torch
from torch import nn

from espnet2_tsdia.layers.attention import ProjectionRedraws


class AbsStack(ProjectionRedraws, nn.Module, ABC):
    """A stack over (B, T, D) frames with lengths, optionally cross-attending to a memory.

    The same class serves as encoder and as decoder (the ESPnet registries ``encoder`` and
    ``decoder``); the model type decides the role and its defaults
    (:data:`espnet2_tsdia.networks.registry.MODEL_STACKS`).

    Attributes:
        causal: frame t attends only to frames <= t.
        use_cross_attention: every block also attends to a memory; forward then needs one.
    """

    causal: bool
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
        """Args: x (B, T, D), x_lens (B,), memory (B, S, D) and memory_lens (B,) exactly when
        ``use_cross_attention``. Returns (y (B, T, D), y_lens (B,))."""
