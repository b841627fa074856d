"""Norms: ScaleNorm, ReZero residuals (identity at init), LayerNorm default."""

import pytest
import torch
from torch import nn

from espnet2_tsdia.layers.norm import ReZero, ScaleNorm, build_norm
from espnet2_tsdia.layers.transformer_block import TransformerBlock


def test_scalenorm_output_has_norm_g():
    norm = ScaleNorm(d_model=9)
    y = norm(torch.randn(4, 9) * 7.0)
    torch.testing.assert_close(y.norm(dim=-1), torch.full((4,), 3.0))


def test_build_norm_choices():
    assert isinstance(build_norm(d_model=4), nn.LayerNorm)
    assert isinstance(build_norm(d_model=4, use_scalenorm=True), ScaleNorm)
    assert isinstance(build_norm(d_model=4, use_rezero=True), nn.Identity)


def test_rezero_and_scalenorm_exclude_each_other():
    with pytest.raises(ValueError, match="use_rezero=True, use_scalenorm=True"):
        build_norm(d_model=4, use_rezero=True, use_scalenorm=True)


def test_rezero_block_starts_as_identity_and_learns_its_scale():
    torch.manual_seed(0)
    block = TransformerBlock(d_model=8, num_heads=2, use_rezero=True, dropout=0.0)
    x = torch.randn(2, 5, 8)
    assert torch.equal(block(x, torch.tensor([5, 3])), x)
    block(x, torch.tensor([5, 3])).pow(2).sum().backward()
    alphas = [m.alpha for m in block.modules() if isinstance(m, ReZero)]
    assert len(alphas) == 2
    assert all(a.grad is not None and a.grad.abs() > 0 for a in alphas)
