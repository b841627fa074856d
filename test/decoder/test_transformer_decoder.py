"""TransformerDecoderStack: the plan's keys, causality, cross-attention, padding."""

import inspect
import typing

import pytest
import torch
import typeguard

from espnet2_tsdia.decoder.transformer_decoder import TransformerDecoderStack

PLAN_KEYS = {
    "d_model",
    "num_layers",
    "num_heads",
    "attention_type",
    "nb_features",
    "activation",
    "use_cross_attention",
    "use_rezero",
    "use_scalenorm",
    "feature_redraw_interval",
    "auto_check_redraw",
}
EXTRA_KEYS = {"d_ff", "dropout", "fixed_projection", "causal"}
TINY = dict(d_model=8, num_layers=2, num_heads=2, nb_features=8, dropout=0.0)
CAUSAL_TYPES = ["softmax", "causal_linear"]


def test_constructor_is_the_plan_checklist_keyword_only_and_typed():
    params = inspect.signature(TransformerDecoderStack.__init__).parameters
    hints = typing.get_type_hints(TransformerDecoderStack.__init__)
    names = {n for n in params if n != "self"}
    assert names == PLAN_KEYS | EXTRA_KEYS
    for name in names:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        typeguard.check_type(params[name].default, hints[name])
    assert params["causal"].default is True


def test_causal_by_default_so_linear_needs_the_causal_kernel():
    with pytest.raises(ValueError, match="causal_linear"):
        TransformerDecoderStack(attention_type="linear", **TINY)
    assert TransformerDecoderStack(attention_type="linear", causal=False, **TINY).causal is False


@pytest.mark.parametrize("attention_type", CAUSAL_TYPES)
@pytest.mark.parametrize("use_cross_attention", [False, True])
def test_no_output_at_t_depends_on_frames_after_t(attention_type, use_cross_attention):
    torch.manual_seed(0)
    dec = TransformerDecoderStack(attention_type=attention_type, use_cross_attention=use_cross_attention, **TINY).eval()
    mem = (torch.randn(2, 4, 8), torch.tensor([4, 2])) if use_cross_attention else ()
    x, lens, t = torch.randn(2, 9, 8), torch.tensor([9, 9]), 4
    x2 = x.clone()
    x2[:, t + 1 :] = torch.randn(2, 9 - t - 1, 8)
    y1, _ = dec(x, lens, *mem)
    y2, _ = dec(x2, lens, *mem)
    torch.testing.assert_close(y1[:, : t + 1], y2[:, : t + 1], atol=1e-6, rtol=0)
    assert not torch.allclose(y1[:, t + 1 :], y2[:, t + 1 :])


@pytest.mark.parametrize("attention_type", CAUSAL_TYPES)
def test_memory_padding_and_batching_invariance(attention_type):
    torch.manual_seed(0)
    dec = TransformerDecoderStack(attention_type=attention_type, use_cross_attention=True, **TINY).eval()
    x, lens = torch.randn(2, 6, 8), torch.tensor([6, 3])
    mem, mem_lens = torch.randn(2, 5, 8), torch.tensor([5, 2])
    y, _ = dec(x, lens, mem, mem_lens)
    mem_garbage = mem.clone()
    mem_garbage[1, 2:] = 1e3
    y2, _ = dec(x, lens, mem_garbage, mem_lens)
    torch.testing.assert_close(y, y2, atol=1e-6, rtol=0)
    alone, _ = dec(x[1:, :3], lens[1:], mem[1:, :2], mem_lens[1:])
    torch.testing.assert_close(y[1:, :3], alone, atol=1e-5, rtol=1e-5)


def test_cross_attention_reads_the_memory():
    torch.manual_seed(0)
    dec = TransformerDecoderStack(use_cross_attention=True, **TINY).eval()
    x, lens = torch.randn(1, 4, 8), torch.tensor([4])
    y1, _ = dec(x, lens, torch.randn(1, 3, 8), torch.tensor([3]))
    y2, _ = dec(x, lens, torch.randn(1, 3, 8), torch.tensor([3]))
    assert not torch.allclose(y1, y2)


def test_memory_must_match_use_cross_attention():
    with_cross = TransformerDecoderStack(use_cross_attention=True, **TINY)
    without = TransformerDecoderStack(use_cross_attention=False, **TINY)
    x, lens = torch.randn(1, 3, 8), torch.tensor([3])
    with pytest.raises(ValueError, match="needs memory"):
        with_cross(x, lens)
    with pytest.raises(ValueError, match="takes no memory"):
        without(x, lens, torch.randn(1, 2, 8), torch.tensor([2]))


def test_causal_linear_cross_attention_uses_the_linear_kernel():
    dec = TransformerDecoderStack(attention_type="causal_linear", use_cross_attention=True, **TINY)
    block = dec.layers.blocks[0]
    assert block.self_attn.attention_type == "causal_linear"
    assert block.cross_attn.attention_type == "linear"
