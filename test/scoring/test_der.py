"""DER/JER through espnet2_tsdia.scoring.der.score: known values, protocol conventions, edge cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.formats.rttm import Turn, merge_same_speaker
from espnet2_tsdia.formats.uem import UemSegment
from espnet2_tsdia.scoring.der import OVERALL, optimal_mapping, score


def T(reco, onset, end, spk):
    return Turn(reco=reco, onset=float(onset), duration=float(end - onset), speaker=spk)


# pyannote.metrics' tutorial pair ("basics" page of its documentation)
TUTORIAL_REF = [T("file1", 0, 10, "A"), T("file1", 12, 20, "B"), T("file1", 24, 27, "A"), T("file1", 30, 40, "C")]
TUTORIAL_HYP = [
    T("file1", 2, 13, "a"),
    T("file1", 13, 14, "d"),
    T("file1", 14, 20, "b"),
    T("file1", 22, 38, "c"),
    T("file1", 38, 40, "d"),
]


def test_tutorial_collar_0():
    r = score(TUTORIAL_REF, TUTORIAL_HYP)
    assert r.total.der == pytest.approx(0.5161290, abs=1e-6)
    # exact components: 31 s of reference speech, 2 s miss, 7 s false alarm, 7 s confusion
    assert (r.total.scored_speech, r.total.miss, r.total.false_alarm, r.total.confusion) == pytest.approx((31, 2, 7, 7))
    assert r["file1"].der == r.total.der
    # JER by hand: A (a): (3 + 5) / 16; B (b): 2 / 8; C (c): (8 + 2) / 18; mean over 3 speakers
    assert r.total.jer == pytest.approx((8 / 16 + 2 / 8 + 10 / 18) / 3, abs=1e-9)
    assert r.total.jer == pytest.approx(0.4351852, abs=1e-6)


def test_tutorial_mdeval_collar_025_is_pyannote_collar_05():
    r = score(TUTORIAL_REF, TUTORIAL_HYP, collar=0.25)
    assert r.total.der == pytest.approx(0.4655172, abs=1e-6)
    assert r.total.scored_speech == pytest.approx(29.0)
    assert r.collar == 0.25


def test_collar_is_per_side():
    ref = [T("r", 0, 10, "A")]
    hyp = [T("r", 0.2, 10, "a")]
    assert score(ref, hyp).total.der == pytest.approx(0.2 / 10)
    # 0.1 s each side: [0, 0.1] and [9.9, 10] leave the scored region; 0.1 s of the miss remains
    assert score(ref, hyp, collar=0.1).total.der == pytest.approx(0.1 / 9.8)
    # 0.25 s each side swallows the whole 0.2 s miss
    assert score(ref, hyp, collar=0.25).total.der == pytest.approx(0.0)


def test_skip_overlap():
    ref = [T("r", 0, 10, "A"), T("r", 6, 12, "B")]
    hyp = [T("r", 0, 12, "a")]
    scored = score(ref, hyp)
    # [6, 10]: B missed (4 s); [10, 12]: B labelled as A (2 s); 16 s of speech
    assert (scored.total.miss, scored.total.confusion, scored.total.scored_speech) == pytest.approx((4, 2, 16))
    skipped = score(ref, hyp, skip_overlap=True)
    assert (skipped.total.miss, skipped.total.confusion, skipped.total.scored_speech) == pytest.approx((0, 2, 8))
    assert skipped.total.der == pytest.approx(0.25)
    assert skipped.skip_overlap is True


def test_uem_restricts_scored_region():
    ref = [T("r", 0, 10, "A"), T("r", 20, 30, "B")]
    hyp = [T("r", 0, 10, "a"), T("r", 40, 45, "c")]
    # no UEM: B missed (10 s), c false alarm (5 s), 20 s of speech
    assert score(ref, hyp).total.der == pytest.approx(15 / 20)
    assert score(ref, hyp).total.region == pytest.approx(45.0)
    assert score(ref, hyp, uem={"r": [UemSegment("r", 0, 15)]}).total.der == pytest.approx(0.0)
    mid = score(ref, hyp, uem={"r": [UemSegment("r", 5, 25)]})
    assert (mid.total.scored_speech, mid.total.miss, mid.total.region) == pytest.approx((10, 5, 20))
    assert mid.uem_given is True


def test_uem_recording_without_reference_counts_false_alarm():
    ref = [T("r", 0, 10, "A")]
    hyp = [T("r", 0, 10, "a"), T("s", 0, 2, "x")]
    uem = {"r": [UemSegment("r", 0, 10)], "s": [UemSegment("s", 0, 5)]}
    r = score(ref, hyp, uem=uem)
    assert r["s"].false_alarm == pytest.approx(2.0)
    assert r["s"].der is None and r["s"].jer is None  # nothing to divide by
    assert r.total.der == pytest.approx(2 / 10)
    assert r.only_in_hyp == ()


def test_uem_without_region_for_reference_recording_raises():
    with pytest.raises(ValueError, match=r"no region for 1 reference recording.*'q'"):
        score([T("q", 0, 1, "A")], [], uem={"r": [UemSegment("r", 0, 1)]})


def test_same_speaker_overlaps_are_merged_first():
    ref = [T("r", 0, 10, "A"), T("r", 5, 15, "A")]
    hyp = [T("r", 0, 15, "a")]
    r = score(ref, hyp)
    # unmerged, [5, 10] would count twice (20 s of speech, 5 s missed); merged it is one 15 s turn
    assert r.total.scored_speech == pytest.approx(15.0)
    assert r.total.der == pytest.approx(0.0)
    assert (r.merged_ref, r.merged_hyp) == (1, 0)
    assert r.total == score(merge_same_speaker(ref)[0], hyp).total


def test_missing_hypothesis_recording_is_all_miss_and_hyp_only_is_ignored():
    ref = TUTORIAL_REF + [T("g", 0, 5, "A"), T("g", 4, 9, "B")]
    hyp = TUTORIAL_HYP + [T("h", 0, 3, "x")]
    r = score(ref, hyp, collar=0.25)
    assert r.missing_in_hyp == ("g",)
    assert r.only_in_hyp == ("h",)
    assert r["g"].der == pytest.approx(1.0) and r["g"].miss_rate == pytest.approx(1.0)
    assert r["g"].jer == pytest.approx(1.0)
    assert [x.reco for x in r.recordings] == ["file1", "g"]
    with pytest.raises(KeyError, match="'h' was not scored"):
        r["h"]
    # overall pools seconds: (file1 errors + all of g) / (file1 speech + g speech)
    f, g = r["file1"], r["g"]
    assert r.total.der == pytest.approx((f.error + g.scored_speech) / (f.scored_speech + g.scored_speech))
    assert r[OVERALL] is r.total


def test_identical_is_zero():
    r = score(TUTORIAL_REF, TUTORIAL_REF, collar=0.25, skip_overlap=True)
    assert r.total.der == 0.0 and r.total.jer == 0.0


turn_lists = st.lists(
    st.tuples(
        st.sampled_from(["r1", "r2"]),
        st.integers(0, 50),
        st.integers(1, 20),
        st.sampled_from(["A", "B", "C"]),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=25, deadline=None)
@given(turn_lists)
def test_renamed_speakers_score_zero(raw):
    ref = [T(r, o, o + d, s) for r, o, d, s in raw]
    hyp = [T(t.reco, t.onset, t.end, "spk_" + t.speaker.lower()) for t in ref]
    result = score(ref, hyp, collar=0.25)
    assert result.total.error == pytest.approx(0.0, abs=1e-9)
    assert result.total.jer == pytest.approx(0.0, abs=1e-9)


def test_optimal_mapping_tutorial():
    assert optimal_mapping(TUTORIAL_REF, TUTORIAL_HYP) == {"a": "A", "b": "B", "c": "C"}
    with pytest.raises(ValueError, match="one recording, got 2"):
        optimal_mapping(TUTORIAL_REF, [T("other", 0, 1, "x")])


@pytest.mark.parametrize("collar", [-0.1, float("nan"), float("inf")])
def test_bad_collar(collar):
    with pytest.raises(ValueError, match="collar must be a finite number"):
        score(TUTORIAL_REF, TUTORIAL_HYP, collar=collar)
