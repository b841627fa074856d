"""Pre-norm transformer block: the repeated unit of :class:`~espnet2_tsdia.stacks.transformer.TransformerStack`."""

from __future__ import annotations

import logging
from typing import Optional

import torch
from torch import nn

from espnet2_tsdia.layers.attention import CROSS_ATTENTION_TYPE, FavorOptions, MultiHeadAttention
from espnet2_tsdia.layers.feed_forward import FeedForward
from espnet2_tsdia.layers.norm import build_norm, build_residual_scale

logger = logging.getLogger(__name__)


class TransformerBlock(nn.Module):
    """Self-attention, optional cross-attention and feed-forward, each a pre-norm residual.

    ``x = x + scale(dropout(sublayer(norm(x))))`` with norm = LayerNorm, ScaleNorm, or none
    under ReZero (then scale is a learnable scalar starting at 0; Identity otherwise).
    Dropout acts on the sublayer outputs and the FFN hidden units; there is no dropout on
    attention weights (the linear kernels never form them).

    Args:
        d_model, num_heads, attention_type, causal, favor: see :class:`MultiHeadAttention`.
        use_cross_attention: add a cross-attention sublayer over a memory sequence; it is
            never causal (``causal_linear`` uses the ``linear`` kernel there).
        activation, d_ff: see :class:`FeedForward`.
        dropout: residual and FFN dropout.
        use_rezero, use_scalenorm: see :mod:`espnet2_tsdia.layers.norm`.
    """

    def __init__(
        self,
        *,
        d_model: int,
        num_heads: int,
        attention_type: str = "softmax",
        causal: bool = False,
        use_cross_attention: bool = False,
        favor: FavorOptions = FavorOptions(),
        activation: str = "relu",
        d_ff: float = 4.0,
        dropout: float = 0.1,
        use_rezero: bool = False,
        use_scalenorm: bool = False,
    ):
        super().__init__()
        attention = dict(d_model=d_model, num_heads=num_heads, favor=favor)
        norm = dict(d_model=d_model, use_rezero=use_rezero, use_scalenorm=use_scalenorm)
        self.self_attn = MultiHeadAttention(attention_type=attention_type, causal=causal, **attention)
        self.norm_self = build_norm(**norm)
        self.scale_self = build_residual_scale(use_rezero=use_rezero)
        self.use_cross_attention = use_cross_attention
        if use_cross_attention:
            self.cross_attn = MultiHeadAttention(
                attention_type=CROSS_ATTENTION_TYPE[attention_type], causal=False, **attention
            )
            self.norm_cross = build_norm(**norm)
            self.scale_cross = build_residual_scale(use_rezero=use_rezero)
        self.ffn = FeedForward(d_model=d_model, d_ff=d_ff, activation=activation, dropout=dropout)
        self.norm_ffn = build_norm(**norm)
        self.scale_ffn = build_residual_scale(use_rezero=use_rezero)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        x_lens: torch.Tensor,
        memory: Optional[torch.Tensor] = None,
        memory_lens: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Args: x (B, T, D); x_lens (B,); memory (B, S, D) and memory_lens (B,) when the
        block has cross-attention. Returns (B, T, D)."""
        x = x + self.scale_self(self.dropout(self.self_attn(self.norm_self(x), x_lens)))
        if self.use_cross_attention:
            h = self.cross_attn(self.norm_cross(x), x_lens, memory, memory_lens)
            x = x + self.scale_cross(self.dropout(h))
        return x + self.scale_ffn(self.dropout(self.ffn(self.norm_ffn(x))))
