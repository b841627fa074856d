"""Window placement and stitching of window posteriors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.inference.windows import plan_windows, stitch


def test_plan_windows_exact():
    assert plan_windows(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert plan_windows(11, 4, 1) == [(0, 4), (3, 7), (6, 10), (7, 11)]  # last moved back to end at 11
    assert plan_windows(4, 4, 1) == [(0, 4)]
    assert plan_windows(3, 4, 0) == [(0, 3)]
    assert plan_windows(7, None) == [(0, 7)]
    assert plan_windows(0, 4, 1) == []


def test_plan_windows_errors():
    with pytest.raises(ValueError, match=r"overlap must be in \[0, window=4\), got 4"):
        plan_windows(10, 4, 4)
    with pytest.raises(ValueError, match="window must be >= 1"):
        plan_windows(10, 0)


@settings(max_examples=60, deadline=None)
@given(t=st.integers(1, 300), window=st.integers(1, 60), data=st.data())
def test_windows_cover_every_frame_with_equal_lengths(t, window, data):
    overlap = data.draw(st.integers(0, window - 1))
    spans = plan_windows(t, window, overlap)
    covered = np.zeros(t, int)
    for a, b in spans:
        covered[a:b] += 1
    assert covered.min() >= 1
    assert {b - a for a, b in spans} == {min(t, window)}
    assert spans[0][0] == 0 and spans[-1][1] == t
    starts = [a for a, _ in spans]
    assert starts == sorted(set(starts))


def test_stitch_averages_overlaps():
    spans = [(0, 3), (2, 5)]
    chunks = [np.array([[1.0], [2.0], [3.0]]), np.array([[5.0], [6.0], [7.0]])]
    assert stitch(chunks, spans, 5)[:, 0].tolist() == [1.0, 2.0, 4.0, 6.0, 7.0]


def test_stitch_of_identical_content_is_the_content():
    x = np.random.default_rng(0).random((23, 4)).astype(np.float32)
    spans = plan_windows(23, 8, 3)
    np.testing.assert_array_equal(stitch([x[a:b] for a, b in spans], spans, 23), x)


def test_stitch_errors():
    with pytest.raises(ValueError, match="frame 2 is covered by no window"):
        stitch([np.zeros((2, 1))], [(0, 2)], 3)
    with pytest.raises(ValueError, match="does not fit window"):
        stitch([np.zeros((3, 1))], [(0, 2)], 2)
    with pytest.raises(ValueError, match="1 chunks for 2 windows"):
        stitch([np.zeros((2, 1))], [(0, 2), (1, 3)], 3)
