import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.data.stats import PERCENTILES, activity_profile, recording_stats, set_stats
from espnet2_tsdia.formats.rttm import Turn


def T(onset, dur, spk, reco="r"):
    return Turn(reco=reco, onset=onset, duration=dur, speaker=spk)


def test_two_speakers_exact_values():
    # A: 1-4, B: 3-6, A: 8-9 in a 10 s recording
    turns = [T(1, 3, "A"), T(3, 3, "B"), T(8, 1, "A")]
    s = recording_stats(turns, 10.0)
    assert s.reco == "r"
    assert s.speech == pytest.approx(6.0)  # 1-6 and 8-9
    assert s.overlap == pytest.approx(1.0)  # 3-4
    assert s.silence == pytest.approx(4.0)
    assert s.overlap_ratio == pytest.approx(1 / 6)
    assert s.silence_ratio == pytest.approx(0.4)
    assert s.num_speakers == 2 and s.num_turns == 3
    assert sorted(s.turn_lengths) == [1.0, 3.0, 3.0]


def test_three_speakers_profile():
    prof = activity_profile([0, 1, 2], [4, 3, 5], duration=6)
    # 0-1: 1, 1-2: 2, 2-3: 3, 3-4: 2, 4-5: 1, 5-6: 0
    np.testing.assert_allclose(prof, [1, 2, 2, 1])


def test_self_overlap_is_not_overlap():
    turns = [T(0, 2, "A"), T(1, 2, "A")]
    s = recording_stats(turns, 4.0)
    assert s.overlap == 0.0
    assert s.speech == pytest.approx(3.0)
    assert s.num_turns == 1 and s.turn_lengths == (3.0,)


def test_touching_turns_do_not_overlap():
    s = recording_stats([T(0, 1, "A"), T(1, 1, "B")], 2.0)
    assert s.overlap == 0.0 and s.speech == pytest.approx(2.0) and s.silence == 0.0


def test_turns_clipped_to_duration():
    s = recording_stats([T(0, 5, "A"), T(4, 3, "B")], 5.0)
    assert s.speech == pytest.approx(5.0) and s.overlap == pytest.approx(1.0) and s.silence == 0.0


def test_empty_recording():
    s = recording_stats([], 3.0, reco="x")
    assert (s.speech, s.overlap, s.silence, s.num_speakers) == (0.0, 0.0, 3.0, 0)
    assert s.overlap_ratio == 0.0 and s.silence_ratio == 1.0


def test_errors():
    with pytest.raises(ValueError, match="one recording expected"):
        recording_stats([T(0, 1, "A", "r1"), T(0, 1, "B", "r2")], 2.0)
    with pytest.raises(ValueError, match="pass reco="):
        recording_stats([], 2.0)
    with pytest.raises(ValueError, match="duration must be finite"):
        recording_stats([T(0, 1, "A")], float("nan"))
    with pytest.raises(ValueError, match="belong to 'r'"):
        recording_stats([T(0, 1, "A")], 2.0, reco="q")
    with pytest.raises(ValueError, match="ends before it starts"):
        activity_profile([2.0], [1.0])
    with pytest.raises(ValueError, match="at least one recording"):
        set_stats([])


def test_set_stats_time_weighted():
    a = recording_stats([T(0, 2, "A", "a"), T(1, 2, "B", "a")], 4.0)  # speech 3, overlap 1
    b = recording_stats([T(0, 6, "A", "b")], 6.0)  # speech 6, overlap 0
    c = recording_stats([T(0, 1, "A", "c"), T(0, 1, "B", "c"), T(0, 1, "C", "c")], 1.0)
    s = set_stats([a, b, c])
    assert s.recordings == 3
    assert s.hours == pytest.approx(11 / 3600)
    assert s.speech_hours == pytest.approx(10 / 3600)
    assert s.overlap_ratio == pytest.approx(2 / 10)  # (1 + 0 + 1) / (3 + 6 + 1)
    assert s.silence_ratio == pytest.approx(1 / 11)
    assert (s.overlap_ratio_min, s.overlap_ratio_max) == (0.0, 1.0)
    assert s.speaker_histogram == ((1, 1), (2, 1), (3, 1))
    assert (s.speakers_min, s.speakers_max) == (1, 3) and s.speakers_mean == pytest.approx(2.0)
    assert s.num_turns == 6
    assert s.turn_length_median == pytest.approx(1.5)
    assert [p for p, _ in s.turn_length_percentiles] == list(PERCENTILES)
    d = s.to_dict()
    assert d["speaker_histogram"] == {"1": 1, "2": 1, "3": 1}


intervals = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 60), st.integers(1, 30)), min_size=0, max_size=12)


@settings(max_examples=60, deadline=None)
@given(intervals)
def test_sweep_matches_rasterisation(items):
    # integer decisecond grid: rasterising at that grid is exact
    turns = [T(on / 10, d / 10, f"S{s}") for s, on, d in items]
    dur = 10.0
    s = recording_stats(turns, dur, reco="r")
    grid = np.zeros((4, 100), dtype=bool)
    for spk, on, d in items:
        grid[spk, on : min(on + d, 100)] = True
    n = grid.sum(0)
    assert s.speech == pytest.approx((n >= 1).sum() / 10, abs=1e-9)
    assert s.overlap == pytest.approx((n >= 2).sum() / 10, abs=1e-9)
    assert s.silence == pytest.approx((n == 0).sum() / 10, abs=1e-9)
    assert math.isclose(s.speech + s.silence, dur, abs_tol=1e-9)
