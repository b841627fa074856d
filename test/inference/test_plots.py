"""Timeline and posterior pictures: files written at the asked pixel size, clear errors."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.inference.plots import (
    active_runs,
    plot_posteriors,
    plot_timeline,
    timeline_height_px,
    timeline_rows,
)


def T(reco, onset, end, spk):
    return Turn(reco=reco, onset=float(onset), duration=float(end - onset), speaker=spk)


REF = [T("f", 0, 10, "A"), T("f", 12, 20, "B"), T("f", 24, 27, "A"), T("f", 30, 40, "C"), T("g", 0, 1, "Z")]
HYP = [T("f", 2, 13, "a"), T("f", 13, 14, "d"), T("f", 14, 20, "b"), T("f", 22, 38, "c"), T("f", 38, 40, "d")]


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_timeline_rows_line_up():
    mapping = {"a": "A", "b": "B", "c": "C"}
    rows = timeline_rows(REF[:4], HYP, mapping)
    assert [r[0] for r in rows] == [
        "ref A",
        "hyp a -> A",
        "ref B",
        "hyp b -> B",
        "ref C",
        "hyp c -> C",
        "hyp d (unmapped)",
    ]


def test_plot_timeline_size_and_mapping(tmp_path):
    out = tmp_path / "sub" / "f.png"
    mapping = plot_timeline(REF, HYP, out, reco="f", width_px=800)
    assert mapping == {"a": "A", "b": "B", "c": "C"}
    # 3 error lanes + 7 speaker rows
    assert timeline_height_px(10) == 400
    assert png_size(out) == (800, 400)


def test_plot_timeline_window_and_errors(tmp_path):
    out = tmp_path / "w.png"
    plot_timeline(REF, HYP, out, reco="f", start=10, end=20)
    assert png_size(out) == (1600, 400)
    with pytest.raises(ValueError, match="'nope' has no turn.*known: \\['f', 'g'\\]"):
        plot_timeline(REF, HYP, tmp_path / "x.png", reco="nope")
    with pytest.raises(ValueError, match="start < end"):
        plot_timeline(REF, HYP, tmp_path / "x.png", reco="f", start=5, end=5)
    assert not (tmp_path / "x.png").exists()


def test_plot_timeline_reference_only(tmp_path):
    out = tmp_path / "g.png"
    assert plot_timeline(REF, HYP, out, reco="g") == {}
    assert png_size(out) == (1600, timeline_height_px(3 + 1))


def test_active_runs():
    assert active_runs([0, 1, 1, 0, 1]) == [(1, 3), (4, 5)]
    assert active_runs([1]) == [(0, 1)]
    assert active_runs([0, 0]) == []


def test_plot_posteriors(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=50)
    ref = (p[:, 1] + p[:, 3] > 0.5).astype(int)
    out = tmp_path / "p.png"
    plot_posteriors(
        p,
        out,
        class_names=["sil", "target", "others", "overlap"],
        ref_activity=ref,
        threshold=0.5,
        width_px=640,
        height_px=320,
    )
    assert png_size(out) == (640, 320)
    out1 = tmp_path / "p1.png"
    plot_posteriors(p[:, 1], out1)
    assert png_size(out1) == (1600, 400)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"posteriors": np.zeros((2, 3, 4))}, r"\(T, C\) or \(T,\), got shape \(2, 3, 4\)"),
        ({"posteriors": np.zeros((0, 2))}, "empty"),
        ({"posteriors": np.array([0.1, np.nan])}, "NaN"),
        ({"posteriors": np.zeros((5, 2)), "class_names": ["x"]}, "1 names for 2 classes"),
        (
            {"posteriors": np.zeros((5, 2)), "ref_activity": np.zeros(4)},
            r"shape \(5,\) like the posteriors, got \(4,\)",
        ),
        ({"posteriors": np.zeros(5), "frame_rate": 0.0}, "frame_rate must be > 0"),
    ],
)
def test_plot_posteriors_errors(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_posteriors(out_png=tmp_path / "x.png", **kwargs)
