"""Error intervals for the timeline pictures: exact on the tutorial pair, and consistent with score()."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.scoring.der import score
from espnet2_tsdia.scoring.regions import error_regions


def T(reco, onset, end, spk):
    return Turn(reco=reco, onset=float(onset), duration=float(end - onset), speaker=spk)


REF = [T("f", 0, 10, "A"), T("f", 12, 20, "B"), T("f", 24, 27, "A"), T("f", 30, 40, "C")]
HYP = [T("f", 2, 13, "a"), T("f", 13, 14, "d"), T("f", 14, 20, "b"), T("f", 22, 38, "c"), T("f", 38, 40, "d")]


def test_tutorial_regions_exact():
    r = error_regions(REF, HYP)  # optimal mapping a->A, b->B, c->C; d unmapped
    assert r.miss == ((0.0, 2.0, 1),)
    assert r.false_alarm == ((10.0, 12.0, 1), (22.0, 24.0, 1), (27.0, 30.0, 1))
    # [12, 13] B labelled a (->A) and [13, 14] B labelled d (unmapped) join into one interval
    assert r.confusion == ((12.0, 14.0, 1), (24.0, 27.0, 1), (38.0, 40.0, 1))
    assert (r.seconds("miss"), r.seconds("false_alarm"), r.seconds("confusion")) == (2.0, 7.0, 7.0)


def test_counts_in_overlap_and_explicit_mapping():
    ref = [T("f", 0, 4, "A"), T("f", 0, 4, "B")]
    hyp = [T("f", 0, 2, "x"), T("f", 2, 4, "y"), T("f", 2, 4, "z"), T("f", 2, 4, "w")]
    r = error_regions(ref, hyp, mapping={"x": "A", "y": "B"})
    assert r.miss == ((0.0, 2.0, 1),)  # two speakers, one hypothesis on [0, 2]
    assert r.false_alarm == ((2.0, 4.0, 1),)  # three hypotheses for two speakers on [2, 4]
    assert r.confusion == ((2.0, 4.0, 1),)  # A is labelled z or w, not x
    with pytest.raises(ValueError, match="one-to-one"):
        error_regions(ref, hyp, mapping={"x": "A", "y": "A"})
    with pytest.raises(ValueError, match="one recording, got 2"):
        error_regions(ref, [T("g", 0, 1, "x")])
    with pytest.raises(ValueError, match="kind must be one of"):
        r.seconds("fa")


turns = st.lists(st.tuples(st.integers(0, 30), st.integers(1, 10), st.sampled_from("ABC")), min_size=0, max_size=6)


@settings(max_examples=30, deadline=None)
@given(turns, turns)
def test_regions_add_up_to_der_components(raw_ref, raw_hyp):
    ref = [T("f", o, o + d, s) for o, d, s in raw_ref] or [T("f", 0, 1, "A")]
    hyp = [T("f", o, o + d, s.lower()) for o, d, s in raw_hyp]
    r = error_regions(ref, hyp)
    s = score(ref, hyp).total
    assert r.seconds("miss") == pytest.approx(s.miss, abs=1e-9)
    assert r.seconds("false_alarm") == pytest.approx(s.false_alarm, abs=1e-9)
    assert r.seconds("confusion") == pytest.approx(s.confusion, abs=1e-9)
    for kind in ("miss", "false_alarm", "confusion"):
        iv = getattr(r, kind)
        assert all(a < b and c > 0 for a, b, c in iv)
        assert all(iv[i][1] <= iv[i + 1][0] for i in range(len(iv) - 1))
