"""Stock-EEND outputs: posteriors -> turns (exact frames), DiarizeSpeech's output, speaker counts."""

from __future__ import annotations

import numpy as np
import pytest

from espnet2_tsdia.baselines.eend_decode import EendPostprocess, posteriors_of, posteriors_to_turns, read_num_spk
from espnet2_tsdia.formats.errors import DataFormatError


def spans(turns, speaker):
    return [(round(t.onset, 3), round(t.end, 3)) for t in turns if t.speaker == speaker]


def test_posteriors_to_turns_frames_become_seconds_per_column():
    post = np.zeros((20, 3), dtype=np.float32)
    post[2:6, 0] = 0.9  # frames [2, 6) -> [0.2, 0.6) s
    post[10:20, 0] = 0.7
    post[4:9, 1] = 0.51
    post[7, 2] = 0.5  # not > threshold: the column stays silent
    turns = posteriors_to_turns(post, "rec", EendPostprocess(median_filter=1))
    assert {t.reco for t in turns} == {"rec"}
    assert spans(turns, "spk0") == [(0.2, 0.6), (1.0, 2.0)]
    assert spans(turns, "spk1") == [(0.4, 0.9)]
    assert spans(turns, "spk2") == []


def test_posteriors_to_turns_post_processing_order():
    post = np.zeros((30, 1), dtype=np.float32)
    post[3:10, 0] = 1.0
    post[6, 0] = 0.0  # a one-frame hole: the median filter (width 3) closes it
    post[12:25, 0] = 1.0
    post[20, 0] = 0.0
    post[28, 0] = 1.0  # a one-frame blip: removed by the median filter
    turns = posteriors_to_turns(post, "r", EendPostprocess(median_filter=3))
    assert spans(turns, "spk0") == [(0.3, 1.0), (1.2, 2.5)]
    # gaps under 0.3 s between runs are filled, runs under 1 s dropped
    turns = posteriors_to_turns(post, "r", EendPostprocess(median_filter=3, min_silence=0.3, min_speech=1.0))
    assert spans(turns, "spk0") == [(0.3, 2.5)]
    turns = posteriors_to_turns(post, "r", EendPostprocess(median_filter=3, min_speech=1.0))
    assert spans(turns, "spk0") == [(1.2, 2.5)]


def test_posteriors_to_turns_names_and_shape_errors():
    post = np.ones((5, 2), dtype=np.float32)
    turns = posteriors_to_turns(post, "r", speaker_names=["a", "b"])
    assert sorted(t.speaker for t in turns) == ["a", "b"]
    with pytest.raises(ValueError, match="1 speaker names for 2 posterior columns"):
        posteriors_to_turns(post, "r", speaker_names=["a"])
    with pytest.raises(ValueError, match=r"\(T, S\)"):
        posteriors_to_turns(np.ones(5), "r")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"threshold": 1.5}, "threshold"),
        ({"median_filter": 4}, "odd"),
        ({"min_speech": -1.0}, "min_silence and min_speech"),
    ],
)
def test_postprocess_options_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EendPostprocess(**kwargs)


def test_posteriors_of_routes_around_the_none_tuple():
    probs = np.full((1, 7, 2), 0.25, dtype=np.float32)
    assert posteriors_of((None, probs)) is not None and np.array_equal(posteriors_of((None, probs)), probs)
    assert np.array_equal(posteriors_of(probs), probs)  # a fixed release returning the array
    with pytest.raises(ValueError, match="unexpected DiarizeSpeech output"):
        posteriors_of((np.zeros(3), probs))  # separated waves: an enh+diar model
    with pytest.raises(ValueError, match=r"\(B, T, S\)"):
        posteriors_of((None, probs[0]))


def test_read_num_spk(tmp_path):
    p = tmp_path / "reco2num_spk"
    p.write_text("a 2\nb 3\n")
    assert read_num_spk(p) == {"a": 2, "b": 3}
    p.write_text("a 2\nb zero\n")
    with pytest.raises(DataFormatError, match=r"reco2num_spk:2: expected '<reco> <speakers >= 1>'"):
        read_num_spk(p)
