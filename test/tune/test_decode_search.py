"""Decode-option search: exact frame errors of every candidate, the choice, and the CLI's files."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from espnet2_tsdia.bin.tune_decode import main as tune_decode_main
from espnet2_tsdia.formats.kaldi import write_scp
from espnet2_tsdia.formats.rttm import Turn, write_rttm
from espnet2_tsdia.inference.postprocess import PostprocessOptions, target_readout
from espnet2_tsdia.tune.decode import DecodeGrid, decode_config, hypothesis_turns, read_posteriors, search

READOUT = target_readout("powerset", 4)


def powerset(p_target: np.ndarray) -> np.ndarray:
    """(T,) target probabilities -> (T, 4) powerset posteriors (all target mass on class 1)."""
    p = np.zeros((len(p_target), 4))
    p[:, 1] = p_target
    p[:, 0] = 1 - p_target
    return p


def example():
    """Recording r1 (20 frames = 2 s): A talks in frames 2-9, B in 12-17. A's posteriors are 0.4
    where A talks and 0.1 elsewhere, with a one-frame spike of 0.9 at frame 15; B's are 0.8 where
    B talks. Recording r2: speaker C talks in frames 0-4 and is never decoded."""
    ref = [
        Turn("r1", 0.2, 0.8, "A"),
        Turn("r1", 1.2, 0.6, "B"),
        Turn("r2", 0.0, 0.5, "C"),
    ]
    a = np.full(20, 0.1)
    a[2:10] = 0.4
    a[15] = 0.9
    b = np.full(20, 0.1)
    b[12:18] = 0.8
    post = {("r1", "A"): powerset(a), ("r1", "B"): powerset(b)}
    return ref, post


def test_every_candidate_is_scored_exactly_and_the_best_comes_first():
    ref, post = example()
    grid = DecodeGrid(threshold=(0.5, 0.3), median_filter=(1, 3))
    trials = search(post, ref, grid, READOUT)
    by = {(t.options.threshold, t.options.median_filter): t for t in trials}
    speech = 8 + 6 + 5  # A, B, and the undecoded C
    # threshold 0.5: A missed (8 frames) and its spike is a false alarm unless filtered; C missed (5)
    assert (by[0.5, 1].miss, by[0.5, 1].false_alarm, by[0.5, 1].speech) == (13, 1, speech)
    assert (by[0.5, 3].miss, by[0.5, 3].false_alarm) == (13, 0)
    # threshold 0.3 finds A; the spike at 15 lies outside A's speech: FA 1 without the filter
    assert (by[0.3, 1].miss, by[0.3, 1].false_alarm) == (5, 1)
    assert (by[0.3, 3].miss, by[0.3, 3].false_alarm) == (5, 0)
    assert trials[0].options == PostprocessOptions(threshold=0.3, median_filter=3)
    assert trials[0].error == pytest.approx(5 / 19)
    assert [t.error for t in trials] == sorted(t.error for t in trials)


def test_ties_keep_the_grid_order():
    ref, post = example()
    trials = search(post, ref, DecodeGrid(threshold=(0.3,), median_filter=(3, 5)), READOUT)
    # both filters remove the spike and keep the runs: equal error, the first value wins
    assert trials[0].error == trials[1].error and trials[0].options.median_filter == 3


def test_bad_grids_raise_naming_the_option():
    with pytest.raises(ValueError, match="median_filter must be an odd number of frames >= 1, got 4"):
        DecodeGrid(median_filter=(1, 4))
    with pytest.raises(ValueError, match=r"unknown options \['beam'\]"):
        DecodeGrid.from_dict({"beam": [1]})
    with pytest.raises(ValueError, match="threshold must be a non-empty list"):
        DecodeGrid.from_dict({"threshold": []})


def test_decode_config_keeps_the_base_keys():
    out = decode_config({"batch_size": 8, "threshold": 0.5}, PostprocessOptions(threshold=0.3, median_filter=5))
    assert out == {"batch_size": 8, "threshold": 0.3, "median_filter": 5, "min_speech": 0.0, "min_silence": 0.0}


def test_hypothesis_turns_name_each_target():
    _, post = example()
    turns = hypothesis_turns(post, READOUT, PostprocessOptions(threshold=0.3, median_filter=3))
    assert [(t.speaker, round(t.onset, 3), round(t.duration, 3)) for t in turns] == [("A", 0.2, 0.8), ("B", 1.2, 0.6)]


def test_cli_writes_the_chosen_config(tmp_path):
    ref, post = example()
    write_rttm(tmp_path / "ref.rttm", ref)
    (tmp_path / "post").mkdir()
    scp = {}
    for (reco, spk), p in post.items():
        np.save(tmp_path / "post" / f"{reco}__{spk}.npy", p)
        scp[f"{reco}__{spk}"] = str(tmp_path / "post" / f"{reco}__{spk}.npy")
    write_scp(tmp_path / "posteriors.scp", scp)
    assert sorted(read_posteriors(tmp_path / "posteriors.scp")) == [("r1", "A"), ("r1", "B")]
    (tmp_path / "grid.yaml").write_text("threshold: [0.5, 0.3]\nmedian_filter: [1, 3]\n")
    (tmp_path / "base.yaml").write_text("batch_size: 8\nthreshold: 0.5\nmedian_filter: 11\n")
    out = tmp_path / "search"
    args = ["--posteriors", str(tmp_path / "posteriors.scp"), "--ref", str(tmp_path / "ref.rttm")]
    args += ["--grid", str(tmp_path / "grid.yaml"), "--base_config", str(tmp_path / "base.yaml"), "--out_dir", str(out)]
    assert tune_decode_main(args) == 0
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best == {"batch_size": 8, "threshold": 0.3, "median_filter": 3, "min_speech": 0.0, "min_silence": 0.0}
    rows = (out / "search.tsv").read_text().splitlines()
    assert len(rows) == 1 + 4 and rows[1].split("\t")[:4] == ["0.3", "3", "0", "0"]
    (tmp_path / "bad.yaml").write_text("thresholds: [0.5]\n")
    assert tune_decode_main([*args[:4], "--grid", str(tmp_path / "bad.yaml"), "--out_dir", str(out)]) == 2
    assert Path(out / "best.yaml").is_file()
