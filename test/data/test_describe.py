"""Dataset descriptions: exact table rows, LaTeX escaping, duration fallbacks, the CLI."""

from __future__ import annotations

import csv
import json
import struct

import pytest

from espnet2_tsdia.bin.describe import main
from espnet2_tsdia.data.describe import (
    describe_data_dir,
    latex_escape,
    latex_table,
    markdown_table,
    per_recording_csv,
    write_description,
)
from espnet2_tsdia.formats.rttm import Turn, write_rttm
from espnet2_tsdia.formats.uem import UemSegment, write_uem


def T(reco, onset, end, spk):
    return Turn(reco=reco, onset=float(onset), duration=float(end - onset), speaker=spk)


# r1 (10 s): A [0, 4], B [3, 6]: speech 6, overlap 1; r2 (20 s): A [0, 10], B [2, 4], C [5, 6]: speech 10, overlap 3
TURNS = [T("r1", 0, 4, "A"), T("r1", 3, 6, "B"), T("r2", 0, 10, "A"), T("r2", 2, 4, "B"), T("r2", 5, 6, "C")]


def make_dir(path, *, reco2dur=True, uem=None, turns=TURNS, recos=("r1", "r2")):
    path.mkdir(parents=True)
    (path / "wav.scp").write_text("".join(f"{r} /audio/{r}.wav\n" for r in recos))
    write_rttm(path / "rttm", turns)
    if reco2dur:
        (path / "reco2dur").write_text("r1 10.0\nr2 20.0\n")
    if uem is not None:
        write_uem(path / "uem", uem)
    return path


def png_size(path):
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_markdown_row_exact(tmp_path):
    d = describe_data_dir(make_dir(tmp_path / "train"))
    assert d.name == "train" and d.notes == ()
    # 30 s = 0.01 h; speakers 2/2.5/3; overlap 4/16; silence 14/30; turns (4+3+10+2+1)/5
    assert markdown_table([d]).splitlines()[2] == "|train|2|0.01|2|2.50|3|25.0|46.7|4.00|"


def test_latex_table_booktabs_and_escaping(tmp_path):
    d = describe_data_dir(make_dir(tmp_path / "x"), name="ami_dev 50%")
    tex = latex_table([d], caption="A & B", label="tab:ami")
    lines = tex.splitlines()
    assert r"    ami\_dev 50\% & 2 & 0.01 & 2 & 2.50 & 3 & 25.0 & 46.7 & 4.00 \\" in lines
    assert [ln.strip() for ln in lines if ln.strip().endswith("rule") or "rule{" in ln or "rule(" in ln] == [
        r"\toprule",
        r"\cmidrule(lr){4-6}",
        r"\midrule",
        r"\bottomrule",
    ]
    assert r"  \caption{A \& B}" in lines and r"  \label{tab:ami}" in lines
    assert latex_escape(r"a_b#c$d{e}~^\ ") == r"a\_b\#c\$d\{e\}\textasciitilde{}\textasciicircum{}\textbackslash{} "


def test_duration_fallbacks_are_reported(tmp_path):
    uem = {"r1": [UemSegment("r1", 0.0, 12.0)]}
    d = describe_data_dir(make_dir(tmp_path / "fb", reco2dur=False, uem=uem))
    assert d.duration_source == {"r1": "uem", "r2": "last_turn"}
    assert [r.duration for r in d.recordings] == [12.0, 10.0]
    assert len(d.notes) == 2
    assert "duration = end of the last UEM region (r1)" in d.notes[0]
    assert "duration = end of the last turn" in d.notes[1] and "(r2)" in d.notes[1]
    assert "- fb: 1 recording(s) not in reco2dur" in markdown_table([d])


def test_unknown_and_empty_recordings(tmp_path):
    turns = TURNS + [T("zz", 0, 1, "A")]
    d = describe_data_dir(make_dir(tmp_path / "u", turns=turns, recos=("r1", "r2", "r3")))
    # r3 has no duration and no turn; zz is not in wav.scp
    assert [r.reco for r in d.recordings] == ["r1", "r2"]
    assert any("without duration or turns left out (r3)" in n for n in d.notes)
    assert any("not in wav.scp ignored (zz)" in n for n in d.notes)


def test_per_recording_csv(tmp_path):
    d = describe_data_dir(make_dir(tmp_path / "c"))
    rows = list(csv.DictReader(per_recording_csv(d).splitlines()))
    assert [r["reco"] for r in rows] == ["r1", "r2"]
    assert rows[1]["overlap_ratio"] == "0.3000" and rows[1]["num_speakers"] == "3"
    assert rows[0]["mean_turn_length"] == "3.500" and rows[0]["duration_source"] == "reco2dur"


def test_write_description_files(tmp_path):
    d1 = describe_data_dir(make_dir(tmp_path / "a" / "train"))
    d2 = describe_data_dir(make_dir(tmp_path / "b" / "dev"))
    out = tmp_path / "out"
    written = write_description([d1, d2], out, name="toy")
    names = sorted(p.name for p in written)
    assert names == sorted(
        ["toy.md", "toy.tex", "toy.json"]
        + [f"{s}_{k}" for s in ("train", "dev") for k in ("recordings.csv", "speakers.png", "overlap.png", "turns.png")]
    )
    assert all(p.is_file() for p in written)
    assert png_size(out / "dev_turns.png") == (640, 400)
    stats = json.loads((out / "toy.json").read_text())
    assert stats["train"]["speaker_histogram"] == {"2": 1, "3": 1}
    with pytest.raises(ValueError, match="set names must be distinct"):
        write_description([d1, d1], out, name="toy")


def test_cli(tmp_path, capsys):
    a = make_dir(tmp_path / "train")
    b = make_dir(tmp_path / "other" / "dev", reco2dur=False)
    out = tmp_path / "desc"
    assert main([str(a), str(b), "--out_dir", str(out), "--name", "corpus", "--no_plots"]) == 0
    md = (out / "corpus.md").read_text().splitlines()
    assert md[4] == "|train|2|0.01|2|2.50|3|25.0|46.7|4.00|"
    assert md[5].startswith("|dev|2|0.00|2|2.50|3|25.0|0.0|")  # durations from the last turn: no silence
    assert (out / "corpus.tex").is_file() and not list(out.glob("*.png"))

    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "missing"), "--out_dir", str(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "no such data dir:" in err and "missing" in err and "Traceback" not in err

    with pytest.raises(SystemExit) as e:
        main([str(a), "--out_dir", str(out), "--set_names", "x", "y"])
    assert e.value.code == 2 and "--set_names has 2 names for 1 data dirs" in capsys.readouterr().err

    bad = make_dir(tmp_path / "bad")
    (bad / "rttm").write_text("SPEAKER r1 1 x 1.0 <NA> <NA> A <NA> <NA>\n")
    with pytest.raises(SystemExit) as e:
        main([str(bad), "--out_dir", str(out)])
    assert e.value.code == 2 and "rttm:1: onset/duration must be numbers" in capsys.readouterr().err
