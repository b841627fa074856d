"""Multi-head attention with three kernels: exact softmax, FAVOR+ linear and causal FAVOR+.

``attention_type`` picks the kernel from :data:`ATTENTION_TYPES`:

- ``softmax``: ``torch.nn.functional.scaled_dot_product_attention`` (flash kernel on CPU and
  GPU in torch 2.9; the (T x T) score matrix is never built here).
- ``linear``: Performer FAVOR+ (Choromanski et al., 2021) with positive orthogonal random
  features. Time and memory linear in T.
- ``causal_linear``: causal FAVOR+ by chunked prefix sums: a masked (chunk x chunk) product
  inside each chunk, and running sums of phi(k) v^T and phi(k) carried across chunks.

The three Performer defects that docs/design.md lists are avoided here:

1. padded keys get phi(k) = 0 exactly (their feature-map exponent is set to -inf, so exp
   gives 0 and no gradient), hence they never enter the normaliser; in the public code the
   keys are zeroed *before* the feature map, and phi(0) is not 0;
2. the numerical stabiliser subtracted inside exp is computed per sequence and per head over
   the real keys only (non-causal), or as a running maximum over past keys only (causal),
   never one scalar for the whole batch (early releases) nor a maximum that includes padded
   or future keys (performer-pytorch 1.1.4 takes it per sequence, but over padded keys, and
   in the causal path over future keys too);
3. the random projection is a persistent buffer (it is saved in the checkpoint) and is
   redrawn only in training mode, every ``feature_redraw_interval`` training forward passes,
   never in eval; the step counter is a Python int (no device sync per step).

Stabilisers cancel exactly between numerator and denominator, so the outputs equal the
unstabilised FAVOR+ estimator; no epsilon is added to the features (an epsilon of 1e-4 as
in the public code dominates the typical feature value ~1e-5 at d_head 64 and biases the
estimate toward uniform attention); the denominator is only clamped away from 0 for a query
that sees no real key at all.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Dict, Iterator, Optional, Type

import torch
import torch.nn.functional as F
from torch import nn

from espnet2_tsdia.layers.mask import lengths_to_mask

logger = logging.getLogger(__name__)

# A query that sees no real key has a zero denominator; clamp it so the output is 0, not NaN.
_MIN_DENOMINATOR = 1e-30


def default_nb_features(d_head: int) -> int:
    """Number of random features when none is given: ``int(d_head * ln(d_head))``.

    This is the Performer paper's setting (about d ln d features suffice for a uniformly
    small kernel error); 266 for d_head 64.
    """
    return max(1, int(d_head * math.log(d_head)))


def orthogonal_random_features(
    nb_features: int,
    d_head: int,
    *,
    generator: Optional[torch.Generator] = None,
    device: Optional[torch.device] = None,
) -> torch.Tensor:
    """Draw a (nb_features, d_head) matrix of orthogonal random features.

    Rows come in blocks of ``d_head`` mutually orthogonal directions (QR of a Gaussian
    matrix); each row is then given the norm of an independent Gaussian vector, so every row
    is marginally N(0, I) (the Performer's "ortho_scaling=0"), which keeps the FAVOR+
    estimator of the softmax kernel unbiased while orthogonality lowers its variance.

    Args:
        nb_features: number of rows m.
        d_head: dimension of each row.
        generator: optional RNG (tests); the global RNG otherwise.
        device: where to draw.

    Returns:
        (m, d_head) float32 tensor.
    """
    blocks = []
    for _ in range(math.ceil(nb_features / d_head)):
        gauss = torch.randn(d_head, d_head, generator=generator, device=device)
        q, _ = torch.linalg.qr(gauss)
        blocks.append(q.T)
    directions = torch.cat(blocks, dim=0)[:nb_features]
    norms = torch.randn(nb_features, d_head, generator=generator, device=device).norm(dim=1)
    return directions * norms[:, None]


@dataclass(frozen=True)
class FavorOptions:
    """Settings of the FAVOR+ kernels (ignored by ``softmax``).

    Args:
        nb_features: random features m; None -> :func:`default_nb_features`.
        feature_redraw_interval: redraw the projection every this many training forward
            passes; None -> never redraw.
        auto_check_redraw: True -> the kernel counts its own training forward passes and
            redraws when due; False -> it redraws only when its owner calls
            ``maybe_redraw()`` (counted) or ``redraw_projection()`` (forced).
        fixed_projection: True -> never redraw, whatever the other settings say.
        chunk_size: chunk length of the causal prefix sums.
    """

    nb_features: Optional[int] = None
    feature_redraw_interval: Optional[int] = None
    auto_check_redraw: bool = True
    fixed_projection: bool = False
    chunk_size: int = 128

    def __post_init__(self):
        if self.nb_features is not None and self.nb_features < 1:
            raise ValueError(f"nb_features must be >= 1 or None, got {self.nb_features}")
        if self.feature_redraw_interval is not None and self.feature_redraw_interval < 1:
            raise ValueError(f"feature_redraw_interval must be >= 1 or None, got {self.feature_redraw_interval}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")


class SoftmaxKernel(nn.Module):
    """Exact attention through ``scaled_dot_product_attention``.

    Args:
        d_head: per-head dimension (unused; kept for a uniform constructor).
        causal: mask future keys (``is_causal``).
        favor: unused.
    """

    def __init__(self, *, d_head: int, causal: bool = False, favor: FavorOptions = FavorOptions()):
        super().__init__()
        self.causal = causal

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        key_valid: Optional[torch.Tensor],
        suffix_padding: bool,
    ) -> torch.Tensor:
        """Args: q (B, H, T, d); k, v (B, H, S, d); key_valid (B, S) bool or None (all real);
        suffix_padding: padding only at the end of each key sequence. Returns (B, H, T, d)."""
        if key_valid is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        # Padded values may hold anything (even NaN); 0 * NaN would leak through the product.
        v = v.masked_fill(~key_valid[:, None, :, None], 0.0)
        if self.causal and suffix_padding:
            # With padding only at the end, a padded key j >= len is visible only to queries
            # t >= j, themselves padding: the causal mask alone suffices, no (T x S) mask.
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        mask = key_valid[:, None, None, :]
        if self.causal:
            t, s = q.size(-2), k.size(-2)
            causal = torch.ones(t, s, dtype=torch.bool, device=q.device).tril()
            mask = mask & causal  # arbitrary key mask + causal: (B, 1, T, S), the rare path
        # A query that sees no real key (a zero-length sequence or memory) would take a softmax
        # over nothing, NaN on some SDPA backends; it attends to the padded keys instead, whose
        # values are 0, so its output is 0, as with FAVOR+, and no gradient flows through it.
        mask = torch.where(mask.any(dim=-1, keepdim=True), mask, ~key_valid[:, None, None, :])
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


class FavorKernel(nn.Module):
    """Non-causal FAVOR+ with positive orthogonal random features.

    softmax(q k^T / sqrt(d)) v is approximated by phi(q) (phi(k)^T v) / phi(q) (phi(k)^T 1)
    with phi(x) = exp(W x - |x|^2 / 2) (x scaled by d^-1/4), W the (m, d) projection.

    Args:
        d_head: per-head dimension d.
        causal: must be False (use ``causal_linear``).
        favor: :class:`FavorOptions`.
    """

    def __init__(self, *, d_head: int, causal: bool = False, favor: FavorOptions = FavorOptions()):
        super().__init__()
        if causal and not isinstance(self, CausalFavorKernel):
            raise ValueError(
                "attention_type='linear' attends to all frames; with causal=True use attention_type='causal_linear'"
            )
        self.d_head = d_head
        self.nb_features = favor.nb_features or default_nb_features(d_head)
        self.feature_redraw_interval = favor.feature_redraw_interval
        self.auto_check_redraw = favor.auto_check_redraw
        self.fixed_projection = favor.fixed_projection
        self.chunk_size = favor.chunk_size
        self.steps_since_redraw = 0
        # Persistent: the projection is part of the model and travels in the checkpoint.
        self.register_buffer("projection", orthogonal_random_features(self.nb_features, d_head), persistent=True)

    @property
    def redraws_enabled(self) -> bool:
        """Whether training ever redraws the projection."""
        return not self.fixed_projection and self.feature_redraw_interval is not None

    @torch.no_grad()
    def redraw_projection(self) -> bool:
        """Draw a new projection now (no-op with ``fixed_projection``). Returns whether it did."""
        if self.fixed_projection:
            return False
        new = orthogonal_random_features(self.nb_features, self.d_head, device=self.projection.device)
        # In place, so holders of the buffer (DDP's buffer broadcast) see the new values.
        self.projection.copy_(new)
        self.steps_since_redraw = 0
        return True

    def maybe_redraw(self) -> bool:
        """Count one training step; redraw when ``feature_redraw_interval`` steps are reached.

        Does nothing in eval mode, with ``fixed_projection`` or without an interval. The
        counter is a Python int (reading a tensor counter would sync the device every step);
        it restarts at 0 when a model is rebuilt from a checkpoint.

        Returns:
            True when the projection was redrawn.
        """
        if not self.training or not self.redraws_enabled:
            return False
        self.steps_since_redraw += 1
        if self.steps_since_redraw >= self.feature_redraw_interval:
            return self.redraw_projection()
        return False

    def _exponents(self, x: torch.Tensor, valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Exponents w_j^T x' - |x'|^2 / 2 with x' = x d^-1/4: (B, H, T, d) -> (B, H, T, m).

        One GEMM computes both terms: [x, |x|^2] @ [d^-1/4 W, -d^-1/2 / 2]^T, so the
        gradient of the |x|^2 term comes out of the GEMM's backward instead of two more passes
        over the (T x m) tensor. ``matmul`` rather than einsum: its result is not an autograd
        view, and the in-place ops that follow would make the backward of a view clone and
        zero-fill the whole base (measured 20% slower). Frames where ``valid`` (B, T) is False
        get -inf, so their features exp(.) are exactly 0 and their gradient is 0.
        """
        scale = self.d_head**-0.25
        proj = self.projection.to(torch.float32) * scale
        proj = torch.cat([proj, proj.new_full((proj.size(0), 1), -0.5 * scale * scale)], dim=1)
        a = torch.matmul(torch.cat([x, (x * x).sum(-1, keepdim=True)], dim=-1), proj.T)
        if valid is not None:
            a.masked_fill_(~valid[:, None, :, None], float("-inf"))
        return a

    def _query_features(self, q: torch.Tensor) -> torch.Tensor:
        """phi(q) with a per-query stabiliser (it cancels in the ratio). (B, H, T, m)."""
        a = self._exponents(q)
        return a.sub_(a.amax(dim=-1, keepdim=True).detach()).exp_()

    def _prepare(self, q, k, v, key_valid):
        """Cast to float32, zero padded values (they may hold anything, and 0 * NaN is NaN),
        append a ones column to v so that one product gives numerator and denominator."""
        if self.auto_check_redraw:
            self.maybe_redraw()
        q, k, v = q.to(torch.float32), k.to(torch.float32), v.to(torch.float32)
        if key_valid is not None:
            v = v.masked_fill(~key_valid[:, None, :, None], 0.0)
        v = torch.cat([v, v.new_ones(v.shape[:-1] + (1,))], dim=-1)
        return q, k, v

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        key_valid: Optional[torch.Tensor],
        suffix_padding: bool,
    ) -> torch.Tensor:
        """Args: q (B, H, T, d); k, v (B, H, S, d); key_valid (B, S) bool or None (all real);
        suffix_padding: unused. Returns (B, H, T, d) in the dtype of v."""
        out_dtype = v.dtype
        q, k, v = self._prepare(q, k, v, key_valid)
        phi_q = self._query_features(q)
        a_k = self._exponents(k, key_valid)  # padded keys: -inf
        # Per sequence and head, over real keys only: (B, H, 1, 1); finite even with no real key.
        stab = a_k.amax(dim=(-2, -1), keepdim=True).clamp_min(torch.finfo(torch.float32).min)
        phi_k = a_k.sub_(stab.detach()).exp_()  # padded keys: exp(-inf) = 0
        kv = torch.matmul(phi_k.transpose(-1, -2), v)  # sum_s phi(k_s) [v_s, 1]^T: (B, H, m, e)
        out = torch.matmul(phi_q, kv)  # (B, H, T, e)
        return (out[..., :-1] / out[..., -1:].clamp_min(_MIN_DENOMINATOR)).to(out_dtype)


class CausalFavorKernel(FavorKernel):
    """Causal FAVOR+: output t attends to keys s <= t, computed by chunked prefix sums.

    Within a chunk of C frames a masked (C x C) product of features; across chunks, running
    sums S = sum_s phi(k_s) [v_s, 1]^T carried by a loop over chunks (T / C iterations of
    (m x d) updates, cheap). Memory O(T C + (T / C) m d); no custom kernel.

    Stabiliser: key s is scaled by exp(-c_s) with c_s the running maximum of the exponents
    of the real keys up to s (a causal quantity), and every sum is rescaled to the current
    running maximum, so all factors exp(c_s - c_t) are <= 1 and nothing after t is read.

    Args:
        d_head: per-head dimension d.
        causal: must be True.
        favor: :class:`FavorOptions` (``chunk_size`` is used here).
    """

    def __init__(self, *, d_head: int, causal: bool = True, favor: FavorOptions = FavorOptions()):
        if not causal:
            raise ValueError(
                "attention_type='causal_linear' is causal; it needs causal=True "
                "(use attention_type='linear' for a bidirectional stack)"
            )
        super().__init__(d_head=d_head, causal=causal, favor=favor)

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        key_valid: Optional[torch.Tensor],
        suffix_padding: bool,
    ) -> torch.Tensor:
        """Args: q (B, H, T, d); k, v (B, H, T, d) (self-attention: same length);
        key_valid (B, T) bool or None; suffix_padding: unused. Returns (B, H, T, d)."""
        out_dtype = v.dtype
        q, k, v = self._prepare(q, k, v, key_valid)
        b, h, t, _ = q.shape
        c = min(self.chunk_size, t)
        n = math.ceil(t / c)
        pad = n * c - t
        if pad:
            q = F.pad(q, (0, 0, 0, pad))
            k = F.pad(k, (0, 0, 0, pad))
            v = F.pad(v, (0, 0, 0, pad))
            if key_valid is None:
                key_valid = torch.ones(b, t, dtype=torch.bool, device=q.device)
            key_valid = F.pad(key_valid, (0, pad), value=False)

        phi_q = self._query_features(q)
        a_k = self._exponents(k, key_valid)  # padded keys: -inf
        lowest = torch.finfo(torch.float32).min  # finite: lowest - lowest = 0, never NaN
        key_max = a_k.amax(dim=-1).clamp_min(lowest)
        run_max = torch.cummax(key_max, dim=-1).values.detach()  # (B, H, T) causal stabiliser
        phi_k = a_k.sub_(run_max[..., None]).exp_()  # padded keys: exp(-inf) = 0

        # Chunk views: (B, H, n, C, .)
        phi_q = phi_q.view(b, h, n, c, -1)
        phi_k = phi_k.view(b, h, n, c, -1)
        v = v.view(b, h, n, c, -1)
        run_max = run_max.view(b, h, n, c)

        # Inside each chunk: A_ij = phi(q_i) . phi(k_j) exp(c_j - c_i), j <= i. matmul, not
        # einsum: in-place ops on an einsum result (an autograd view) make backward copy.
        tril = torch.ones(c, c, dtype=torch.bool, device=q.device).tril()
        decay = torch.where(tril, run_max[..., None, :] - run_max[..., :, None], float("-inf")).exp_()
        # In place is autograd-safe: decay carries no gradient (the stabiliser is detached).
        scores = torch.matmul(phi_q, phi_k.transpose(-1, -2)).mul_(decay)  # (B, H, n, C, C)
        out = torch.matmul(scores, v)  # (B, H, n, C, e)

        # Each chunk's sum of phi(k) [v, 1]^T, relative to the running max at its end.
        end_max = run_max[..., -1]  # (B, H, n)
        to_end = (run_max - end_max[..., None]).exp()
        # (T x e) scaling of v rather than (T x m) of phi(k): same sum, 4x less work.
        chunk_kv = torch.matmul(phi_k.transpose(-1, -2), v * to_end[..., None])  # (B, H, n, m, e)
        if n > 1:
            # Exclusive prefix over chunks: state before chunk i, relative to end_max[i - 1].
            # unbind once: indexing chunk_kv[:, :, i] inside the loop would make autograd
            # build a full-size zero gradient per chunk (quadratic in the number of chunks).
            kv_chunks = chunk_kv.unbind(dim=2)
            shrink = (end_max[..., :-1] - end_max[..., 1:]).exp()[..., None, None].unbind(dim=2)
            states = [torch.zeros_like(kv_chunks[0])]
            running = kv_chunks[0]
            for i in range(1, n):
                states.append(running)
                if i < n - 1:
                    running = running * shrink[i - 1] + kv_chunks[i]  # shrink <= 1
            prev = torch.stack(states, dim=2)  # (B, H, n, m, e)
            prev_max = torch.cat([run_max[..., :1, 0], end_max[..., :-1]], dim=-1)  # (B, H, n)
            carry = (prev_max[..., None] - run_max).exp()  # (B, H, n, C), <= 1
            out = out + torch.matmul(phi_q, prev) * carry[..., None]

        out = out.reshape(b, h, n * c, -1)[:, :, :t]
        return (out[..., :-1] / out[..., -1:].clamp_min(_MIN_DENOMINATOR)).to(out_dtype)


ATTENTION_TYPES: Dict[str, Type[nn.Module]] = {
    "softmax": SoftmaxKernel,
    "linear": FavorKernel,
    "causal_linear": CausalFavorKernel,
}

# Cross-attention reads another sequence, so it is never causal: the kernel it uses per type.
CROSS_ATTENTION_TYPE: Dict[str, str] = {
    "softmax": "softmax",
    "linear": "linear",
    "causal_linear": "linear",
}


def check_attention_type(attention_type: str) -> str:
    """Return ``attention_type`` if registered, else raise ValueError listing the valid names."""
    if attention_type not in ATTENTION_TYPES:
        raise ValueError(f"unknown attention_type {attention_type!r}; valid: {sorted(ATTENTION_TYPES)}")
    return attention_type


def favor_kernels(module: nn.Module) -> Iterator[FavorKernel]:
    """All FAVOR+ kernels inside ``module`` (for redraw hooks)."""
    for m in module.modules():
        if isinstance(m, FavorKernel):
            yield m


class ProjectionRedraws:
    """Redraw hooks over every FAVOR+ kernel inside an ``nn.Module`` (stacks, networks)."""

    def maybe_redraw_projections(self) -> bool:
        """Count one training step in every FAVOR+ kernel (for kernels built with
        ``auto_check_redraw=False``, call it once per step); True if any redrew."""
        # A list, not a generator: any() would stop at the first redraw and skip the rest.
        return any([kernel.maybe_redraw() for kernel in favor_kernels(self)])

    def redraw_projections(self) -> int:
        """Redraw every FAVOR+ projection now (fixed ones excepted); returns how many."""
        return sum(kernel.redraw_projection() for kernel in favor_kernels(self))


class MultiHeadAttention(nn.Module):
    """Multi-head self- or cross-attention with a registered kernel.

    Args:
        d_model: model dimension D (query, key and value inputs all have D features).
        num_heads: heads H; D must be divisible by H.
        attention_type: a key of :data:`ATTENTION_TYPES`.
        causal: query t attends only to keys s <= t (self-attention only).
        favor: :class:`FavorOptions`; used by the FAVOR+ kernels only.
        bias: biases in the projections.
    """

    def __init__(
        self,
        *,
        d_model: int,
        num_heads: int,
        attention_type: str = "softmax",
        causal: bool = False,
        favor: FavorOptions = FavorOptions(),
        bias: bool = True,
    ):
        super().__init__()
        if num_heads < 1 or d_model % num_heads != 0:
            raise ValueError(f"d_model must be divisible by num_heads, got d_model={d_model}, num_heads={num_heads}")
        check_attention_type(attention_type)
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_head = d_model // num_heads
        self.attention_type = attention_type
        self.causal = causal
        self.kernel = ATTENTION_TYPES[attention_type](d_head=self.d_head, causal=causal, favor=favor)
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.kv_proj = nn.Linear(d_model, 2 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.d_head).transpose(1, 2)

    def forward(
        self,
        x: torch.Tensor,
        x_lens: Optional[torch.Tensor] = None,
        memory: Optional[torch.Tensor] = None,
        memory_lens: Optional[torch.Tensor] = None,
        *,
        key_padding_mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Attend from ``x`` to itself (self-attention) or to ``memory`` (cross-attention).

        Args:
            x: (B, T, D) queries (and keys/values for self-attention).
            x_lens: (B,) lengths of ``x``; key padding of self-attention.
            memory: (B, S, D) keys/values for cross-attention.
            memory_lens: (B,) lengths of ``memory``.
            key_padding_mask: (B, S) bool, True at padded keys (torch convention); instead
                of lengths, for keys that are not suffix-padded.

        Returns:
            (B, T, D). Outputs at padded query frames are finite but meaningless.
        """
        if memory is not None and self.causal:
            raise ValueError("cross-attention cannot be causal; build it with causal=False")
        source = x if memory is None else memory
        source_lens = x_lens if memory is None else memory_lens
        if key_padding_mask is not None:
            key_valid, suffix = ~key_padding_mask, False
        elif source_lens is not None:
            key_valid, suffix = lengths_to_mask(source_lens, source.size(1)), True
        else:
            key_valid, suffix = None, True
        q = self._heads(self.q_proj(x))
        k, v = self.kv_proj(source).chunk(2, dim=-1)
        y = self.kernel(q, self._heads(k), self._heads(v), key_valid, suffix)
        b, _, t, _ = y.shape
        return self.out_proj(y.transpose(1, 2).reshape(b, t, self.d_model))
