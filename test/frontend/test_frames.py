"""Frame arithmetic: exact counts, exact label frame ranges, and the centre rule as a property."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.frontend.frames import (
    FrameGrid,
    active_frame_range,
    frame_shift_samples,
    frames_to_seconds,
    num_frames,
    seconds_to_frame,
)


@pytest.mark.parametrize("seconds", [0, 1, 7, 60, 3600])
def test_n_seconds_at_8k_is_10n_frames(seconds):
    assert num_frames(8000 * seconds) == 10 * seconds


@pytest.mark.parametrize("samples,frames", [(0, 0), (799, 0), (800, 1), (1599, 1), (7999, 9), (8000, 10), (8001, 10)])
def test_num_frames_floors(samples, frames):
    assert num_frames(samples) == frames


def test_num_frames_tensor_and_numpy_keep_their_kind():
    t = num_frames(torch.tensor([0, 799, 800, 16_000]))
    assert isinstance(t, torch.Tensor) and t.tolist() == [0, 0, 1, 20]
    a = num_frames(np.array([1600, 2399]))
    assert isinstance(a, np.ndarray) and a.tolist() == [2, 2]


def test_num_frames_other_grid():
    assert num_frames(16_000, hop_length=160, subsampling=5) == 20
    assert frame_shift_samples(hop_length=160, subsampling=5) == 800


def test_num_frames_rejects_negative_and_bad_grid():
    with pytest.raises(ValueError, match="num_samples must be >= 0, got -1"):
        num_frames(-1)
    with pytest.raises(ValueError, match="hop_length and subsampling must be > 0"):
        num_frames(10, hop_length=0)
    with pytest.raises(TypeError, match="got str"):
        num_frames("800")


def test_seconds_and_frames():
    assert frames_to_seconds(12) == pytest.approx(1.2)
    assert seconds_to_frame(1.2) == 12  # 1.2 s is the first sample of frame 12
    assert seconds_to_frame(1.1999) == 11  # sample 9599
    assert seconds_to_frame(1.19999) == 12  # rounds to sample 9600 first
    assert seconds_to_frame(0.0) == 0


@pytest.mark.parametrize(
    "onset,end,expected",
    [
        (0.05, 0.15, (0, 1)),  # covers the centre of frame 0 (0.05), not of frame 1 (0.15: end is open)
        (0.06, 0.15, (1, 1)),  # between two centres: no frame
        (0.0, 0.049, (0, 0)),
        (1.23, 4.56, (12, 46)),
        (0.0, 0.051, (0, 1)),
        (2.0, 2.1, (20, 21)),
    ],
)
def test_active_frame_range_exact(onset, end, expected):
    assert active_frame_range(onset, end) == expected


def test_frame_grid_matches_functions_and_validates():
    g = FrameGrid()
    assert (g.shift, g.shift_seconds) == (800, 0.1)
    assert g.num_frames(8000 * 3 + 5) == 30
    assert g.active_frame_range(1.23, 4.56) == (12, 46)
    assert g.frame_to_samples(3) == 2400
    with pytest.raises(ValueError, match="fs must be > 0"):
        FrameGrid(fs=0)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 100_000), st.integers(1, 20_000))
def test_centre_rule_property(onset_ms, dur_ms):
    onset, end = onset_ms / 1000, (onset_ms + dur_ms) / 1000
    a, b = active_frame_range(onset, end)
    centre = lambda t: t * 0.1 + 0.05  # noqa: E731
    for t in range(a, b):
        assert onset - 1e-9 <= centre(t) < end + 1e-9
    if a > 0:
        assert not (onset <= centre(a - 1) - 1e-9)  # frame a-1's centre is before the onset
    assert not (centre(b) < end - 1e-9)  # frame b's centre is at or after the end
