"""Transformer encoder stack (bidirectional by default)."""

from __future__ import annotations

import logging
from typing import Optional, Tuple

import torch

from espnet2_tsdia.encoder.abs_encoder import AbsEncoder
from espnet2_tsdia.layers.transformer_block import TransformerLayers, check_transformer_options

logger = logging.getLogger(__name__)


class TransformerEncoderStack(AbsEncoder):
    """Pre-norm transformer stack; the constructor is the plan's ``encoder.*`` checklist.

    There is no positional encoding (as in EEND): frames carry +-7 frames of spliced context,
    and the networks mark enrollment vs mixture frames with a segment embedding.

    Args:
        d_model: model dimension D.
        num_layers: number of blocks.
        num_heads: attention heads; D must be divisible by it.
        attention_type: softmax, linear or causal_linear (the last needs causal=True).
        nb_features: FAVOR+ random features; None -> int(d_head * ln(d_head)).
        activation: relu, gelu, silu, reglu, geglu, swiglu (case-insensitive).
        use_rezero: ReZero residuals, no norm.
        use_scalenorm: ScaleNorm instead of LayerNorm.
        feature_redraw_interval: redraw FAVOR+ projections every this many training steps;
            None -> never.
        auto_check_redraw: each attention layer counts its own training forward passes and
            redraws when due; False -> only when the owner calls :meth:`maybe_redraw`.
        d_ff: FFN hidden size as a multiple of D (plan ``global_config.d_ff``).
        dropout: residual and FFN dropout (plan ``global_config.dropout``).
        fixed_projection: never redraw the FAVOR+ projections.
        causal: frame t attends only to frames <= t.
    """

    def __init__(
        self,
        *,
        d_model: int = 256,
        num_layers: int = 4,
        num_heads: int = 4,
        attention_type: str = "softmax",
        nb_features: Optional[int] = None,
        activation: str = "relu",
        use_rezero: bool = False,
        use_scalenorm: bool = False,
        feature_redraw_interval: Optional[int] = None,
        auto_check_redraw: bool = True,
        d_ff: float = 4.0,
        dropout: float = 0.1,
        fixed_projection: bool = False,
        causal: bool = False,
    ):
        super().__init__()
        options = dict(
            d_model=d_model,
            num_heads=num_heads,
            attention_type=attention_type,
            causal=causal,
            nb_features=nb_features,
            activation=activation,
            d_ff=d_ff,
            dropout=dropout,
            use_rezero=use_rezero,
            use_scalenorm=use_scalenorm,
            feature_redraw_interval=feature_redraw_interval,
        )
        check_transformer_options(num_layers=num_layers, **options)
        self._output_size = d_model
        self.causal = causal
        self.attention_type = attention_type
        self.layers = TransformerLayers(
            num_layers=num_layers,
            auto_check_redraw=auto_check_redraw,
            fixed_projection=fixed_projection,
            **options,
        )

    def output_size(self) -> int:
        return self._output_size

    def forward(self, x: torch.Tensor, x_lens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Args: x (B, T, D), x_lens (B,). Returns (y (B, T, D), x_lens); padded frames of y are 0."""
        return self.layers(x, x_lens), x_lens

    def maybe_redraw(self) -> bool:
        return self.layers.maybe_redraw()

    def redraw_projections(self) -> int:
        return self.layers.redraw_projections()
