"""prepare_aishell4 on a tiny AISHELL-4: TextGrids in the native long format (test sessions built
from the real DiariZen test RTTM, cropped), 8-channel 16 kHz FLAC."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from espnet2_tsdia.corpora.aishell4 import prepare_aishell4, read_textgrid, select_dev
from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.rttm import read_rttm
from test.corpora.native import (
    check_corpus_yaml,
    crop_rttm,
    data_files,
    label_conversion,
    real_annotations,
    rttm_rows,
    run_data_sh,
    textgrid,
    validate,
    write_audio,
    write_text,
)

#: test session -> (crop the real RTTM at, audio length)
TEST = {"L_R003S01C02": (28.0, 28.0), "L_R003S02C02": (15.0, 20.0)}
TRAIN = {
    "train_M": ["20200616_M_R001S01C01", "20200616_M_R001S02C01"],
    "train_S": ["20200620_S_R001S01C01"],
    "train_L": ["20200707_L_R001S01C01"],
}
#: synthetic train sessions: tier -> intervals (a <sil>-only interval is not speech)
TRAIN_TIERS = [
    ("001-F", [(0.5, 2.0, "你 好"), (2.5, 3.0, "<sil>")]),
    ("002-M", [(1.5, 4.0, "嗯 <%> 对 的")]),
]


def build_aishell4(root: Path, tmp: Path) -> Path:
    fx = real_annotations("aishell4")
    for session, (until, dur) in TEST.items():
        single = tmp / f"{session}.rttm"
        lines = [ln for ln in (fx / "test3.rttm").read_text().splitlines(keepends=True) if ln.split()[1] == session]
        single.write_text("".join(lines))
        turns = read_rttm(crop_rttm(single, tmp / f"{session}.crop.rttm", until=until))
        tiers: Dict[str, List[Tuple[float, float, str]]] = {}
        for t in turns:
            tiers.setdefault(t.speaker, []).append((t.onset, round(t.end, 4), "对 啊"))
        text = textgrid(dur, sorted(tiers.items()))
        path = root / "test" / "TextGrid" / f"{session}.TextGrid"
        path.parent.mkdir(parents=True, exist_ok=True)
        if session == "L_R003S02C02":  # Praat's UTF-16 with BOM and CRLF line ends
            path.write_bytes(text.replace("\n", "\r\n").encode("utf-16"))
        else:
            path.write_text(text, encoding="utf-8")
        write_audio(root / "test" / "wav" / f"{session}.flac", dur, channels=8)
    for part, sessions in TRAIN.items():
        for session in sessions:
            write_text(root / part / "TextGrid" / f"{session}.TextGrid", textgrid(5.0, TRAIN_TIERS))
            write_audio(root / part / "wav" / f"{session}.flac", 5.0, channels=8)
    return root


def test_prepare(tmp_path):
    corpus = build_aishell4(tmp_path / "aishell4", tmp_path)
    reports = prepare_aishell4(corpus, tmp_path / "data", num_dev=1)
    assert sorted(reports) == ["aishell4_dev", "aishell4_test", "aishell4_train"]
    test = data_files(tmp_path / "data" / "aishell4_test")
    flac = corpus / "test" / "wav" / "L_R003S01C02.flac"
    assert test["wav.scp"][0] == f"L_R003S01C02 sox {flac} -t wav - remix 1 |"  # channel 1, FLAC untouched
    assert test["reco2dur"] == ["L_R003S01C02 28", "L_R003S02C02 20"]
    assert test["uem"] == ["L_R003S01C02 1 0.000 28.000", "L_R003S02C02 1 0.000 20.000"]
    rows = rttm_rows(tmp_path / "data" / "aishell4_test" / "rttm")
    # every cropped reference turn came back from the TextGrid (8 + 5), speakers prefixed by session
    assert (
        len([r for r in rows if r[0] == "L_R003S01C02"]) == 8 and len([r for r in rows if r[0] == "L_R003S02C02"]) == 5
    )
    assert sorted({r[2] for r in rows if r[0] == "L_R003S02C02"}) == [
        f"L_R003S02C02_00{i}" for i in ("2-F", "3-F", "4-M", "5-M", "7-M")
    ]
    assert ("L_R003S01C02", "1", "L_R003S01C02_006-M", 23.475, 28.0) in rows
    assert reports["aishell4_test"].changed == [
        "L_R003S01C02 L_R003S01C02_006-M [23.475, 28.485]: clipped to the recording end 28.000"
    ]
    # held-out dev: 1 of the 4 training sessions, from the largest room-size group (M), by SHA-1
    assert [ln.split()[0] for ln in data_files(tmp_path / "data" / "aishell4_dev")["wav.scp"]] == [
        "20200616_M_R001S02C01"
    ]
    train = data_files(tmp_path / "data" / "aishell4_train")
    assert [ln.split()[0] for ln in train["wav.scp"]] == [
        "20200616_M_R001S01C01",
        "20200620_S_R001S01C01",
        "20200707_L_R001S01C01",
    ]
    assert train["rttm"][:2] == [
        "SPEAKER 20200616_M_R001S01C01 1 0.500 1.500 <NA> <NA> 20200616_M_R001S01C01_001-F <NA> <NA>",
        "SPEAKER 20200616_M_R001S01C01 1 1.500 2.500 <NA> <NA> 20200616_M_R001S01C01_002-M <NA> <NA>",
    ]
    assert "20200620_S_R001S01C01: 1 intervals holding only <sil> are not speech" in reports["aishell4_train"].dropped
    for d in reports:
        validate(tmp_path / "data" / d, expected_fs=16000, expected_channels=1, check_pipes=True)


def test_downmix_and_label_conversion(tmp_path):
    corpus = build_aishell4(tmp_path / "aishell4", tmp_path)
    prepare_aishell4(corpus, tmp_path / "data", channel="downmix", parts=["test"])
    wav = data_files(tmp_path / "data" / "aishell4_test")["wav.scp"]
    assert wav[1] == f"L_R003S02C02 sox {corpus / 'test' / 'wav' / 'L_R003S02C02.flac'} -t wav -c 1 - |"
    validate(tmp_path / "data" / "aishell4_test", expected_fs=16000, expected_channels=1, check_pipes=True)
    examples = label_conversion(tmp_path / "data" / "aishell4_test", tmp_path / "labels")
    assert "L_R003S01C02__L_R003S01C02_006-M" in examples


def test_dev_selection_is_deterministic_and_proportional():
    train = [
        f"2020070{g}_{s}_R00{i % 3}S0{i % 9}C{i:03d}"
        for g, s, n in ((1, "L", 30), (2, "M", 108), (3, "S", 53))
        for i in range(n)
    ]
    dev = select_dev(train, 18)
    assert len(dev) == 18 and [sum(d[9] == s for d in dev) for s in "LMS"] == [3, 10, 5]
    assert select_dev(list(reversed(train)), 18) == dev
    assert select_dev(train, 0) == []
    with pytest.raises(ValueError, match="num_dev must be >= 0 and smaller than the 191 training sessions, got 191"):
        select_dev(train, 191)


def test_textgrid_short_format_and_errors(tmp_path):
    short = '"ooTextFile"\n"TextGrid"\n0\n3.5\n<exists>\n1\n"IntervalTier"\n"003-M"\n0\n3.5\n2\n0\n1.25\n"你 好"\n1.25\n3.5\n""\n'
    p = write_text(
        tmp_path / "short.TextGrid", 'File type = "ooTextFile"\nObject class = "TextGrid"\n' + short.split("\n", 2)[2]
    )
    tiers = read_textgrid(p)
    assert [(t.name, [(i.xmin, i.xmax, i.text) for i in t.intervals]) for t in tiers] == [
        ("003-M", [(0.0, 1.25, "你 好"), (1.25, 3.5, "")])
    ]
    bad = write_text(tmp_path / "bad.TextGrid", textgrid(5.0, TRAIN_TIERS).replace('text = "你 好"', "text = 你好"))
    with pytest.raises(DataFormatError, match=r"bad\.TextGrid:\d+: expected a quoted string"):
        read_textgrid(bad)


def test_broken_corpus(tmp_path):
    corpus = build_aishell4(tmp_path / "aishell4", tmp_path)
    (corpus / "train_S" / "wav" / "20200620_S_R001S01C01.flac").unlink()
    with pytest.raises(
        MissingAudioError,
        match=r"20200620_S_R001S01C01\.flac: audio of recording '20200620_S_R001S01C01' \(listed in .*20200620_S_R001S01C01\.TextGrid\) does not exist; .* or pass --exclude 20200620_S_R001S01C01",
    ):
        prepare_aishell4(corpus, tmp_path / "data")
    reports = prepare_aishell4(
        corpus, tmp_path / "data", exclude=["20200620_S_R001S01C01"], parts=["train_S", "train_M"], num_dev=0
    )
    assert (
        list(reports) == ["aishell4_train"]
        and reports["aishell4_train"].dropped[0] == "20200620_S_R001S01C01: excluded by the caller"
    )
    with pytest.raises(ValueError, match="channel must be '1'..'8' or 'downmix', got '9'"):
        prepare_aishell4(corpus, tmp_path / "data", channel="9")
    with pytest.raises(FileNotFoundError, match="AISHELL-4 part train_L not found"):
        prepare_aishell4(tmp_path / "empty", tmp_path / "data", parts=["train_L"])


def test_corpus_yaml():
    conf = check_corpus_yaml("aishell4", "AISHELL4")
    assert conf["audio"]["channel"] == 1 and conf["splits"]["dev"]["rule"].startswith("18 training sessions")


def test_data_sh(tmp_path):
    corpus = build_aishell4(tmp_path / "aishell4", tmp_path)
    proc = run_data_sh("aishell4", "AISHELL4", corpus, tmp_path, "--num_dev", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["aishell4_dev", "aishell4_test", "aishell4_train"]
    proc = run_data_sh("aishell4", "AISHELL4", None, tmp_path)
    assert proc.returncode == 1 and "AISHELL4 is not set" in proc.stderr
