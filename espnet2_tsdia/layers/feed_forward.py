"""Position-wise feed-forward network with plain and gated (GLU-family) activations."""

from __future__ import annotations

import logging
from typing import Callable, Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)

# name -> (activation, gated). Gated variants follow Shazeer (2020), "GLU Variants Improve
# Transformer": FFN(x) = (act(x W) * (x V)) W2.
ACTIVATIONS: Dict[str, Tuple[Callable[[torch.Tensor], torch.Tensor], bool]] = {
    "relu": (F.relu, False),
    "gelu": (F.gelu, False),
    "silu": (F.silu, False),
    "reglu": (F.relu, True),
    "geglu": (F.gelu, True),
    "swiglu": (F.silu, True),
}


def check_activation(activation: str) -> str:
    """Lower-cased registered name (the plan writes REGLU, GELU, ...), else ValueError."""
    name = activation.lower()
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {sorted(ACTIVATIONS)}")
    return name


def hidden_size(*, d_model: int, d_ff: float, activation: str) -> int:
    """Hidden width of the FFN.

    Plain activations: ``round(d_ff * d_model)``. Gated (GLU) variants have two input
    matrices, so their width is scaled by 2/3 (``round(2/3 * d_ff * d_model)``), as in
    Shazeer (2020): every activation then has the same parameter count and compute for a given
    ``d_ff``, so comparing activations compares like with like.
    """
    _, gated = ACTIVATIONS[check_activation(activation)]
    width = d_ff * d_model * (2.0 / 3.0 if gated else 1.0)
    return max(1, int(round(width)))


class FeedForward(nn.Module):
    """Linear -> activation (optionally gated) -> dropout -> linear.

    Args:
        d_model: input and output dimension D.
        d_ff: hidden-size multiplier of D (plan: ``global_config.d_ff: 4``); see
            :func:`hidden_size` for the 2/3 scaling of gated variants.
        activation: relu, gelu, silu, reglu, geglu or swiglu (case-insensitive).
        dropout: dropout on the hidden activations.
    """

    def __init__(self, *, d_model: int, d_ff: float = 4.0, activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        name = check_activation(activation)
        if d_ff <= 0:
            raise ValueError(f"d_ff is a positive multiplier of d_model, got {d_ff}")
        self.act, self.gated = ACTIVATIONS[name]
        hidden = hidden_size(d_model=d_model, d_ff=d_ff, activation=name)
        self.w_in = nn.Linear(d_model, hidden * (2 if self.gated else 1))
        self.w_out = nn.Linear(hidden, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, D)."""
        h = self.w_in(x)
        if self.gated:
            gate, lin = h.chunk(2, dim=-1)
            h = self.act(gate) * lin
        else:
            h = self.act(h)
        return self.w_out(self.dropout(h))
