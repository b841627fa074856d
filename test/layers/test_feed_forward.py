"""Feed-forward: every activation, case-insensitive names, hidden sizes, gating."""

import pytest
import torch
import torch.nn.functional as F

from espnet2_tsdia.layers.feed_forward import ACTIVATIONS, FeedForward, hidden_size


@pytest.mark.parametrize("name", ["ReLU", "GELU", "SILU", "REGLU", "GEGLU", "SWIGLU"])
def test_every_activation_builds_from_the_plan_spelling(name):
    ffn = FeedForward(d_model=6, d_ff=4, activation=name)
    x = torch.randn(2, 3, 6)
    assert ffn(x).shape == (2, 3, 6)


def test_registry_is_the_plan_list():
    assert sorted(ACTIVATIONS) == ["geglu", "gelu", "reglu", "relu", "silu", "swiglu"]


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match=r"'tanh'.*geglu.*swiglu"):
        FeedForward(d_model=6, activation="tanh")


def test_d_ff_must_be_positive():
    with pytest.raises(ValueError, match="got 0"):
        FeedForward(d_model=6, d_ff=0)


def test_hidden_size_is_d_ff_times_d_model_and_two_thirds_for_glu():
    assert hidden_size(d_model=6, d_ff=4, activation="relu") == 24
    assert hidden_size(d_model=6, d_ff=4, activation="SwiGLU") == 16
    assert FeedForward(d_model=6, d_ff=4, activation="geglu").w_in.out_features == 32
    # Same weight count (biases aside) for plain and gated variants.
    plain = FeedForward(d_model=6, d_ff=4, activation="gelu")
    gated = FeedForward(d_model=6, d_ff=4, activation="geglu")
    assert plain.w_in.weight.numel() + plain.w_out.weight.numel() == 288
    assert gated.w_in.weight.numel() + gated.w_out.weight.numel() == 288


def test_gated_variant_is_act_of_gate_times_linear():
    torch.manual_seed(0)
    ffn = FeedForward(d_model=4, d_ff=3, activation="swiglu").eval()
    x = torch.randn(5, 4)
    gate, lin = ffn.w_in(x).chunk(2, dim=-1)
    expected = ffn.w_out(F.silu(gate) * lin)
    torch.testing.assert_close(ffn(x), expected)
