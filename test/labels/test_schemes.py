"""Label schemes: exact labels, permutation equivariance, the registry."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from espnet2_tsdia.labels.schemes import SCHEMES, get_scheme, register_scheme, scheme_names

ACT = np.array(
    [
        [0, 1, 1, 1, 0, 0, 1],  # target
        [0, 0, 1, 0, 1, 0, 0],
        [0, 0, 0, 1, 1, 0, 0],
    ],
    bool,
)


def test_powerset_exact():
    assert get_scheme("powerset")(ACT, 0, 4).tolist() == [0, 1, 3, 3, 2, 0, 1]
    assert get_scheme("powerset")(ACT, 1, 4).tolist() == [0, 2, 3, 2, 3, 0, 2]
    assert get_scheme("powerset").num_classes(4) == 4


def test_binary_exact():
    y = get_scheme("binary")(ACT, 2, 4)
    assert y.tolist() == [0, 0, 0, 1, 1, 0, 0] and y.dtype == np.int8


def test_speaker_id_target_first_then_others_up_to_max():
    s = get_scheme("speaker_id")
    y = s(ACT, 1, 4)
    assert y.shape == (7, 4) and s.multi_label and s.num_classes(4) == 4
    assert y[:, 0].tolist() == ACT[1].astype(int).tolist()
    assert y[:, 1].tolist() == ACT[0].astype(int).tolist()
    assert y[:, 2].tolist() == ACT[2].astype(int).tolist()
    assert y[:, 3].tolist() == [0] * 7
    assert s(ACT, 2, 2)[:, 1].tolist() == ACT[0].astype(int).tolist()  # speaker row 1 dropped


@pytest.mark.parametrize("name", ["powerset", "binary", "speaker_id"])
def test_target_activity_inverts_encode(name):
    s = get_scheme(name)
    for target in range(3):
        assert s.target_activity(s(ACT, target, 4)).tolist() == ACT[target].tolist()


@settings(max_examples=40, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 5), st.integers(0, 30))), st.data())
def test_speaker_permutation_equivariance(act, data):
    """Reordering the speakers (rows) does not change powerset/binary labels of a target, and
    permutes the 'other' columns of speaker_id labels the same way."""
    s = act.shape[0]
    target = data.draw(st.integers(0, s - 1))
    perm = np.array(data.draw(st.permutations(range(s))))
    new_target = int(np.flatnonzero(perm == target)[0])  # row of the target after permuting
    permuted = act[perm]
    for name in ("powerset", "binary"):
        assert np.array_equal(get_scheme(name)(act, target, 8), get_scheme(name)(permuted, new_target, 8))
    y, yp = get_scheme("speaker_id")(act, target, 8), get_scheme("speaker_id")(permuted, new_target, 8)
    assert np.array_equal(y[:, 0], yp[:, 0])
    others = [r for r in range(s) if r != target]  # column 1+k of y is row others[k]
    others_p = [perm[r] for r in range(s) if r != new_target]  # column 1+k of yp is row others_p[k]
    for k, row in enumerate(others):
        assert np.array_equal(y[:, 1 + k], yp[:, 1 + others_p.index(row)])


def test_register_custom_scheme_and_errors():
    def three_way(act, target, max_speakers):
        return np.where(act[target], 1, np.where(act.any(0), 2, 0))

    try:
        register_scheme("test_three_way", encode=three_way, target_activity=lambda y: y == 1, classes=3)
        assert "test_three_way" in scheme_names()
        assert get_scheme("test_three_way")(ACT, 0, 4).tolist() == [0, 1, 1, 1, 2, 0, 1]
        with pytest.raises(ValueError, match="'test_three_way' is already registered"):
            register_scheme("test_three_way", encode=three_way, target_activity=lambda y: y == 1, classes=3)
    finally:
        SCHEMES.pop("test_three_way", None)
    with pytest.raises(
        ValueError, match=r"unknown label scheme 'nope'; registered: \['binary', 'powerset', 'speaker_id'"
    ):
        get_scheme("nope")
    bad = register_scheme("test_bad", encode=lambda a, t, m: np.zeros(3), target_activity=lambda y: y == 1, classes=2)
    try:
        with pytest.raises(ValueError, match=r"returned shape \(3,\), expected \(7,\)"):
            bad(ACT, 0, 4)
    finally:
        SCHEMES.pop("test_bad", None)
    with pytest.raises(ValueError, match=r"target row must be in \[0, 3\), got 3"):
        get_scheme("binary")(ACT, 3, 4)
    with pytest.raises(ValueError, match=r"activity must be a \(S, T\) bool array"):
        get_scheme("binary")(ACT.astype(int), 0, 4)
