"""Vocal-tract-length perturbation of stored features: exact interpolation, one factor per example."""

import pytest
import torch

from espnet2_tsdia.layers.mel_warp import MelWarp, warp_mel


def ramp(batch=2, frames=3, blocks=2, n_mels=5):
    """Every n_mels block holds 0, 1, ..., n_mels - 1 (band index), so a warp is readable."""
    return torch.arange(n_mels, dtype=torch.float32).repeat(batch, frames, blocks)


def test_warp_reads_band_k_at_k_over_alpha():
    x = ramp()
    y = warp_mel(x, torch.tensor([1.0, 2.0]), n_mels=5)
    assert torch.equal(y[0], x[0])  # alpha 1: identity
    # alpha 2: band k takes the value at k / 2 (linear interpolation), in every block and frame
    assert y[1].reshape(3, 2, 5).tolist() == [[[0.0, 0.5, 1.0, 1.5, 2.0]] * 2] * 3
    z = warp_mel(x, torch.tensor([0.5, 0.8]), n_mels=5)
    # alpha < 1 compresses: k / alpha beyond the last band is clamped to it
    assert z[0, 0, :5].tolist() == [0.0, 2.0, 4.0, 4.0, 4.0]
    assert z[1, 0, :5].tolist() == pytest.approx([0.0, 1.25, 2.5, 3.75, 4.0])
    with pytest.raises(ValueError, match="feature dim 9 is not a multiple of n_mels=5"):
        warp_mel(torch.zeros(1, 1, 9), torch.ones(1), n_mels=5)


def test_mixture_and_enrollment_share_the_factor_and_eval_is_identity():
    torch.manual_seed(0)
    warp = MelWarp(warp_range=(0.8, 1.25), n_mels=5)
    feats, enroll = ramp(batch=4, frames=6), ramp(batch=4, frames=2)
    y, e = warp(feats, enroll)
    # the warp of frame 0 of the mixture equals the warp of frame 0 of its enrollment
    assert torch.allclose(y[:, 0], e[:, 0])
    assert not torch.allclose(y, feats)
    warp.eval()
    y, e = warp(feats, enroll)
    assert torch.equal(y, feats) and torch.equal(e, enroll)


def test_probability_zero_leaves_every_example_alone():
    warp = MelWarp(warp_range=(0.8, 1.25), n_mels=5, probability=0.0)
    feats = ramp()
    assert torch.equal(warp(feats, feats)[0], feats)


def test_bad_options_raise():
    with pytest.raises(ValueError, match=r"warp_range must be \[low, high\].*got \[1.2, 0.9\]"):
        MelWarp(warp_range=(1.2, 0.9))
    with pytest.raises(ValueError, match="probability must be in"):
        MelWarp(probability=1.5)
