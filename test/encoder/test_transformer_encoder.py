"""TransformerEncoderStack: the plan's keys, validation, every option builds, padding, batching."""

import inspect
import itertools
import typing

import pytest
import torch
import typeguard

from espnet2_tsdia.encoder.transformer_encoder import TransformerEncoderStack

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
}
EXTRA_KEYS = {"d_ff", "dropout", "fixed_projection", "causal"}
TINY = dict(d_model=8, num_layers=2, num_heads=2, nb_features=8, dropout=0.0)


def test_constructor_is_the_plan_checklist_keyword_only_and_typed():
    params = inspect.signature(TransformerEncoderStack.__init__).parameters
    hints = typing.get_type_hints(TransformerEncoderStack.__init__)
    names = {n for n in params if n != "self"}
    assert names == PLAN_KEYS | EXTRA_KEYS
    for name in names:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        # typeguard 4 checks defaults against annotations (Optional[int] = None, not int = None).
        typeguard.check_type(params[name].default, hints[name])
    assert params["causal"].default is False
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
    enc = TransformerEncoderStack(
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
        TransformerEncoderStack(**kwargs)


@pytest.mark.parametrize("attention_type", ["softmax", "linear"])
def test_padding_and_batching_invariance(attention_type):
    torch.manual_seed(0)
    enc = TransformerEncoderStack(attention_type=attention_type, **TINY).eval()
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
    enc = TransformerEncoderStack(
        attention_type="linear", feature_redraw_interval=2, auto_check_redraw=False, **TINY
    ).train()
    before = [m.projection.clone() for m in enc.modules() if hasattr(m, "projection")]
    assert len(before) == 2
    enc(torch.randn(1, 3, 8), torch.tensor([3]))
    enc(torch.randn(1, 3, 8), torch.tensor([3]))
    assert [enc.maybe_redraw(), enc.maybe_redraw()] == [False, True]
    after = [m.projection for m in enc.modules() if hasattr(m, "projection")]
    assert all(not torch.equal(a, b) for a, b in zip(after, before))
    assert enc.redraw_projections() == 2
    softmax = TransformerEncoderStack(**TINY)
    assert softmax.redraw_projections() == 0
