"""The transformer stack: one class for the encoder and the decoder of every model type."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn

from espnet2_tsdia.layers.attention import FavorOptions, check_attention_type
from espnet2_tsdia.layers.feed_forward import check_activation
from espnet2_tsdia.layers.mask import lengths_to_mask
from espnet2_tsdia.layers.norm import build_norm, check_norm_options
from espnet2_tsdia.layers.transformer_block import TransformerBlock
from espnet2_tsdia.stacks.abs_stack import AbsStack

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
) -> None:
    """Validate a stack configuration before anything is built; ValueError names the values.

    The FAVOR+ settings are validated by :class:`~espnet2_tsdia.layers.attention.FavorOptions`.
    """
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


def _load_layout_before_the_fold(
    module: nn.Module,
    state_dict: Dict[str, Any],
    prefix: str,
    local_metadata: Dict[str, Any],
    strict: bool,
    missing_keys: List[str],
    unexpected_keys: List[str],
    error_msgs: List[str],
) -> None:
    """Checkpoints written when the encoder and decoder stacks were two classes hold the
    blocks and the final norm under ``<prefix>layers.``; they load into ``<prefix>``."""
    old = prefix + "layers."
    for key in [k for k in state_dict if k.startswith(old)]:
        state_dict[prefix + key[len(old) :]] = state_dict.pop(key)


class TransformerStack(AbsStack):
    """Pre-norm transformer stack; the constructor is the plan's ``encoder.*`` / ``decoder.*``
    checklist, and the ESPnet registries ``encoder`` and ``decoder`` both build this class.

    There is no positional encoding (as in EEND): frames carry +-7 frames of spliced context,
    and the networks mark enrollment vs mixture frames with a segment embedding. Padded frames
    are reset to 0 after every block, so they stay finite and identical whatever the input
    held there and can never reach real ones (a NaN in a masked value would, through 0 * NaN).

    The defaults are the encoder's (bidirectional, no cross-attention); the model types give
    their decoder ``causal=True`` (online capable) and, in ``encoder_decoder``,
    ``use_cross_attention=True`` (:data:`espnet2_tsdia.networks.registry.MODEL_STACKS`).

    Args:
        d_model: model dimension D.
        num_layers: number of blocks.
        num_heads: attention heads; D must be divisible by it.
        attention_type: softmax, linear or causal_linear (the last needs causal=True).
        nb_features: FAVOR+ random features; None -> int(d_head * ln(d_head)).
        activation: relu, gelu, silu, reglu, geglu, swiglu (case-insensitive).
        use_cross_attention: every block also attends to a memory (the encoded enrollment);
            that attention is never causal (``causal_linear`` uses the ``linear`` kernel there),
            and forward then needs ``memory``.
        use_rezero: ReZero residuals, no norm.
        use_scalenorm: ScaleNorm instead of LayerNorm.
        feature_redraw_interval: redraw FAVOR+ projections every this many training steps;
            None -> never.
        auto_check_redraw: each attention layer counts its own training forward passes and
            redraws when due; False -> only when the owner calls
            :meth:`maybe_redraw_projections`.
        d_ff: FFN hidden size as a multiple of D (plan ``global_config.d_ff``).
        dropout: residual and FFN dropout (plan ``global_config.dropout``).
        fixed_projection: never redraw the FAVOR+ projections.
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
        causal: bool = False,
    ):
        super().__init__()
        check_transformer_options(
            d_model=d_model,
            num_layers=num_layers,
            num_heads=num_heads,
            attention_type=attention_type,
            activation=activation,
            causal=causal,
            use_rezero=use_rezero,
            use_scalenorm=use_scalenorm,
            d_ff=d_ff,
            dropout=dropout,
        )
        # Validates nb_features and feature_redraw_interval.
        favor = FavorOptions(
            nb_features=nb_features,
            feature_redraw_interval=feature_redraw_interval,
            auto_check_redraw=auto_check_redraw,
            fixed_projection=fixed_projection,
        )
        self._output_size = d_model
        self.causal = causal
        self.attention_type = attention_type
        self.use_cross_attention = use_cross_attention
        self.blocks = nn.ModuleList(
            TransformerBlock(
                d_model=d_model,
                num_heads=num_heads,
                attention_type=attention_type,
                causal=causal,
                use_cross_attention=use_cross_attention,
                favor=favor,
                activation=activation,
                d_ff=d_ff,
                dropout=dropout,
                use_rezero=use_rezero,
                use_scalenorm=use_scalenorm,
            )
            for _ in range(num_layers)
        )
        self.final_norm = build_norm(d_model=d_model, use_rezero=use_rezero, use_scalenorm=use_scalenorm)
        self.register_load_state_dict_pre_hook(_load_layout_before_the_fold)

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
            raise ValueError("use_cross_attention=False: this stack takes no memory")
        pad = ~lengths_to_mask(x_lens, x.size(1))[..., None]
        x = x.masked_fill(pad, 0.0)
        for block in self.blocks:
            x = block(x, x_lens, memory, memory_lens).masked_fill(pad, 0.0)
        return self.final_norm(x).masked_fill(pad, 0.0), x_lens
