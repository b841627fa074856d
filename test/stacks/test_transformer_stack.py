"""TransformerStack (encoder and decoder): the plan's keys, validation, every option builds, padding,
batching, causality, cross-attention, checkpoints of the two-class layout."""

import inspect
import itertools
import typing

import pytest
import torch
import typeguard

from espnet2_tsdia.stacks.transformer import TransformerStack

PLAN_KEYS = {
    "d_model",
    "num_layers",
    "num_heads",
    "attention_type",
    "nb_features",
    "activation",
    "use_rezero",
    "use_scalenorm",
    "feature_redraw_interval",
    "auto_check_redraw",
    "use_cross_attention",  # decoder.* only; the networks reject it on an encoder
}
EXTRA_KEYS = {"d_ff", "dropout", "fixed_projection", "causal"}
TINY = dict(d_model=8, num_layers=2, num_heads=2, nb_features=8, dropout=0.0)


def test_constructor_is_the_plan_checklist_keyword_only_and_typed():
    params = inspect.signature(TransformerStack.__init__).parameters
    hints = typing.get_type_hints(TransformerStack.__init__)
    names = {n for n in params if n != "self"}
    assert names == PLAN_KEYS | EXTRA_KEYS
    for name in names:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        # typeguard 4 checks defaults against annotations (Optional[int] = None, not int = None).
        typeguard.check_type(params[name].default, hints[name])
    # the encoder's defaults; the model types give a decoder causal=True (test/networks)
    assert params["causal"].default is False and params["use_cross_attention"].default is False
    assert hints["nb_features"] == typing.Optional[int]


@pytest.mark.parametrize(
    "attention_type,causal,activation,norm",
    [
        (a, c, act, norm)
        for (a, c), act, norm in itertools.product(
            [("softmax", False), ("softmax", True), ("linear", False), ("causal_linear", True)],
            ["relu", "SWIGLU"],
            ["layer", "scalenorm", "rezero"],
        )
    ],
)
def test_every_option_builds_and_runs(attention_type, causal, activation, norm):
    enc = TransformerStack(
        attention_type=attention_type,
        causal=causal,
        activation=activation,
        use_scalenorm=norm == "scalenorm",
        use_rezero=norm == "rezero",
        **TINY,
    )
    y, y_lens = enc(torch.randn(2, 5, 8), torch.tensor([5, 2]))
    assert y.shape == (2, 5, 8) and enc.output_size() == 8
    assert torch.equal(y_lens, torch.tensor([5, 2]))
    assert torch.all(y[1, 2:] == 0)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(d_model=10, num_heads=4), "d_model=10, num_heads=4"),
        (dict(activation="tanh"), "'tanh'"),
        (dict(attention_type="flash"), "'flash'"),
        (dict(attention_type="linear", causal=True), "causal_linear"),
        (dict(attention_type="causal_linear"), "needs causal=True"),
        (dict(use_rezero=True, use_scalenorm=True), "use_rezero=True, use_scalenorm=True"),
        (dict(num_layers=0), "num_layers must be >= 1, got 0"),
        (dict(dropout=1.5), "got 1.5"),
        (dict(nb_features=0), "got 0"),
        (dict(feature_redraw_interval=0), "got 0"),
        (dict(d_ff=-1), "got -1"),
    ],
)
def test_bad_configurations_raise_naming_the_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TransformerStack(**kwargs)


@pytest.mark.parametrize("attention_type", ["softmax", "linear"])
def test_padding_and_batching_invariance(attention_type):
    torch.manual_seed(0)
    enc = TransformerStack(attention_type=attention_type, **TINY).eval()
    lens = torch.tensor([7, 4, 1])
    x = torch.randn(3, 7, 8)
    pad = torch.arange(7)[None, :] >= lens[:, None]
    x_nan = x.masked_fill(pad[..., None], float("nan"))
    y, _ = enc(x, lens)
    y_nan, _ = enc(x_nan, lens)
    torch.testing.assert_close(y, y_nan, atol=1e-6, rtol=0)
    for b, n in enumerate(lens.tolist()):
        alone, _ = enc(x[b : b + 1, :n], torch.tensor([n]))
        torch.testing.assert_close(y[b : b + 1, :n], alone, atol=1e-5, rtol=1e-5)


def test_stack_level_redraw_hooks():
    enc = TransformerStack(attention_type="linear", feature_redraw_interval=2, auto_check_redraw=False, **TINY).train()
    before = [m.projection.clone() for m in enc.modules() if hasattr(m, "projection")]
    assert len(before) == 2
    enc(torch.randn(1, 3, 8), torch.tensor([3]))
    enc(torch.randn(1, 3, 8), torch.tensor([3]))
    assert [enc.maybe_redraw_projections(), enc.maybe_redraw_projections()] == [False, True]
    after = [m.projection for m in enc.modules() if hasattr(m, "projection")]
    assert all(not torch.equal(a, b) for a, b in zip(after, before, strict=True))
    assert enc.redraw_projections() == 2
    softmax = TransformerStack(**TINY)
    assert softmax.redraw_projections() == 0


CAUSAL_TYPES = ["softmax", "causal_linear"]


@pytest.mark.parametrize("attention_type", CAUSAL_TYPES)
@pytest.mark.parametrize("use_cross_attention", [False, True])
def test_no_output_at_t_depends_on_frames_after_t(attention_type, use_cross_attention):
    torch.manual_seed(0)
    dec = TransformerStack(
        causal=True, attention_type=attention_type, use_cross_attention=use_cross_attention, **TINY
    ).eval()
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
    dec = TransformerStack(causal=True, attention_type=attention_type, use_cross_attention=True, **TINY).eval()
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
    dec = TransformerStack(causal=True, use_cross_attention=True, **TINY).eval()
    x, lens = torch.randn(1, 4, 8), torch.tensor([4])
    y1, _ = dec(x, lens, torch.randn(1, 3, 8), torch.tensor([3]))
    y2, _ = dec(x, lens, torch.randn(1, 3, 8), torch.tensor([3]))
    assert not torch.allclose(y1, y2)


def test_memory_must_match_use_cross_attention():
    with_cross = TransformerStack(causal=True, use_cross_attention=True, **TINY)
    without = TransformerStack(causal=True, use_cross_attention=False, **TINY)
    x, lens = torch.randn(1, 3, 8), torch.tensor([3])
    with pytest.raises(ValueError, match="needs memory"):
        with_cross(x, lens)
    with pytest.raises(ValueError, match="takes no memory"):
        without(x, lens, torch.randn(1, 2, 8), torch.tensor([2]))


def test_causal_linear_cross_attention_uses_the_linear_kernel():
    dec = TransformerStack(causal=True, attention_type="causal_linear", use_cross_attention=True, **TINY)
    block = dec.blocks[0]
    assert block.self_attn.attention_type == "causal_linear"
    assert block.cross_attn.attention_type == "linear"


def test_a_checkpoint_of_the_two_class_layout_loads():
    """Before the encoder and decoder stacks were one class, blocks and final norm sat under
    ``layers.``: such a state dict loads strictly, inside a network too, and gives the same output."""
    torch.manual_seed(0)
    trained = TransformerStack(attention_type="linear", **TINY).eval()
    old_layout = {f"layers.{k}": v for k, v in trained.state_dict().items()}
    fresh = TransformerStack(attention_type="linear", **TINY).eval()
    fresh.load_state_dict(old_layout, strict=True)
    x, lens = torch.randn(2, 5, 8), torch.tensor([5, 3])
    torch.testing.assert_close(fresh(x, lens)[0], trained(x, lens)[0], atol=0, rtol=0)

    outer = torch.nn.ModuleDict({"encoder": TransformerStack(**TINY)})
    nested = {f"encoder.layers.{k}": v for k, v in TransformerStack(**TINY).state_dict().items()}
    outer.load_state_dict(nested, strict=True)
    torch.testing.assert_close(outer["encoder"].final_norm.weight, nested["encoder.layers.final_norm.weight"])
