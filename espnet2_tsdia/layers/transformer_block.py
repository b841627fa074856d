"""Pre-norm transformer block and the layer stack shared by the encoder and decoder stacks."""

from __future__ import annotations

import logging
from typing import Optional

import torch
from torch import nn

from espnet2_tsdia.layers.attention import (
    CROSS_ATTENTION_TYPE,
    MultiHeadAttention,
    check_attention_type,
    favor_kernels,
)
from espnet2_tsdia.layers.feed_forward import FeedForward, check_activation
from espnet2_tsdia.layers.mask import lengths_to_mask
from espnet2_tsdia.layers.norm import build_norm, build_residual_scale, check_norm_options

logger = logging.getLogger(__name__)


def check_transformer_options(
    *,
    d_model: int,
    num_layers: int,
    num_heads: int,
    attention_type: str,
    activation: str,
    causal: bool,
    use_rezero: bool,
    use_scalenorm: bool,
    d_ff: float,
    dropout: float,
    nb_features: Optional[int],
    feature_redraw_interval: Optional[int],
) -> None:
    """Validate a stack configuration before anything is built; ValueError names the values."""
    if d_model < 1 or num_heads < 1 or d_model % num_heads != 0:
        raise ValueError(f"d_model must be divisible by num_heads, got d_model={d_model}, num_heads={num_heads}")
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    check_attention_type(attention_type)
    check_activation(activation)
    check_norm_options(use_rezero=use_rezero, use_scalenorm=use_scalenorm)
    if attention_type == "linear" and causal:
        raise ValueError(
            "attention_type='linear' attends to all frames; with causal=True use attention_type='causal_linear'"
        )
    if attention_type == "causal_linear" and not causal:
        raise ValueError(
            "attention_type='causal_linear' is causal; it needs causal=True "
            "(use attention_type='linear' for a bidirectional stack)"
        )
    if d_ff <= 0:
        raise ValueError(f"d_ff is a positive multiplier of d_model, got {d_ff}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if nb_features is not None and nb_features < 1:
        raise ValueError(f"nb_features must be >= 1 or None, got {nb_features}")
    if feature_redraw_interval is not None and feature_redraw_interval < 1:
        raise ValueError(f"feature_redraw_interval must be >= 1 or None, got {feature_redraw_interval}")


class TransformerBlock(nn.Module):
    """Self-attention, optional cross-attention and feed-forward, each a pre-norm residual.

    ``x = x + scale(dropout(sublayer(norm(x))))`` with norm = LayerNorm, ScaleNorm, or none
    under ReZero (then scale is a learnable scalar starting at 0; Identity otherwise).
    Dropout acts on the sublayer outputs and the FFN hidden units; there is no dropout on
    attention weights (the linear kernels never form them).

    Args:
        d_model, num_heads, attention_type, causal, nb_features, feature_redraw_interval,
            auto_check_redraw, fixed_projection, chunk_size: see :class:`MultiHeadAttention`.
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
        nb_features: Optional[int] = None,
        activation: str = "relu",
        d_ff: float = 4.0,
        dropout: float = 0.1,
        use_rezero: bool = False,
        use_scalenorm: bool = False,
        feature_redraw_interval: Optional[int] = None,
        auto_check_redraw: bool = True,
        fixed_projection: bool = False,
        chunk_size: int = 128,
    ):
        super().__init__()
        favor = dict(
            nb_features=nb_features,
            feature_redraw_interval=feature_redraw_interval,
            auto_check_redraw=auto_check_redraw,
            fixed_projection=fixed_projection,
            chunk_size=chunk_size,
        )
        norm = dict(d_model=d_model, use_rezero=use_rezero, use_scalenorm=use_scalenorm)
        self.self_attn = MultiHeadAttention(
            d_model=d_model, num_heads=num_heads, attention_type=attention_type, causal=causal, **favor
        )
        self.norm_self = build_norm(**norm)
        self.scale_self = build_residual_scale(use_rezero=use_rezero)
        self.use_cross_attention = use_cross_attention
        if use_cross_attention:
            self.cross_attn = MultiHeadAttention(
                d_model=d_model,
                num_heads=num_heads,
                attention_type=CROSS_ATTENTION_TYPE[attention_type],
                causal=False,
                **favor,
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


class TransformerLayers(nn.Module):
    """``num_layers`` blocks and a final norm; padded frames are reset to 0 after every block.

    Resetting padding keeps it finite and identical whatever the input held there, so
    padded frames can never reach real ones (a NaN in a masked value would, through 0 * NaN).
    Constructor arguments are those of :class:`TransformerBlock` plus ``num_layers``.
    """

    def __init__(self, *, num_layers: int, **block_options):
        super().__init__()
        self.blocks = nn.ModuleList(TransformerBlock(**block_options) for _ in range(num_layers))
        self.final_norm = build_norm(
            d_model=block_options["d_model"],
            use_rezero=block_options.get("use_rezero", False),
            use_scalenorm=block_options.get("use_scalenorm", False),
        )

    def forward(
        self,
        x: torch.Tensor,
        x_lens: torch.Tensor,
        memory: Optional[torch.Tensor] = None,
        memory_lens: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Args: x (B, T, D); x_lens (B,); memory (B, S, D); memory_lens (B,). -> (B, T, D)."""
        pad = ~lengths_to_mask(x_lens, x.size(1))[..., None]
        x = x.masked_fill(pad, 0.0)
        for block in self.blocks:
            x = block(x, x_lens, memory, memory_lens).masked_fill(pad, 0.0)
        return self.final_norm(x).masked_fill(pad, 0.0)

    def maybe_redraw(self) -> bool:
        """Count one training step in every FAVOR+ kernel; True if any redrew."""
        return any([kernel.maybe_redraw() for kernel in favor_kernels(self)])

    def redraw_projections(self) -> int:
        """Redraw every FAVOR+ projection now (except fixed ones); returns how many."""
        return sum(kernel.redraw_projection() for kernel in favor_kernels(self))
