"""prepare_msdwild on a tiny MSDWild: real per-file RTTMs (channel 0, h/h0 labels) gathered into
split RTTMs as the repo ships them, sparse 16 kHz mono wavs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from espnet2_tsdia.corpora import msdwild
from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.corpora.msdwild import prepare_msdwild
from espnet2_tsdia.utils.download import md5sum
from test.corpora.native import (
    check_corpus_yaml,
    data_files,
    label_conversion,
    real_annotations,
    rttm_rows,
    run_data_sh,
    validate,
    write_sparse_wav,
    write_text,
)

#: id -> audio length (a little past the last reference end)
DURATIONS = {"00001": 24.5, "00006": 409.0, "00884": 829.0, "01935": 23.0, "00017": 12.0}
#: few.val has no real fixture: one small recording in the native format (channel 0, int labels)
FEW_VAL = (
    "SPEAKER 00017 0 0.500000 3.000000 <NA> <NA> 1 <NA> <NA>\n"
    "SPEAKER 00017 0 2.000000 4.250000 <NA> <NA> 0 <NA> <NA>\n"
    "SPEAKER 00017 0 7.100000 2.000000 <NA> <NA> 1 <NA> <NA>\n"
)
LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:0123456789abcdef\nsize 4400000\n"


def build_msdwild(root: Path) -> Path:
    fx = real_annotations("msdwild")
    real = {i: (fx / f"{i}.rttm").read_text() for i in ("00001", "00006", "00884", "01935")}
    write_text(root / "rttms" / "few.train.rttm", real["00001"] + real["00006"])
    write_text(root / "rttms" / "many.val.rttm", real["00884"] + real["01935"])
    write_text(root / "rttms" / "few.val.rttm", FEW_VAL)
    for reco, dur in DURATIONS.items():
        write_sparse_wav(root / "wav" / f"{reco}.wav", dur)
    return root


def test_prepare(tmp_path):
    corpus = build_msdwild(tmp_path / "msdwild")
    reports = prepare_msdwild(corpus, tmp_path / "data")
    assert sorted(reports) == ["msdwild_few_train", "msdwild_few_val", "msdwild_many_val"]
    assert reports["msdwild_few_train"].changed == [
        f"{corpus / 'rttms' / 'few.train.rttm'}: RTTM channel field rewritten to 1 on 136 lines (was '0' x136; md-eval keys on file and channel)"
    ]
    train = data_files(tmp_path / "data" / "msdwild_few_train")
    assert [ln.split()[0] for ln in train["wav.scp"]] == ["00001", "00006"]  # zero-padded ids stay strings
    assert train["reco2dur"] == ["00001 24.5", "00006 409"]
    rows = rttm_rows(tmp_path / "data" / "msdwild_few_train" / "rttm")
    assert len(rows) == 136 and {r[1] for r in rows} == {"1"}
    assert sorted({r[2] for r in rows}) == ["00001_0", "00001_1", "00001_2", "00006_0", "00006_1", "00006_h0"]
    many = rttm_rows(tmp_path / "data" / "msdwild_many_val" / "rttm")
    spk = {reco: sorted({r[2] for r in many if r[0] == reco}) for reco in ("00884", "01935")}
    assert spk["00884"] == [f"00884_{i}" for i in range(5)]
    assert spk["01935"] == [f"01935_{i}" for i in range(8)] + ["01935_h"]  # a bare off-screen "h"
    bare = (
        "01935: speaker label 'h' (1 turn) kept as speaker '01935_h', a speaker of its own: MSDWild numbers "
        "off-screen speakers (h0, h1, ...), this one has no number, and nothing ties it to the recording's other "
        "labels (0, 1, 2, 3, 4, 5, 6, 7)"
    )
    assert [c for c in reports["msdwild_many_val"].changed if "'h'" in c] == [bare]
    assert f"CHANGED {bare}\n" in (tmp_path / "data" / "msdwild_many_val" / "prep_report.txt").read_text()
    assert not any("'h'" in c for c in reports["msdwild_few_train"].changed)  # h0 is an ordinary label
    # few.val: speaker 1's two turns do not overlap, speaker 0 overlaps speaker 1 (kept)
    assert [ln for ln in data_files(tmp_path / "data" / "msdwild_few_val")["rttm"]] == [
        "SPEAKER 00017 1 0.500 3.000 <NA> <NA> 00017_1 <NA> <NA>",
        "SPEAKER 00017 1 2.000 4.250 <NA> <NA> 00017_0 <NA> <NA>",
        "SPEAKER 00017 1 7.100 2.000 <NA> <NA> 00017_1 <NA> <NA>",
    ]
    for d in reports:
        validate(tmp_path / "data" / d, expected_fs=16000)


def test_label_conversion(tmp_path):
    corpus = build_msdwild(tmp_path / "msdwild")
    prepare_msdwild(corpus, tmp_path / "data", splits=["few.val"])
    assert label_conversion(tmp_path / "data" / "msdwild_few_val", tmp_path / "labels") == [
        "00017__00017_0",
        "00017__00017_1",
    ]


def test_few_train_from_all_rttm_when_it_is_an_lfs_pointer(tmp_path):
    corpus = build_msdwild(tmp_path / "msdwild")
    rttms = corpus / "rttms"
    everything = "".join((rttms / f).read_text() for f in ("few.train.rttm", "few.val.rttm", "many.val.rttm"))
    write_text(rttms / "all.rttm", everything)
    write_text(rttms / "few.train.rttm", LFS_POINTER)
    reports = prepare_msdwild(corpus, tmp_path / "data", splits=["few.train"])
    assert (
        reports["msdwild_few_train"]
        .changed[0]
        .startswith(f"few.train built from {rttms / 'all.rttm'} minus the few.val and many.val recordings")
    )
    assert [ln.split()[0] for ln in data_files(tmp_path / "data" / "msdwild_few_train")["wav.scp"]] == [
        "00001",
        "00006",
    ]
    write_text(rttms / "few.val.rttm", LFS_POINTER)
    with pytest.raises(ValueError, match=r"few\.val\.rttm: a Git LFS pointer, not the RTTM"):
        prepare_msdwild(corpus, tmp_path / "data", splits=["few.val"])


def test_missing_audio(tmp_path):
    corpus = build_msdwild(tmp_path / "msdwild")
    (corpus / "wav" / "00884.wav").unlink()
    with pytest.raises(
        MissingAudioError,
        match=r"wav/00884\.wav: audio of recording '00884' \(listed in .*many\.val\.rttm\) does not exist; unzip the complete",
    ):
        prepare_msdwild(corpus, tmp_path / "data", splits=["many.val"])


def test_corpus_yaml():
    conf = check_corpus_yaml("msdwild", "MSDWILD")
    assert conf["source"]["audio"]["md5"] == "0057f82daaddf2ce993d1bf0679929c4"


def test_data_sh(tmp_path):
    corpus = build_msdwild(tmp_path / "msdwild")
    proc = run_data_sh("msdwild", "MSDWILD", corpus, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "data" / "msdwild_many_val" / "rttm").is_file()
    proc = run_data_sh("msdwild", "MSDWILD", None, tmp_path)
    assert proc.returncode == 1 and "MSDWILD is not set" in proc.stderr


def test_data_sh_download_says_what_to_fetch(tmp_path):
    """Without the hand-downloaded zip, the download stage names the file, the place and the md5."""
    corpus = tmp_path / "msdwild"
    (corpus / "MSDWILD").mkdir(parents=True)  # the repo part counts as fetched
    (corpus / "MSDWILD" / "rttms").mkdir()
    proc = run_data_sh("msdwild", "MSDWILD", corpus, tmp_path, "--skip_download", "false", "--stop_stage", "1")
    assert proc.returncode == 2  # a file to fetch by hand is missing: bad input
    assert f"{corpus / 'msdwild_wav.zip'}: the MSDWild wav zip (7.56 GB) is not there" in proc.stderr
    assert (
        "drive.google.com/file/d/1I5qfuPPGBM9keJKz0VN-OYEeRMJ7dgpl" in proc.stderr
        and "md5 0057f82daaddf2ce993d1bf0679929c4" in proc.stderr
    )


def test_download_checks_the_hand_fetched_zip(tmp_path, monkeypatch):
    src = build_msdwild(tmp_path / "src")
    repo = tmp_path / "MSDWILD-master.zip"
    with zipfile.ZipFile(repo, "w") as z:
        for f in sorted((src / "rttms").iterdir()):
            z.write(f, f"MSDWILD-master/rttms/{f.name}")
    monkeypatch.setattr(msdwild, "REPO_URL", repo.as_uri())
    corpus = tmp_path / "msdwild"
    corpus.mkdir()
    with zipfile.ZipFile(corpus / "msdwild_wav.zip", "w") as z:
        z.write(src / "wav" / "00017.wav", "wav/00017.wav")
    with pytest.raises(
        ValueError,
        match=r"msdwild_wav\.zip: md5 [0-9a-f]{32} differs from the published 0057f82daaddf2ce993d1bf0679929c4; .* Delete it and fetch it again",
    ):
        msdwild.download_msdwild(corpus)
    assert sorted(p.name for p in (corpus / "rttms").iterdir()) == ["few.train.rttm", "few.val.rttm", "many.val.rttm"]
    monkeypatch.setattr(msdwild, "WAV_ZIP_MD5", md5sum(corpus / "msdwild_wav.zip"))
    msdwild.download_msdwild(corpus)
    assert (corpus / "wav" / "00017.wav").is_file()
    assert sorted(prepare_msdwild(corpus, tmp_path / "data", splits=["few.val"])) == ["msdwild_few_val"]
