"""Multi-head attention: every kernel, padding, batching, causality, FAVOR+ accuracy, redraws."""

import math

import pytest
import torch
import torch.nn.functional as F

from espnet2_tsdia.layers.attention import (
    ATTENTION_TYPES,
    CausalFavorKernel,
    FavorKernel,
    FavorOptions,
    MultiHeadAttention,
    default_nb_features,
    orthogonal_random_features,
)

D, H = 16, 2
# (attention_type, causal) pairs that are valid.
SELF_TYPES = [("softmax", False), ("softmax", True), ("linear", False), ("causal_linear", True)]


def make_attention(attention_type, causal, **favor):
    favor = FavorOptions(**{"nb_features": 32, "chunk_size": 4, **favor})
    return MultiHeadAttention(d_model=D, num_heads=H, attention_type=attention_type, causal=causal, favor=favor).eval()


def with_garbage_padding(x, lens, value=1e3):
    """Copy of x whose padded frames hold large random values."""
    pad = torch.arange(x.size(1))[None, :] >= lens[:, None]
    return torch.where(pad[..., None], value * torch.randn_like(x), x)


def test_registry_holds_the_three_types():
    assert sorted(ATTENTION_TYPES) == ["causal_linear", "linear", "softmax"]


@pytest.mark.parametrize("attention_type,causal", SELF_TYPES)
def test_every_type_builds_and_runs(attention_type, causal):
    att = make_attention(attention_type, causal)
    x = torch.randn(2, 9, D)
    y = att(x, torch.tensor([9, 5]))
    assert y.shape == (2, 9, D)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("attention_type", ["softmax", "linear"])
def test_cross_attention_uses_memory_lengths(attention_type):
    torch.manual_seed(0)
    att = make_attention(attention_type, False)
    x, mem = torch.randn(2, 7, D), torch.randn(2, 5, D)
    mem_lens = torch.tensor([5, 3])
    y = att(x, torch.tensor([7, 4]), mem, mem_lens)
    y2 = att(x, torch.tensor([7, 4]), with_garbage_padding(mem, mem_lens), mem_lens)
    assert y.shape == (2, 7, D)
    torch.testing.assert_close(y, y2, atol=1e-6, rtol=0)
    # A bool mask is the same thing as lengths.
    pad_mask = torch.arange(5)[None, :] >= mem_lens[:, None]
    y3 = att(x, None, mem, key_padding_mask=pad_mask)
    torch.testing.assert_close(y, y3, atol=1e-6, rtol=0)


def textbook_sdpa(q, k, v, attn_mask=None, is_causal=False):
    """softmax(q k^T / sqrt(d) + mask) v as the torch documentation defines it: a row with no
    visible key gives NaN (0 / 0), as some GPU backends do; torch 2.9's CPU kernels give 0."""
    scores = q @ k.transpose(-1, -2) / q.size(-1) ** 0.5
    if is_causal:
        attn_mask = torch.ones(q.size(-2), k.size(-2), dtype=torch.bool).tril()
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    return scores.softmax(dim=-1) @ v


@pytest.mark.parametrize(
    "where,causal",
    [("self", False), ("self", True), ("memory", False), ("first key padded", False), ("first key padded", True)],
)
@pytest.mark.parametrize("sdpa", ["torch", "textbook"])
def test_softmax_query_with_no_real_key_gives_zero_not_nan(monkeypatch, where, causal, sdpa):
    """A zero-length sequence (or memory) leaves queries with no key to attend to: their
    attention output is 0, like FAVOR+'s, and gradients stay finite, whatever the SDPA backend."""
    if sdpa == "textbook":
        monkeypatch.setattr(F, "scaled_dot_product_attention", textbook_sdpa)
    torch.manual_seed(0)
    att = make_attention("softmax", causal)
    x = torch.randn(2, 4, D, requires_grad=True)
    if where == "self":
        y = att(x, torch.tensor([4, 0]))
        empty = (1, slice(None))
    elif where == "memory":
        y = att(x, torch.tensor([4, 4]), torch.randn(2, 3, D), torch.tensor([3, 0]))
        empty = (1, slice(None))
    else:  # keys not suffix-padded: with causal, query 0 of example 0 sees only a padded key
        padded = torch.tensor([[True, False, False, False], [False] * 4])
        y = att(x, key_padding_mask=padded)
        empty = (0, slice(0, 1)) if causal else None
    assert torch.isfinite(y).all()
    if empty is not None:
        # attention output 0 -> out_proj(0) = its bias
        torch.testing.assert_close(y[empty], att.out_proj.bias.expand_as(y[empty]), atol=0, rtol=0)
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in att.parameters())


def test_unknown_type_lists_valid_names():
    with pytest.raises(ValueError, match=r"'performer'.*causal_linear.*linear.*softmax"):
        MultiHeadAttention(d_model=D, num_heads=H, attention_type="performer")


def test_heads_must_divide_d_model():
    with pytest.raises(ValueError, match="d_model=10, num_heads=4"):
        MultiHeadAttention(d_model=10, num_heads=4)


def test_linear_is_not_causal_and_causal_linear_is():
    with pytest.raises(ValueError, match="causal_linear"):
        MultiHeadAttention(d_model=D, num_heads=H, attention_type="linear", causal=True)
    with pytest.raises(ValueError, match="needs causal=True"):
        MultiHeadAttention(d_model=D, num_heads=H, attention_type="causal_linear", causal=False)


def test_cross_attention_cannot_be_causal():
    att = make_attention("softmax", True)
    with pytest.raises(ValueError, match="cross-attention cannot be causal"):
        att(torch.randn(1, 3, D), None, torch.randn(1, 4, D))


@pytest.mark.parametrize("attention_type,causal", SELF_TYPES)
def test_padding_does_not_change_real_frames(attention_type, causal):
    torch.manual_seed(0)
    att = make_attention(attention_type, causal)
    x, lens = torch.randn(3, 11, D), torch.tensor([11, 6, 1])
    real = torch.arange(11)[None, :] < lens[:, None]
    y1 = att(x, lens)[real]
    y2 = att(with_garbage_padding(x, lens), lens)[real]
    torch.testing.assert_close(y1, y2, atol=1e-6, rtol=0)


@pytest.mark.parametrize("attention_type,causal", SELF_TYPES)
def test_batched_equals_one_by_one(attention_type, causal):
    torch.manual_seed(0)
    att = make_attention(attention_type, causal)
    lens = torch.tensor([10, 3, 7])
    x = with_garbage_padding(torch.randn(3, 10, D), lens, value=5.0)
    batched = att(x, lens)
    for b, n in enumerate(lens.tolist()):
        alone = att(x[b : b + 1, :n], torch.tensor([n]))
        torch.testing.assert_close(batched[b : b + 1, :n], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attention_type,causal", [("softmax", True), ("causal_linear", True)])
def test_causal_output_ignores_the_future(attention_type, causal):
    torch.manual_seed(0)
    att = make_attention(attention_type, causal, chunk_size=3)
    x = torch.randn(2, 13, D)
    t = 7  # frames > t change; a chunk boundary (3) does not fall on t
    x2 = x.clone()
    x2[:, t + 1 :] = 100.0 * torch.randn_like(x2[:, t + 1 :])
    y1, y2 = att(x, torch.tensor([13, 13])), att(x2, torch.tensor([13, 13]))
    torch.testing.assert_close(y1[:, : t + 1], y2[:, : t + 1], atol=1e-6, rtol=0)
    assert not torch.allclose(y1[:, t + 1 :], y2[:, t + 1 :])


# ----------------------------------------------------------------- FAVOR+ against references


def favor_features(x, projection):
    """Unstabilised FAVOR+ feature map in float64: exp(W x' - |x'|^2 / 2), x' = x d^-1/4."""
    x = x.double() * x.size(-1) ** -0.25
    return torch.exp(x @ projection.double().T - 0.5 * (x * x).sum(-1, keepdim=True))


def naive_linear_attention(q, k, v, projection, key_valid, causal):
    """Explicit (T x T) linear attention: A = phi(q) phi(k)^T, masked, rows normalised."""
    a = favor_features(q, projection) @ favor_features(k, projection).transpose(-1, -2)
    a = a * key_valid[:, None, None, :]
    if causal:
        a = a * torch.ones(q.size(-2), k.size(-2), dtype=torch.bool).tril()
    return (a @ v.double()) / a.sum(-1, keepdim=True)


@pytest.mark.parametrize("chunk_size", [1, 3, 8, 64])
def test_causal_linear_equals_naive_masked_linear_attention(chunk_size):
    torch.manual_seed(0)
    b, h, t, d = 2, 2, 21, 8
    q, k, v = torch.randn(3, b, h, t, d).unbind(0)
    lens = torch.tensor([21, 13])
    key_valid = torch.arange(t)[None, :] < lens[:, None]
    kernel = CausalFavorKernel(d_head=d, causal=True, favor=FavorOptions(nb_features=24, chunk_size=chunk_size))
    out = kernel(q, k, v, key_valid, True)
    ref = naive_linear_attention(q, k, v, kernel.projection, key_valid, causal=True)
    for i, n in enumerate(lens.tolist()):
        torch.testing.assert_close(out[i, :, :n].double(), ref[i, :, :n], atol=1e-5, rtol=1e-4)


def test_linear_equals_naive_linear_attention():
    torch.manual_seed(1)
    b, h, t, s, d = 2, 2, 9, 12, 8
    q = torch.randn(b, h, t, d)
    k, v = torch.randn(2, b, h, s, d).unbind(0)
    key_valid = torch.arange(s)[None, :] < torch.tensor([12, 5])[:, None]
    kernel = FavorKernel(d_head=d, favor=FavorOptions(nb_features=24))
    out = kernel(q, k, v, key_valid, True)
    ref = naive_linear_attention(q, k, v, kernel.projection, key_valid, causal=False)
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-4)


def test_stabiliser_is_per_sequence():
    """Large keys have very negative exponents (w.k' - |k'|^2/2 ~ -150). Next to a normal
    sequence, a batch-wide stabiliser (the max of the normal one) underflows every feature
    of the large-key sequence and its output collapses; a per-sequence one does not."""
    torch.manual_seed(2)
    d = 8
    kernel = FavorKernel(d_head=d, favor=FavorOptions(nb_features=32))
    q, k, v = torch.randn(3, 2, 1, 6, d).unbind(0)
    k[1] = k[1] * 12.0
    alone = kernel(q[1:], k[1:], v[1:], None, True)
    mixed = kernel(q, k, v, None, True)
    assert alone.abs().sum() > 0.1
    torch.testing.assert_close(mixed[1:], alone, atol=1e-6, rtol=1e-5)


def test_causal_stabiliser_does_not_read_the_future():
    """Past keys with very negative exponents, future keys equal to projection rows (the
    largest exponents possible): a stabiliser taken over the whole sequence would underflow
    the past; the running maximum only ever looks back."""
    torch.manual_seed(3)
    d, t, cut = 8, 10, 6
    kernel = CausalFavorKernel(d_head=d, causal=True, favor=FavorOptions(nb_features=16, chunk_size=4))
    q, v = torch.randn(2, 1, 1, t, d).unbind(0)
    k_far = 12.0 * torch.randn(1, 1, t, d)
    k_aligned = k_far.clone()
    k_aligned[..., cut:, :] = kernel.projection[: t - cut] * d**0.25
    out_far = kernel(q, k_far, v, None, True)
    out_aligned = kernel(q, k_aligned, v, None, True)
    assert out_far[..., :cut, :].abs().sum() > 0.1
    torch.testing.assert_close(out_aligned[..., :cut, :], out_far[..., :cut, :], atol=1e-6, rtol=1e-5)


def test_padded_keys_do_not_enter_the_normaliser():
    """A padded key that got phi(0) != 0 (the public code's defect) would add weight
    phi(q).phi(0) to the denominator: a single real key would no longer give back its value."""
    d = 8
    kernel = FavorKernel(d_head=d, favor=FavorOptions(nb_features=16))
    q, k = torch.randn(2, 1, 1, 5, d).unbind(0)
    v = torch.randn(1, 1, 5, d)
    key_valid = torch.tensor([[True, False, False, False, False]])
    out = kernel(q, k, v, key_valid, True)
    torch.testing.assert_close(out, v[:, :, :1].expand_as(out), atol=1e-6, rtol=1e-5)


def test_favor_error_shrinks_as_nb_features_grows():
    """Mean relative error against exact softmax attention over 12 draws of the projection:
    the FAVOR+ estimator's error falls roughly like 1 / sqrt(m)."""
    d, t = 16, 24
    gen = torch.Generator().manual_seed(0)
    q, k, v = (0.5 * torch.randn(3, 1, 1, t, d, generator=gen)).unbind(0)
    exact = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1) @ v
    errors = {}
    for m in (4, 32, 256):
        kernel = FavorKernel(d_head=d, favor=FavorOptions(nb_features=m)).eval()
        errs = []
        for _ in range(12):
            kernel.projection.copy_(orthogonal_random_features(m, d, generator=gen))
            approx = kernel(q, k, v, None, True)
            errs.append(((approx - exact).norm() / exact.norm()).item())
        errors[m] = sum(errs) / len(errs)
    assert errors[32] < 0.7 * errors[4], errors
    assert errors[256] < 0.6 * errors[32], errors


def test_orthogonal_features_are_orthogonal_within_a_block():
    w = orthogonal_random_features(20, 8, generator=torch.Generator().manual_seed(0))
    assert w.shape == (20, 8)
    block = w[:8] / w[:8].norm(dim=1, keepdim=True)
    torch.testing.assert_close(block @ block.T, torch.eye(8), atol=1e-5, rtol=0)


def test_default_nb_features_is_d_ln_d():
    assert default_nb_features(64) == int(64 * math.log(64)) == 266
    att = MultiHeadAttention(d_model=128, num_heads=2, attention_type="linear")
    assert att.kernel.projection.shape == (266, 64)


# ----------------------------------------------------------------- projection lifecycle


def test_linear_eval_passes_are_bit_identical():
    att = make_attention("linear", False, feature_redraw_interval=1)
    x = torch.randn(2, 8, D)
    assert torch.equal(att(x, torch.tensor([8, 5])), att(x, torch.tensor([8, 5])))


def test_projection_is_saved_and_restored():
    att = make_attention("linear", False)
    state = att.state_dict()
    assert "kernel.projection" in state
    fresh = make_attention("linear", False)
    assert not torch.equal(fresh.kernel.projection, att.kernel.projection)
    fresh.load_state_dict(state)
    x = torch.randn(1, 6, D)
    assert torch.equal(fresh(x), att(x))


def snapshots_over_training_steps(att, steps):
    """Projection after each of ``steps`` training forward passes."""
    att.train()
    x = torch.randn(1, 4, D)
    out = []
    for _ in range(steps):
        att(x)
        out.append(att.kernel.projection.clone())
    return out


def changed_at(snapshots, initial):
    prev, steps = initial, []
    for i, p in enumerate(snapshots, start=1):
        if not torch.equal(p, prev):
            steps.append(i)
        prev = p
    return steps


@pytest.mark.parametrize("attention_type,causal", [("linear", False), ("causal_linear", True)])
def test_redraws_every_interval_training_steps(attention_type, causal):
    att = make_attention(attention_type, causal, feature_redraw_interval=3)
    initial = att.kernel.projection.clone()
    assert changed_at(snapshots_over_training_steps(att, 7), initial) == [3, 6]


def test_no_redraw_in_eval():
    att = make_attention("linear", False, feature_redraw_interval=1)
    initial = att.kernel.projection.clone()
    x = torch.randn(1, 4, D)
    for _ in range(3):
        att(x)
    assert att.kernel.maybe_redraw() is False
    assert torch.equal(att.kernel.projection, initial)


def test_fixed_projection_never_redraws():
    att = make_attention("linear", False, feature_redraw_interval=1, fixed_projection=True)
    initial = att.kernel.projection.clone()
    assert changed_at(snapshots_over_training_steps(att, 3), initial) == []
    assert att.kernel.redraw_projection() is False


def test_no_interval_never_redraws():
    att = make_attention("linear", False, feature_redraw_interval=None)
    initial = att.kernel.projection.clone()
    assert changed_at(snapshots_over_training_steps(att, 3), initial) == []


def test_without_auto_check_only_the_owner_redraws():
    att = make_attention("linear", False, feature_redraw_interval=2, auto_check_redraw=False)
    initial = att.kernel.projection.clone()
    assert changed_at(snapshots_over_training_steps(att, 4), initial) == []
    assert [att.kernel.maybe_redraw() for _ in range(4)] == [False, True, False, True]
    assert not torch.equal(att.kernel.projection, initial)


def test_padded_garbage_gives_finite_gradients():
    torch.manual_seed(0)
    for attention_type, causal in SELF_TYPES:
        att = make_attention(attention_type, causal).train()
        lens = torch.tensor([6, 2])
        x = with_garbage_padding(torch.randn(2, 6, D), lens, value=1e4).requires_grad_(True)
        y = att(x, lens)
        y[torch.arange(6)[None, :] < lens[:, None]].sum().backward()
        grads = [p.grad for p in att.parameters()]
        assert all(torch.isfinite(g).all() for g in grads), attention_type
        assert torch.all(x.grad[1, 2:] == 0), attention_type


def test_invalid_favor_options_raise():
    with pytest.raises(ValueError, match="nb_features must be >= 1 or None, got 0"):
        FavorOptions(nb_features=0)
    with pytest.raises(ValueError, match="feature_redraw_interval must be >= 1 or None, got 0"):
        FavorOptions(feature_redraw_interval=0)
    with pytest.raises(ValueError, match="chunk_size must be >= 1, got 0"):
        FavorOptions(chunk_size=0)
