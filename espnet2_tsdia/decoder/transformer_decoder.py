"""Transformer decoder stack: causal self-attention, optional cross-attention to a memory."""

from __future__ import annotations

import logging
from typing import Optional, Tuple

import torch

from espnet2_tsdia.decoder.abs_decoder import AbsDecoder
from espnet2_tsdia.layers.transformer_block import TransformerLayers, check_transformer_options

logger = logging.getLogger(__name__)


class TransformerDecoderStack(AbsDecoder):
    """Pre-norm transformer stack; the constructor is the plan's ``decoder.*`` checklist.

    Causal by default (frame t sees frames <= t: online capable). With
    ``use_cross_attention`` every block also attends to a memory (the encoded enrollment);
    that attention is never causal (``causal_linear`` uses the ``linear`` kernel there).
    ``decoder.num_classes`` belongs to the network's head, not to the stack.

    Args:
        d_model, num_layers, num_heads, attention_type, nb_features, activation, use_rezero,
            use_scalenorm, feature_redraw_interval, auto_check_redraw, d_ff, dropout,
            fixed_projection: as :class:`~espnet2_tsdia.encoder.transformer_encoder.TransformerEncoderStack`.
        use_cross_attention: add cross-attention; forward then needs ``memory``.
        causal: frame t attends only to frames <= t (``linear`` needs causal=False; use
            ``causal_linear``).
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
        use_cross_attention: bool = False,
        use_rezero: bool = False,
        use_scalenorm: bool = False,
        feature_redraw_interval: Optional[int] = None,
        auto_check_redraw: bool = True,
        d_ff: float = 4.0,
        dropout: float = 0.1,
        fixed_projection: bool = False,
        causal: bool = True,
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
        self.use_cross_attention = use_cross_attention
        self.layers = TransformerLayers(
            num_layers=num_layers,
            use_cross_attention=use_cross_attention,
            auto_check_redraw=auto_check_redraw,
            fixed_projection=fixed_projection,
            **options,
        )

    def output_size(self) -> int:
        return self._output_size

    def forward(
        self,
        x: torch.Tensor,
        x_lens: torch.Tensor,
        memory: Optional[torch.Tensor] = None,
        memory_lens: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Args: x (B, T, D), x_lens (B,), memory (B, S, D) and memory_lens (B,) exactly when
        ``use_cross_attention``. Returns (y (B, T, D), x_lens); padded frames of y are 0."""
        if self.use_cross_attention and (memory is None or memory_lens is None):
            raise ValueError("use_cross_attention=True: forward needs memory and memory_lens")
        if not self.use_cross_attention and memory is not None:
            raise ValueError("use_cross_attention=False: this decoder takes no memory")
        return self.layers(x, x_lens, memory, memory_lens), x_lens

    def maybe_redraw(self) -> bool:
        return self.layers.maybe_redraw()

    def redraw_projections(self) -> int:
        return self.layers.redraw_projections()
