"""Enrollment: spec text, options, and the choice (range, sources, determinism) as properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.examples.enrollment import (
    EnrollOptions,
    NoEnrollmentError,
    example_rng,
    format_enroll_spec,
    parse_enroll_spec,
    select_enrollment,
    solo_regions,
    stable_seed,
)

REGIONS = [("r1", 0, 80), ("r1", 120, 135), ("r2", 10, 55)]


def test_spec_round_trip_and_errors():
    text = format_enroll_spec(REGIONS)
    assert text == "r1:0-80,120-135 r2:10-55"
    assert parse_enroll_spec(text) == REGIONS
    assert parse_enroll_spec("-FaX_c_01:3-9") == [("-FaX_c_01", 3, 9)]
    for bad, match in [
        ("r1:5-5", "start < stop"),
        ("r1", "expected 'reco:start-stop"),
        ("r1:a-9", "start < stop"),
        ("", "empty"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_enroll_spec(bad)
    with pytest.raises(ValueError, match="cannot hold ':'"):
        format_enroll_spec([("a:b", 0, 1)])


def test_options_validate_and_convert_to_frames():
    o = EnrollOptions(min_seconds=2.0, max_seconds=5.0, min_enroll=0.5)
    assert o.length_range_frames == (20, 50) and o.min_enroll_frames == 5
    assert EnrollOptions(min_seconds=1.25, max_seconds=1.29, min_enroll=0.5).length_range_frames == (13, 13)
    with pytest.raises(ValueError, match="expected 0 < min_enroll <= min_seconds <= max_seconds"):
        EnrollOptions(min_seconds=3.0, max_seconds=2.0)
    with pytest.raises(ValueError, match="on_unusable must be one of"):
        EnrollOptions(on_unusable="ignore")
    assert EnrollOptions(min_enroll=0.04, min_seconds=1.0).min_enroll_frames == 1  # rounds up to a frame
    with pytest.raises(ValueError, match=r"other_recording_prob must be in \[0, 1\]"):
        EnrollOptions(other_recording_prob=1.5)


def test_fixed_choice_is_deterministic_and_depends_on_the_id():
    o = EnrollOptions()
    a = [select_enrollment(REGIONS, own_reco="r1", options=o, rng=example_rng("r1__A")) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    others = {select_enrollment(REGIONS, own_reco="r1", options=o, rng=example_rng(f"r1__S{i}")) for i in range(20)}
    assert len(others) > 5
    assert stable_seed("x", 1) == stable_seed("x", 1) != stable_seed("x", 2)


def test_training_draws_differ_and_are_reproducible():
    o = EnrollOptions()
    draws = [select_enrollment(REGIONS, own_reco="r1", options=o, rng=example_rng("e", draw=i)) for i in range(30)]
    again = [select_enrollment(REGIONS, own_reco="r1", options=o, rng=example_rng("e", draw=i)) for i in range(30)]
    assert draws == again and len(set(draws)) > 10


def test_sources_follow_other_recording_prob():
    own_only = EnrollOptions(other_recording_prob=0.0)
    other_only = EnrollOptions(other_recording_prob=1.0)
    for i in range(20):
        assert select_enrollment(REGIONS, own_reco="r1", options=own_only, rng=example_rng("e", draw=i))[0] == "r1"
        assert select_enrollment(REGIONS, own_reco="r1", options=other_only, rng=example_rng("e", draw=i))[0] == "r2"
    # no usable region of its own: the other recording, whatever the probability
    assert select_enrollment([("r2", 0, 30)], own_reco="r1", options=own_only, rng=example_rng("e"))[0] == "r2"


def test_length_is_cut_to_the_longest_usable_region_and_unusable_raises():
    o = EnrollOptions(min_seconds=2.0, max_seconds=5.0, min_enroll=0.5, other_recording_prob=0.0)
    reco, a, b = select_enrollment([("r", 100, 112), ("r", 200, 203)], own_reco="r", options=o, rng=example_rng("e"))
    assert (reco, a, b) == ("r", 100, 112)  # 1.2 s: the whole longest run; the 0.3 s run is unusable
    with pytest.raises(NoEnrollmentError, match="no single-speaker region of at least 0.5s among 2 region"):
        select_enrollment([("r", 0, 4), ("r", 9, 13)], own_reco="r", options=o, rng=example_rng("e"))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["r1", "r2"]), st.integers(0, 500), st.integers(1, 120)), min_size=1, max_size=8
    ),
    st.integers(0, 10_000),
)
def test_choice_lies_in_one_usable_region_with_a_length_in_range(spec, draw):
    regions = [(r, a, a + n) for r, a, n in spec]
    o = EnrollOptions(min_seconds=1.0, max_seconds=3.0, min_enroll=0.5)
    usable = [x for x in regions if x[2] - x[1] >= 5]
    if not usable:
        with pytest.raises(NoEnrollmentError):
            select_enrollment(regions, own_reco="r1", options=o, rng=example_rng("e", draw=draw))
        return
    reco, a, b = select_enrollment(regions, own_reco="r1", options=o, rng=example_rng("e", draw=draw))
    inside = [x for x in usable if x[0] == reco and x[1] <= a and b <= x[2]]
    assert inside
    longest = max(x[2] - x[1] for x in usable if x[0] == reco)
    assert 5 <= b - a <= 30 and (b - a >= 10 or b - a == longest)


def test_solo_regions_from_a_mask():
    assert solo_regions(np.array([0, 1, 1, 0, 1], bool), "r") == [("r", 1, 3), ("r", 4, 5)]
