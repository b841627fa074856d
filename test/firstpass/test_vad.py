"""Energy VAD: exact speech frames of synthetic recordings, smoothing, options."""

import numpy as np
import pytest

from espnet2_tsdia.firstpass.vad import VadOptions, drop_runs, energy_vad, fill_gaps
from espnet2_tsdia.frontend.frames import FrameGrid

FS = 8000
GRID = FrameGrid()  # 800 samples = 0.1 s per frame


def recording(segments, seconds, *, seed=0):
    """Quiet noise (-80 dB) with loud noise bursts at ``segments`` [(start_s, end_s)]."""
    rng = np.random.default_rng(seed)
    x = 1e-4 * rng.standard_normal(int(seconds * FS))
    for a, b in segments:
        x[int(a * FS) : int(b * FS)] = 0.3 * rng.standard_normal(int(b * FS) - int(a * FS))
    return x.astype(np.float32)


def test_bursts_are_exactly_their_frames():
    x = recording([(1.0, 2.5), (4.0, 5.0)], 6.0)
    speech = energy_vad(x, GRID)
    assert speech.shape == (60,)
    assert np.flatnonzero(speech).tolist() == list(range(10, 25)) + list(range(40, 50))


def test_short_bursts_are_dropped_and_short_gaps_filled():
    x = recording([(1.0, 1.1), (3.0, 4.0), (4.2, 5.0)], 6.0)  # a 1-frame burst; a 0.2 s gap
    speech = energy_vad(x, GRID, VadOptions(min_speech=0.2, min_silence=0.3))
    assert np.flatnonzero(speech).tolist() == list(range(30, 50))
    kept = energy_vad(x, GRID, VadOptions(min_speech=0.0, min_silence=0.0))
    assert np.flatnonzero(kept).tolist() == [10] + list(range(30, 40)) + list(range(42, 50))


def test_a_recording_without_level_changes_has_no_speech():
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal(4 * FS)).astype(np.float32)
    assert not energy_vad(x, GRID).any()
    assert energy_vad(np.zeros(799, np.float32), GRID).shape == (0,)


def test_smoothing_helpers():
    a = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0], bool)
    assert fill_gaps(a, 3).astype(int).tolist() == [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    assert drop_runs(a, 2).astype(int).tolist() == [0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"floor_percentile": 90, "peak_percentile": 50}, "floor_percentile < peak_percentile"),
        ({"relative_threshold": 1.0}, "relative_threshold must be in (0, 1), got 1.0"),
        ({"active_ratio": 0}, "active_ratio must be in (0, 1], got 0"),
        ({"min_speech": -1.0}, "min_speech must be >= 0 seconds, got -1.0"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError) as e:
        VadOptions(**kwargs)
    assert message in str(e.value)
