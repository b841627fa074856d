"""The tsdia_score CLI and the RESULTS.md / result.json writers."""

from __future__ import annotations

import json

import pytest

from espnet2_tsdia.bin.tsdia_score import main
from espnet2_tsdia.formats.rttm import Turn, write_rttm
from espnet2_tsdia.formats.uem import UemSegment, write_uem
from espnet2_tsdia.scoring.der import score
from espnet2_tsdia.scoring.results_md import ScoringProtocol, results_markdown, write_results_md


def T(reco, onset, end, spk):
    return Turn(reco=reco, onset=float(onset), duration=float(end - onset), speaker=spk)


# pyannote.metrics' tutorial pair (also in test_der.py)
TUTORIAL_REF = [T("file1", 0, 10, "A"), T("file1", 12, 20, "B"), T("file1", 24, 27, "A"), T("file1", 30, 40, "C")]
TUTORIAL_HYP = [
    T("file1", 2, 13, "a"),
    T("file1", 13, 14, "d"),
    T("file1", 14, 20, "b"),
    T("file1", 22, 38, "c"),
    T("file1", 38, 40, "d"),
]


@pytest.fixture
def rttms(tmp_path):
    ref, hyp = tmp_path / "ref.rttm", tmp_path / "hyp.rttm"
    write_rttm(ref, TUTORIAL_REF + [T("g", 0, 5, "A")])
    write_rttm(hyp, TUTORIAL_HYP + [T("h", 0, 3, "x")])
    return ref, hyp


@pytest.mark.parametrize("collar,der", [(0.0, 0.5161290), (0.25, 0.4655172)])
def test_cli_reproduces_tutorial(tmp_path, rttms, collar, der):
    ref, hyp = rttms
    out = tmp_path / f"score_{collar}"
    assert main(["--ref", str(ref), "--hyp", str(hyp), "--collar", str(collar), "--out_dir", str(out)]) == 0
    res = json.loads((out / "result.json").read_text())
    file1 = next(r for r in res["recordings"] if r["reco"] == "file1")
    assert file1["der"] == pytest.approx(der, abs=1e-6)
    assert res["protocol"]["collar_per_side"] == collar
    assert res["protocol"]["pyannote_collar"] == 2 * collar
    assert res["protocol"]["uem_file"] is None
    assert res["missing_in_hyp"] == ["g"] and res["only_in_hyp"] == ["h"]
    g = next(r for r in res["recordings"] if r["reco"] == "g")
    assert g["miss_rate"] == pytest.approx(1.0)
    md = (out / "RESULTS.md").read_text()
    assert f"collar: {collar:g} s on each side" in md
    assert "overlapped speech: scored" in md
    assert "UEM: no UEM" in md
    assert f"|file1|{100 * der:.2f}|" in md
    assert "missing in hypothesis (scored as all miss): 1: `g`" in md
    assert "only in hypothesis (ignored): 1: `h`" in md


def test_cli_uem_and_skip_overlap(tmp_path, rttms):
    ref, hyp = rttms
    uem = tmp_path / "uem"
    write_uem(uem, {"file1": [UemSegment("file1", 0, 20)], "g": [UemSegment("g", 0, 5)]})
    out = tmp_path / "s"
    assert main(["--ref", str(ref), "--hyp", str(hyp), "--uem", str(uem), "--skip_overlap", "--out_dir", str(out)]) == 0
    res = json.loads((out / "result.json").read_text())
    assert res["protocol"]["uem_file"] == str(uem) and res["protocol"]["skip_overlap"] is True
    # in [0, 20]: A [0, 10] B [12, 20] vs a [2, 13] d [13, 14] b [14, 20] (a -> A, b -> B):
    # miss [0, 2] = 2 s, FA [10, 12] = 2 s, confusion [12, 14] = 2 s, 18 s of speech; g: 5 s all missed
    assert res["overall"]["scored_speech"] == pytest.approx(18 + 5)
    assert res["overall"]["der"] == pytest.approx((2 + 2 + 2 + 5) / 23)
    md = (out / "RESULTS.md").read_text()
    assert f"UEM: `{uem}`" in md and "overlapped speech: skipped" in md


def test_cli_missing_file_exit_2(tmp_path, rttms, capsys):
    ref, _ = rttms
    with pytest.raises(SystemExit) as e:
        main(["--ref", str(ref), "--hyp", str(tmp_path / "nope.rttm"), "--out_dir", str(tmp_path / "o")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--hyp: no such file:" in err and "nope.rttm" in err and "Traceback" not in err


def test_cli_bad_rttm_exit_2(tmp_path, rttms, capsys):
    ref, _ = rttms
    bad = tmp_path / "bad.rttm"
    bad.write_text("SPEAKER f 1 0.0 -1.0 <NA> <NA> a <NA> <NA>\n")
    with pytest.raises(SystemExit) as e:
        main(["--ref", str(ref), "--hyp", str(bad), "--out_dir", str(tmp_path / "o")])
    assert e.value.code == 2
    assert "bad.rttm:1: field 5 is a duration" in capsys.readouterr().err


def test_cli_bad_collar_exit_2(tmp_path, rttms, capsys):
    ref, hyp = rttms
    with pytest.raises(SystemExit) as e:
        main(["--ref", str(ref), "--hyp", str(hyp), "--collar", "-1", "--out_dir", str(tmp_path / "o")])
    assert e.value.code == 2
    assert "collar must be a finite number" in capsys.readouterr().err


def test_results_md_rejects_mismatched_protocol(tmp_path):
    result = score(TUTORIAL_REF, TUTORIAL_HYP, collar=0.25)
    with pytest.raises(ValueError, match="does not match the result"):
        write_results_md(tmp_path / "RESULTS.md", result, ScoringProtocol(collar=0.0))
    with pytest.raises(ValueError, match="protocol says UEM 'x.uem'"):
        results_markdown(result, ScoringProtocol(collar=0.25, uem="x.uem"))


def test_results_md_table_rows():
    result = score(TUTORIAL_REF, TUTORIAL_HYP)
    md = results_markdown(result, ScoringProtocol())
    rows = [line for line in md.splitlines() if line.startswith("|") and not line.startswith("|---")]
    assert rows[0] == "|recording|DER|miss|FA|confusion|JER|scored speech (s)|"
    # 2/31 miss, 7/31 FA, 7/31 confusion
    assert rows[1] == "|OVERALL|51.61|6.45|22.58|22.58|43.52|31.00|"
    assert rows[2].startswith("|file1|51.61|")
    assert len(rows) == 3
