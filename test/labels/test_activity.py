"""Turns -> frame activity -> turns: exact indices and the half-frame round trip."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.labels.activity import activity_to_turns, rasterize, runs, solo_mask, speaker_order


def T(onset, end, spk, reco="r"):
    return Turn(reco=reco, onset=onset, duration=end - onset, speaker=spk)


def test_rasterize_exact_frames():
    turns = [T(0.05, 0.35, "a"), T(0.2, 0.26, "b"), T(0.9, 2.0, "a")]
    act = rasterize(turns, ["a", "b"], 12)
    assert np.flatnonzero(act[0]).tolist() == [0, 1, 2, 9, 10, 11]  # cut at the recording end
    assert np.flatnonzero(act[1]).tolist() == [2]  # covers only the centre 0.25
    assert act.dtype == bool and act.shape == (2, 12)


def test_rasterize_errors():
    with pytest.raises(ValueError, match="speaker 'z', not one of"):
        rasterize([T(0, 1, "z")], ["a"], 10)
    with pytest.raises(ValueError, match="duplicate speakers"):
        rasterize([], ["a", "a"], 10)
    with pytest.raises(ValueError, match="num_frames must be >= 0"):
        rasterize([], ["a"], -1)


def test_runs_and_turns_back():
    active = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], bool)
    assert runs(active) == [(1, 3), (5, 6), (7, 10)]
    turns = activity_to_turns(active, reco="r", speaker="a")
    assert [(round(t.onset, 6), round(t.end, 6)) for t in turns] == [(0.1, 0.3), (0.5, 0.6), (0.7, 1.0)]
    assert runs(np.zeros(0, bool)) == []


def test_speaker_order_is_by_first_onset_then_id():
    turns = [T(5, 6, "z"), T(1, 2, "y"), T(1, 3, "b"), T(0.5, 9, "z")]
    assert speaker_order(turns) == ["z", "b", "y"]
    assert speaker_order(list(reversed(turns))) == ["z", "b", "y"]


def test_solo_mask():
    act = np.array([[1, 1, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], bool)
    assert solo_mask(act, 0).tolist() == [True, False, True, False]
    assert solo_mask(act[:1], 0).tolist() == [True, True, True, False]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20_000), st.integers(1, 5_000), st.sampled_from("abc")), min_size=1, max_size=12)
)
def test_round_trip_moves_each_boundary_by_at_most_half_a_frame(spec):
    """Random overlapping turns (ms): every boundary read back lies within 50 ms of a boundary
    of the merged original, and every frame's centre is inside the original speech."""
    turns = [T(a / 1000, (a + d) / 1000, s) for a, d, s in spec]
    n = 260  # 26 s: some turns end after the recording
    speakers = speaker_order(turns)
    act = rasterize(turns, speakers, n)
    for i, spk in enumerate(speakers):
        mine = [t for t in turns if t.speaker == spk]
        bounds = [x for t in mine for x in (t.onset, t.end)] + [n * 0.1]
        for back in activity_to_turns(act[i], reco="r", speaker=spk):
            for x in (back.onset, back.end):
                assert min(abs(x - b) for b in bounds) <= 0.05 + 1e-9
        for f in np.flatnonzero(act[i]):
            c = f * 0.1 + 0.05
            assert any(t.onset <= c + 1e-9 and c < t.end + 1e-9 for t in mine)
