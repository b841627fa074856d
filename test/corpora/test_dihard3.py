"""prepare_dihard3 on a tiny DIHARD III: one dev and one eval release in LDC's layout.

Where the layout comes from: the directory structure and formats are those of the release's
``docs/README.txt`` (LDC2022S14, identical to LDC2021E02): ``data/{flac,rttm,sad,uem}``,
``data/uem_scoring/{core,full}/`` with one UEM per domain plus ``all.uem``, ``docs/file.tbl``
(md5, size, date, name) and ``docs/recordings.tbl``. That table is tab-separated with a header
line (the DIHARD III baseline's ``score_sad.py`` reads it with pandas, ``sep='\\t'``, by the
column names ``uri`` and ``domain``); lhotse's ``prepare_dihard3`` reads nine columns, the first
five being uri, in_core (``True``/``False``), lang, domain, source. The remaining four column
names are not public: the miniature names them ``col6``..``col9`` (the code reads columns by
name and ignores them). The eleven domain names are the baseline README's. The baseline scores
with ``dscore -u data/uem_scoring/{full,core}/all.uem`` and ``--collar 0``. Speaker labels
like ``FEE029`` follow the DIHARD I/II releases; DIHARD III's spelling does not matter here
(labels are prefixed with the recording). The ``file.tbl`` line layout (md5, size, date, name)
follows the README's description; the code only needs an md5 field and the name last.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from espnet2_tsdia.bin import prepare_corpus
from espnet2_tsdia.corpora import dihard3
from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.corpora.dihard3 import describe_domains, holdout_per_domain, prepare_dihard3, read_recordings_table
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.utils.download import md5sum
from test.corpora.native import (
    check_corpus_yaml,
    data_files,
    label_conversion,
    rttm_rows,
    run_data_sh,
    validate,
    write_audio,
    write_text,
)

HEADER = "uri\tin_core\tlang\tdomain\tsource\tcol6\tcol7\tcol8\tcol9"
#: uri -> (domain, in_core, duration, turns (onset, end, speaker))
DEV: Dict[str, Tuple[str, bool, float, List[Tuple[float, float, str]]]] = {
    "DH_DEV_0001": ("audiobooks", True, 12.0, [(0.5, 11.0, "FEE029")]),
    "DH_DEV_0002": ("audiobooks", False, 10.0, [(1.0, 4.0, "MAE046")]),
    "DH_DEV_0003": ("cts", True, 12.0, [(0.0, 3.0, "FEE013"), (2.5, 6.0, "MAE017"), (2.0, 3.5, "FEE013")]),
    "DH_DEV_0004": ("meeting", True, 12.0, [(1.0, 2.0, "A"), (1.5, 3.0, "B"), (2.0, 5.0, "C"), (4.0, 11.5, "A")]),
    "DH_DEV_0005": ("meeting", False, 10.0, [(0.0, 9.0, "A"), (8.0, 9.5, "B")]),
}
EVAL = {
    "DH_EVAL_0001": ("cts", True, 12.0, [(0.2, 5.0, "FEE101"), (4.0, 9.0, "MAE102")]),
    "DH_EVAL_0002": ("webvideo", False, 10.0, [(0.0, 2.0, "A"), (3.0, 9.0, "B")]),
    "DH_EVAL_0003": ("meeting", True, 12.0, [(1.0, 6.0, "A"), (6.0, 11.0, "B")]),
}
#: scoring regions that are not the whole file: DH_DEV_0004's UEM ends at 10 s (its last turn
#: runs to 11.5 s); DH_EVAL_0003's own data/uem file disagrees with the scoring UEM
UEM_END = {"DH_DEV_0004": 10.0}


def _rttm(uri: str, turns) -> str:
    return "".join(f"SPEAKER {uri} 1 {a:.3f} {b - a:.3f} <NA> <NA> {s} <NA> <NA>\n" for a, b, s in turns)


def build_release(root: Path, recs, *, name: str) -> Path:
    """One release in LDC's layout under ``root/name``."""
    rel = root / name
    rows = [HEADER]
    full: Dict[str, List[str]] = {}
    core: Dict[str, List[str]] = {}
    for i, (uri, (domain, in_core, dur, turns)) in enumerate(sorted(recs.items())):
        rows.append(f"{uri}\t{in_core}\teng\t{domain}\tLDC2000X{i:02d}\tx\ty\tz\tw")
        write_audio(rel / "data" / "flac" / f"{uri}.flac", dur, seed=i)
        write_text(rel / "data" / "rttm" / f"{uri}.rttm", _rttm(uri, turns))
        write_text(rel / "data" / "sad" / f"{uri}.lab", "".join(f"{a:.3f} {b:.3f} speech\n" for a, b, _ in turns))
        end = UEM_END.get(uri, dur)
        line = f"{uri} 1 0.000 {end:.3f}\n"
        own = f"{uri} 1 0.000 {dur - 2:.3f}\n" if uri == "DH_EVAL_0003" else line
        write_text(rel / "data" / "uem" / f"{uri}.uem", own)
        full.setdefault(domain, []).append(line)
        if in_core:
            core.setdefault(domain, []).append(line)
    for cond, table in (("full", full), ("core", core)):
        for domain, lines in table.items():
            write_text(rel / "data" / "uem_scoring" / cond / f"{domain}.uem", "".join(lines))
        write_text(
            rel / "data" / "uem_scoring" / cond / "all.uem", "".join(sorted(ln for v in table.values() for ln in v))
        )
    write_text(rel / "docs" / "recordings.tbl", "\n".join(rows) + "\n")
    files = sorted(p for p in rel.rglob("*") if p.is_file())
    write_text(
        rel / "docs" / "file.tbl",
        "".join(f"{md5sum(p)}\t{p.stat().st_size}\t2021-01-13\t{name}/{p.relative_to(rel)}\n" for p in files),
    )
    return rel


def build_dihard3(root: Path) -> Path:
    build_release(root, DEV, name="LDC2022S12_third_dihard_challenge_dev")
    build_release(root, EVAL, name="LDC2022S14_third_dihard_challenge_eval")
    return root


def test_recordings_table(tmp_path):
    t = write_text(tmp_path / "recordings.tbl", HEADER + "\nDH_DEV_0001\tTrue\teng\tcts\tLDC\ta\tb\tc\td\n")
    assert read_recordings_table(t)["DH_DEV_0001"].domain == "cts"
    write_text(t, "uri\tlang\tdomain\nDH_DEV_0001\teng\tcts\n")
    with pytest.raises(DataFormatError, match=r"recordings\.tbl:1: header line lacks column\(s\) in_core"):
        read_recordings_table(t)
    write_text(t, HEADER + "\nDH_DEV_0001\tyes\teng\tcts\tLDC\ta\tb\tc\td\n")
    with pytest.raises(DataFormatError, match=r"recordings\.tbl:2: in_core must be True or False, got 'yes'"):
        read_recordings_table(t)


def test_prepare(tmp_path):
    corpus = build_dihard3(tmp_path / "dihard3")
    reports = prepare_dihard3(corpus, tmp_path / "data")
    assert sorted(reports) == [
        "dihard3_dev_core",
        "dihard3_dev_full",
        "dihard3_dev_train",
        "dihard3_dev_valid",
        "dihard3_eval_core",
        "dihard3_eval_full",
    ]
    full = data_files(tmp_path / "data" / "dihard3_dev_full")
    assert [ln.split()[0] for ln in full["wav.scp"]] == sorted(DEV)
    flac = corpus / "LDC2022S12_third_dihard_challenge_dev" / "data" / "flac" / "DH_DEV_0001.flac"
    assert full["wav.scp"][0] == f"DH_DEV_0001 {flac}"  # mono 16 kHz FLAC, read in place
    assert full["reco2domain"] == [
        "DH_DEV_0001 audiobooks",
        "DH_DEV_0002 audiobooks",
        "DH_DEV_0003 cts",
        "DH_DEV_0004 meeting",
        "DH_DEV_0005 meeting",
    ]
    assert full["uem"][3] == "DH_DEV_0004 1 0.000 10.000"
    # the core condition: the in_core recordings with the core scoring UEM
    core = data_files(tmp_path / "data" / "dihard3_dev_core")
    assert [ln.split()[0] for ln in core["wav.scp"]] == ["DH_DEV_0001", "DH_DEV_0003", "DH_DEV_0004"]
    assert core["uem"] == ["DH_DEV_0001 1 0.000 12.000", "DH_DEV_0003 1 0.000 12.000", "DH_DEV_0004 1 0.000 10.000"]
    # turn past the scoring UEM clipped, same-speaker overlap merged, both reported
    assert reports["dihard3_dev_full"].changed == [
        "DH_DEV_0004 DH_DEV_0004_A [4.000, 11.500]: clipped to the scoring UEM [0.000, 10.000] -> [4.000, 10.000]",
        "DH_DEV_0003 DH_DEV_0003_FEE013: merged 2 overlapping turns [0.000, 3.000], [2.000, 3.500] into [0.000, 3.500]",
    ]
    assert reports["dihard3_dev_full"].dropped == []
    rows = rttm_rows(tmp_path / "data" / "dihard3_dev_full" / "rttm")
    assert ("DH_DEV_0004", "1", "DH_DEV_0004_A", 4.0, 10.0) in rows
    assert {r[2] for r in rows if r[0] == "DH_DEV_0003"} == {"DH_DEV_0003_FEE013", "DH_DEV_0003_MAE017"}
    # eval: DH_EVAL_0003's own UEM differs from the scoring UEM: reported, the scoring UEM wins
    ev = data_files(tmp_path / "data" / "dihard3_eval_full")
    assert ev["uem"][2] == "DH_EVAL_0003 1 0.000 12.000"
    assert reports["dihard3_eval_full"].changed == [
        "DH_EVAL_0003: data/uem/DH_EVAL_0003.uem [0.000, 10.000] differs from uem_scoring/full/all.uem "
        "[0.000, 12.000]; the scoring UEM is used"
    ]
    assert reports["dihard3_eval_core"].changed == []
    assert [ln.split()[0] for ln in data_files(tmp_path / "data" / "dihard3_eval_core")["wav.scp"]] == [
        "DH_EVAL_0001",
        "DH_EVAL_0003",
    ]
    for d in reports:
        validate(tmp_path / "data" / d, expected_fs=16000)


def test_dev_split_is_per_domain_and_deterministic(tmp_path):
    corpus = build_dihard3(tmp_path / "dihard3")
    reports = prepare_dihard3(corpus, tmp_path / "data", parts=["dev"], conditions=["full"])
    assert sorted(reports) == ["dihard3_dev_full", "dihard3_dev_train", "dihard3_dev_valid"]
    valid = [ln.split()[0] for ln in data_files(tmp_path / "data" / "dihard3_dev_valid")["wav.scp"]]
    train = [ln.split()[0] for ln in data_files(tmp_path / "data" / "dihard3_dev_train")["wav.scp"]]
    # per domain the smallest SHA-1 of the uri, never a domain's last recording (cts has one)
    assert valid == ["DH_DEV_0002", "DH_DEV_0004"] and train == ["DH_DEV_0001", "DH_DEV_0003", "DH_DEV_0005"]
    table = read_recordings_table(corpus / "LDC2022S12_third_dihard_challenge_dev" / "docs" / "recordings.tbl")
    shuffled = dict(reversed(list(table.items())))
    assert holdout_per_domain(shuffled, 2) == valid and holdout_per_domain(table, 0) == []
    assert data_files(tmp_path / "data" / "dihard3_dev_valid")["uem"] == [
        "DH_DEV_0002 1 0.000 10.000",
        "DH_DEV_0004 1 0.000 10.000",
    ]
    prepare_dihard3(corpus, tmp_path / "data2", parts=["dev"], valid_per_domain=0)
    assert not (tmp_path / "data2" / "dihard3_dev_valid").exists()


def test_releases_found_or_named(tmp_path):
    corpus = build_dihard3(tmp_path / "dihard3")
    dev = corpus / "LDC2022S12_third_dihard_challenge_dev"
    # explicit release folders, no root needed
    reports = prepare_dihard3(
        None, tmp_path / "data", parts=["dev"], conditions=["core"], dev_dir=dev, valid_per_domain=0
    )
    assert sorted(reports) == ["dihard3_dev_core"]
    shutil.rmtree(corpus / "LDC2022S14_third_dihard_challenge_eval")
    with pytest.raises(
        FileNotFoundError,
        match=r"no DIHARD III eval release found under .*dihard3 \(a folder with docs/recordings\.tbl\)\. .*LDC2022S14.*--eval_dir",
    ):
        prepare_dihard3(corpus, tmp_path / "data", parts=["eval"])
    shutil.copytree(dev, corpus / "copy_of_dev")
    with pytest.raises(
        ValueError, match=r"two DIHARD III dev releases: .*LDC2022S12_third_dihard_challenge_dev and .*copy_of_dev"
    ):
        prepare_dihard3(corpus, tmp_path / "data", parts=["dev"])


def test_incomplete_release(tmp_path):
    corpus = build_dihard3(tmp_path / "dihard3")
    ev = corpus / "LDC2022S14_third_dihard_challenge_eval"
    shutil.rmtree(ev / "data" / "rttm")  # the blind challenge release has no references
    with pytest.raises(
        FileNotFoundError,
        match=r"missing data/rttm \(no data/rttm: this looks like the blind challenge release LDC2020E13",
    ):
        prepare_dihard3(corpus, tmp_path / "data", parts=["eval"])
    dev = corpus / "LDC2022S12_third_dihard_challenge_dev"
    (dev / "data" / "flac" / "DH_DEV_0003.flac").unlink()
    with pytest.raises(
        MissingAudioError, match=r"DH_DEV_0003\.flac: audio of recording 'DH_DEV_0003' .* or pass --exclude DH_DEV_0003"
    ):
        prepare_dihard3(corpus, tmp_path / "data", parts=["dev"])
    reports = prepare_dihard3(corpus, tmp_path / "data", parts=["dev"], exclude=["DH_DEV_0003"])
    assert reports["dihard3_dev_core"].dropped == ["DH_DEV_0003: excluded by the caller"]
    assert [ln.split()[0] for ln in data_files(tmp_path / "data" / "dihard3_dev_core")["wav.scp"]] == [
        "DH_DEV_0001",
        "DH_DEV_0004",
    ]


def test_inconsistent_annotations(tmp_path):
    corpus = build_dihard3(tmp_path / "dihard3")
    dev = corpus / "LDC2022S12_third_dihard_challenge_dev"
    scoring = dev / "data" / "uem_scoring"
    # the core UEM names a recording the table marks as not core
    core = scoring / "core" / "all.uem"
    saved = core.read_text()
    core.write_text(saved + "DH_DEV_0005 1 0.000 10.000\n")
    with pytest.raises(
        DataFormatError, match=r"core/all\.uem:4: names recording 'DH_DEV_0005', which .* marks as not in the core set"
    ):
        prepare_dihard3(corpus, tmp_path / "data", parts=["dev"])
    core.write_text(saved)
    # a per-domain UEM holding a recording of another domain
    (scoring / "full" / "cts.uem").write_text("DH_DEV_0003 1 0.000 12.000\nDH_DEV_0004 1 0.000 10.000\n")
    with pytest.raises(
        DataFormatError, match=r"full/cts\.uem:2: names recording 'DH_DEV_0004', whose domain in .* is meeting"
    ):
        prepare_dihard3(corpus, tmp_path / "data", parts=["dev"])
    (scoring / "full" / "cts.uem").write_text("DH_DEV_0003 1 0.000 12.000\n")
    # the full UEM misses a recording of the table
    full = scoring / "full" / "all.uem"
    full.write_text("".join(ln + "\n" for ln in full.read_text().splitlines() if "DH_DEV_0002" not in ln))
    with pytest.raises(
        DataFormatError, match=r"full/all\.uem: has no region for 1 recording\(s\) of the full set .*: DH_DEV_0002"
    ):
        prepare_dihard3(corpus, tmp_path / "data", parts=["dev"])
    # an RTTM naming another recording
    shutil.rmtree(corpus)
    corpus = build_dihard3(tmp_path / "dihard3")
    rttm = dev / "data" / "rttm" / "DH_DEV_0002.rttm"
    rttm.write_text(rttm.read_text() + "SPEAKER DH_DEV_0001 1 1.0 1.0 <NA> <NA> X <NA> <NA>\n")
    with pytest.raises(DataFormatError, match=r"DH_DEV_0002\.rttm:2: names recording 'DH_DEV_0001'"):
        prepare_dihard3(corpus, tmp_path / "data", parts=["dev"])


def test_md5_check(tmp_path):
    corpus = build_dihard3(tmp_path / "dihard3")
    ev = corpus / "LDC2022S14_third_dihard_challenge_eval"
    files = len((ev / "docs" / "file.tbl").read_text().splitlines())
    assert (
        dihard3.verify_md5(ev) == files == 3 * 4 + (3 + 1) + (2 + 1) + 1
    )  # 4 per recording, full/core UEMs per domain + all, the table
    rttm = ev / "data" / "rttm" / "DH_EVAL_0002.rttm"
    rttm.write_text(rttm.read_text().replace("B", "C"))
    with pytest.raises(
        ValueError,
        match=r"DH_EVAL_0002\.rttm: md5 [0-9a-f]{32} differs from [0-9a-f]{32} in .*file\.tbl:\d+; the copy is damaged",
    ):
        prepare_dihard3(corpus, tmp_path / "data", parts=["eval"], check_md5=True)
    assert sorted(prepare_dihard3(corpus, tmp_path / "data", parts=["eval"])) == [
        "dihard3_eval_core",
        "dihard3_eval_full",
    ]


def _rows(md: Path) -> Dict[str, str]:
    return {
        ln.split("|")[1]: ln for ln in md.read_text().splitlines() if ln.startswith("|") and not ln.startswith("|-")
    }


def test_describe_row_and_domains(tmp_path):
    """The dataset description of dihard3_eval_full: one row for the set (describe CLI) and one
    per domain. Hand-computed: speech 8.8 + 8 + 10 s in 34 s, overlap 1 s (DH_EVAL_0001),
    turns 4.8 5 2 6 5 5 s."""
    from espnet2_tsdia.bin import describe

    corpus = build_dihard3(tmp_path / "dihard3")
    prepare_dihard3(corpus, tmp_path / "data", parts=["eval"])
    data = tmp_path / "data" / "dihard3_eval_full"
    assert describe.main([str(data), "--out_dir", str(tmp_path / "desc"), "--no_plots"]) == 0
    row = _rows(tmp_path / "desc" / "dihard3_eval_full.md")["dihard3_eval_full"]
    assert row == "|dihard3_eval_full|3|0.01|2|2.00|2|3.7|21.2|4.63|"
    written = describe_domains(data, tmp_path / "domains")
    rows = _rows(tmp_path / "domains" / "dihard3_eval_full_domains.md")
    assert list(rows) == ["set", "cts", "meeting", "webvideo", "dihard3_eval_full"]
    assert rows["cts"] == "|cts|1|0.00|2|2.00|2|11.4|26.7|4.90|"
    assert rows["meeting"] == "|meeting|1|0.00|2|2.00|2|0.0|16.7|5.00|"
    assert rows["webvideo"] == "|webvideo|1|0.00|2|2.00|2|0.0|20.0|4.00|"
    assert rows["dihard3_eval_full"] == row
    stats = json.loads((tmp_path / "domains" / "dihard3_eval_full_domains.json").read_text())
    assert stats["cts"]["recordings"] == 1 and tmp_path / "domains" / "cts_recordings.csv" in written


def test_label_conversion(tmp_path):
    corpus = build_dihard3(tmp_path / "dihard3")
    prepare_dihard3(corpus, tmp_path / "data", parts=["eval"], conditions=["core"])
    examples = label_conversion(tmp_path / "data" / "dihard3_eval_core", tmp_path / "labels")
    assert examples == [
        "DH_EVAL_0001__DH_EVAL_0001_FEE101",
        "DH_EVAL_0001__DH_EVAL_0001_MAE102",
        "DH_EVAL_0003__DH_EVAL_0003_A",
        "DH_EVAL_0003__DH_EVAL_0003_B",
    ]


def test_bad_options():
    with pytest.raises(ValueError, match="unknown DIHARD III condition 'fullcore'; expected one of full, core"):
        prepare_dihard3("x", "y", conditions=["fullcore"])
    with pytest.raises(ValueError, match="unknown DIHARD III part 'test'; expected one of dev, eval"):
        prepare_dihard3("x", "y", parts=["test"])


def test_corpus_yaml():
    conf = check_corpus_yaml("dihard3", "DIHARD3")
    assert conf["scoring"]["collar"] == 0.0 and conf["scoring"]["skip_overlap"] is False
    assert len(conf["domains"]) == 11


def test_cli_check_and_prepare(tmp_path, capsys):
    corpus = build_dihard3(tmp_path / "dihard3")
    assert prepare_corpus.main(["dihard3", "download", "--corpus_dir", str(corpus), "--check_md5", "true"]) == 0
    out = tmp_path / "data"
    args = ["--corpus_dir", str(corpus), "--out_dir", str(out), "--parts", "eval", "--conditions", "full"]
    assert prepare_corpus.main(["dihard3", *args]) == 0
    assert (out / "dihard3_eval_full" / "reco2domain").is_file()
    assert (out / "dihard3_domains" / "dihard3_eval_full_domains.md").is_file()
    assert prepare_corpus.main(["dihard3", "validate", *args]) == 0
    capsys.readouterr()
    assert prepare_corpus.main(["dihard3", "download", "--corpus_dir", str(tmp_path / "none")]) == 2
    assert "DIHARD III root does not exist; set DIHARD3 in db.sh" in capsys.readouterr().err


def test_data_sh(tmp_path):
    corpus = build_dihard3(tmp_path / "dihard3")
    proc = run_data_sh("dihard3", "DIHARD3", corpus, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "dihard3_dev_core",
        "dihard3_dev_full",
        "dihard3_dev_train",
        "dihard3_dev_valid",
        "dihard3_domains",
        "dihard3_eval_core",
        "dihard3_eval_full",
    ]
    proc = run_data_sh("dihard3", "DIHARD3", None, tmp_path)
    assert proc.returncode == 1 and "DIHARD3 is not set" in proc.stderr
    (corpus / "LDC2022S14_third_dihard_challenge_eval" / "data" / "uem_scoring" / "core" / "all.uem").unlink()
    proc = run_data_sh("dihard3", "DIHARD3", corpus, tmp_path, "--stage", "2")
    assert (
        proc.returncode == 2
        and "not a complete DIHARD III eval release; missing data/uem_scoring/core/all.uem" in proc.stderr
    )
