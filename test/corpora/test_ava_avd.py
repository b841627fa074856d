"""prepare_ava_avd on a tiny AVA-AVD: real lists, offsets.txt and RTTMs (movie time; the published
offsets.txt has 3 lines), silent movies in two of the AVA containers (mkv, mp4; 48 kHz stereo
soundtrack) long enough for the clips."""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from espnet2_tsdia.corpora import ava_avd
from espnet2_tsdia.corpora.ava_avd import clip_offset, clip_window, prepare_ava_avd, read_offsets, shift
from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.rttm import Turn, read_rttm
from test.corpora.native import (
    check_corpus_yaml,
    data_files,
    label_conversion,
    real_annotations,
    rttm_rows,
    run_data_sh,
    validate,
    write_movie,
    write_text,
)

CLIPS = {"train": ["-FaXLcSFjUI_c_01", "Ma2hgTmveKQ_c_02"], "val": ["Ov0za6Xb1LM_c_02"], "test": ["0f39OWEqJ24_c_01"]}
#: the earliest reference onset of each fixture clip (read off the RTTMs)
FIRST_ONSETS = {
    "-FaXLcSFjUI_c_01": 900.004,
    "Ma2hgTmveKQ_c_02": 1238.491,  # its last line: the lines are not in time order
    "Ov0za6Xb1LM_c_02": 1200.004,
    "0f39OWEqJ24_c_01": 900.06,
}


@pytest.fixture(scope="module")
def movies(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ava_movies")
    source = write_movie(d / "Ma2hgTmveKQ.mkv", 1510.0, sample_rate=48000)  # 48 kHz stereo soundtrack
    write_movie(d / "Ov0za6Xb1LM.mp4", 1501.0, source=source)
    write_movie(d / "-FaXLcSFjUI.mkv", 1170.0, source=source)
    write_movie(d / "0f39OWEqJ24.mkv", 1201.0, source=source)
    return d


def build_ava(root: Path, movies: Path) -> Path:
    fx = real_annotations("ava_avd")
    (root / "videos").mkdir(parents=True)
    for movie in movies.iterdir():
        os.symlink(movie, root / "videos" / movie.name)
    (root / "rttms").mkdir()
    for clips in CLIPS.values():
        for clip in clips:
            shutil.copy(fx / f"{clip}.rttm", root / "rttms" / f"{clip}.rttm")
    for split, clips in CLIPS.items():  # like the official lists: no final newline
        write_text(root / "split" / f"{split}.list", "\n".join(clips))
    shutil.copy(fx / "offsets.txt", root / "split" / "offsets.txt")  # the published one: 3 lines
    return root


def test_window_and_shift():
    turns = [Turn("x_c_02", 1240.0, 2.0, "spk00"), Turn("x_c_02", 1555.5, 0.4, "spk01")]
    assert clip_window("x_c_02", 1238.5, turns) == (1238.5, 1500.0)  # never past the clip's nominal end
    assert clip_window("x_c_01", 900.1, [Turn("x_c_01", 901.0, 2.0, "a")]) == (900.1, 903.0)
    assert [(t.onset, t.duration) for t in shift(turns[:1], 1238.491)] == [(1.509, 2.0)]
    assert read_offsets(real_annotations("ava_avd") / "offsets.txt") == {
        "0f39OWEqJ24_c_01": 900.06,
        "0f39OWEqJ24_c_02": 1200.534,
        "0f39OWEqJ24_c_03": 1501.23,
    }


def test_offset_is_the_earliest_onset_and_matches_the_published_one():
    fx = real_annotations("ava_avd")
    got = {clip: clip_offset(read_rttm(fx / f"{clip}.rttm")) for clip in FIRST_ONSETS}
    assert got == FIRST_ONSETS
    published = read_offsets(fx / "offsets.txt")
    assert got["0f39OWEqJ24_c_01"] == published["0f39OWEqJ24_c_01"]  # the one fixture clip with a line


def test_offsets_txt_errors_name_the_line(tmp_path):
    write_text(tmp_path / "offsets.txt", "a_c_01 900.5\nb_c_01 -3")
    with pytest.raises(DataFormatError, match=r"offsets\.txt:2: offset must be a number >= 0 \(seconds\), got '-3'"):
        read_offsets(tmp_path / "offsets.txt")
    write_text(tmp_path / "offsets.txt", "a_c_01 900.5\na_c_01 901")
    with pytest.raises(DataFormatError, match=r"offsets\.txt:2: duplicate clip 'a_c_01' \(first at line 1\)"):
        read_offsets(tmp_path / "offsets.txt")


def test_prepare(tmp_path, movies):
    corpus = build_ava(tmp_path / "ava", movies)
    before = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in movies.iterdir()}
    reports = prepare_ava_avd(corpus, tmp_path / "data", splits=["train", "val"], nj=2)
    assert sorted(reports) == ["ava_avd_train", "ava_avd_val"]
    assert {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in movies.iterdir()} == before  # movies untouched
    train = data_files(tmp_path / "data" / "ava_avd_train")
    # both clips of the list without final newline, the id starting with '-' included
    assert train["wav.scp"] == [f"{c} {corpus / 'waves' / c}.wav" for c in CLIPS["train"]]
    dur = dict(ln.split() for ln in train["reco2dur"])
    # ffmpeg cuts to within a few ms; reco2dur is what the header says
    assert (
        abs(float(dur["-FaXLcSFjUI_c_01"]) - 263.336) < 0.005 and abs(float(dur["Ma2hgTmveKQ_c_02"]) - 261.509) < 0.005
    )
    rows = rttm_rows(tmp_path / "data" / "ava_avd_train" / "rttm")
    fax = [r for r in rows if r[0] == "-FaXLcSFjUI_c_01"]
    assert fax[0] == ("-FaXLcSFjUI_c_01", "1", "-FaXLcSFjUI_c_01_spk01", 0.0, 1.704)  # 900.004-901.708 in movie time
    assert ("-FaXLcSFjUI_c_01", "1", "-FaXLcSFjUI_c_01_spk00", 3.226, 4.866) in fax  # 903.23 -> 903.23 - 900.004
    assert len(fax) == 56
    ma = [r for r in rows if r[0] == "Ma2hgTmveKQ_c_02"]
    assert len(ma) == 68 - 1 and max(r[4] for r in ma) == 253.889  # 1492.38 - 1238.491
    r = reports["ava_avd_train"]
    assert r.dropped == ["Ma2hgTmveKQ_c_02 spk02 [1555.541, 1555.912]: outside the clip window [1238.491, 1500.000]"]
    rttms = corpus / "rttms"
    assert r.changed == [
        f"-FaXLcSFjUI_c_01: offset 900.004s = the first reference onset in {rttms / '-FaXLcSFjUI_c_01.rttm'}; "
        "offsets.txt has no line for it",
        f"Ma2hgTmveKQ_c_02: offset 1238.491s = the first reference onset in {rttms / 'Ma2hgTmveKQ_c_02.rttm'}; "
        "offsets.txt has no line for it",
        "-FaXLcSFjUI_c_01: times shifted by -900.004s from movie time (offset 900.004, window end 1163.342)",
        "Ma2hgTmveKQ_c_02: times shifted by -1238.491s from movie time (offset 1238.491, window end 1500.000)",
    ]
    assert (tmp_path / "data" / "ava_avd_train" / "prep_report.txt").read_text() == r.text()
    val = rttm_rows(tmp_path / "data" / "ava_avd_val" / "rttm")
    assert (
        len(val) == 137 and len({row[2] for row in val}) == 9 and max(row[4] for row in val) == 299.993
    )  # 1499.997 - 1200.004
    for d in reports:
        validate(tmp_path / "data" / d, expected_fs=16000)
    # resumable: finished clips are not cut again; what a killed cut left is removed
    stamp = (corpus / "waves" / "Ov0za6Xb1LM_c_02.wav").stat().st_mtime_ns
    (corpus / "waves" / "-FaXLcSFjUI_c_01.wav").unlink()
    write_text(corpus / "waves" / ".-FaXLcSFjUI_c_01.wav.0123abcd.tmp", "half a file from an interrupted run")
    prepare_ava_avd(corpus, tmp_path / "data2", splits=["train", "val"])
    assert (corpus / "waves" / "Ov0za6Xb1LM_c_02.wav").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in (corpus / "waves").iterdir()) == [
        "-FaXLcSFjUI_c_01.wav",
        "Ma2hgTmveKQ_c_02.wav",
        "Ov0za6Xb1LM_c_02.wav",
    ]
    assert data_files(tmp_path / "data2" / "ava_avd_train")["rttm"] == train["rttm"]
    examples = label_conversion(tmp_path / "data" / "ava_avd_val", tmp_path / "labels")
    assert examples[0] == "Ov0za6Xb1LM_c_02__Ov0za6Xb1LM_c_02_spk00"


def test_broken_corpus(tmp_path, movies):
    corpus = build_ava(tmp_path / "ava", movies)
    (corpus / "videos" / "Ov0za6Xb1LM.mp4").unlink()
    with pytest.raises(
        MissingAudioError,
        match=r"videos/Ov0za6Xb1LM\.\{mkv,mp4,webm\}: movie of clip 'Ov0za6Xb1LM_c_02' \(listed in .*val\.list\) does not exist",
    ):
        prepare_ava_avd(corpus, tmp_path / "data", splits=["val"])
    rttm = corpus / "rttms" / "-FaXLcSFjUI_c_01.rttm"
    rttm.write_text(rttm.read_text().replace("-FaXLcSFjUI_c_01 1 907.393", "-FaXLcSFjUI_c_02 1 907.393"))
    with pytest.raises(DataFormatError, match=r"-FaXLcSFjUI_c_01\.rttm:3: names recording '-FaXLcSFjUI_c_02'"):
        prepare_ava_avd(corpus, tmp_path / "data", splits=["train"])
    write_text(corpus / "split" / "offsets.txt", "Ma2hgTmveKQ_c_02 1238.491\nOv0za6Xb1LM_c_02 x")
    with pytest.raises(DataFormatError, match=r"offsets\.txt:2: offset must be a number >= 0 \(seconds\), got 'x'"):
        prepare_ava_avd(corpus, tmp_path / "data", splits=["val"])


def test_offsets_from_the_annotation(tmp_path, movies):
    """offsets.txt has a line for 0f39OWEqJ24_c_01 only: it agrees with the computed offset; a
    published offset that disagrees is used and reported; without offsets.txt, all are computed."""
    corpus = build_ava(tmp_path / "ava", movies)
    report = prepare_ava_avd(corpus, tmp_path / "data", splits=["test"])["ava_avd_test"]
    rttm = corpus / "rttms" / "0f39OWEqJ24_c_01.rttm"
    assert report.changed[0] == (
        f"0f39OWEqJ24_c_01: offset 900.060s = the first reference onset in {rttm}; offsets.txt agrees (900.060s)"
    )
    rows = rttm_rows(tmp_path / "data" / "ava_avd_test" / "rttm")
    assert len(rows) == 103 and rows[0][3] == 0.0  # 900.060 - 900.060, its 20th line
    validate(tmp_path / "data" / "ava_avd_test", expected_fs=16000)

    write_text(corpus / "split" / "offsets.txt", "Ma2hgTmveKQ_c_02 1238.600")
    write_text(corpus / "split" / "train.list", "Ma2hgTmveKQ_c_02")
    report = prepare_ava_avd(corpus, tmp_path / "data", splits=["train"])["ava_avd_train"]
    assert report.changed[:3] == [
        f"Ma2hgTmveKQ_c_02: offset 1238.491s = the first reference onset in {corpus / 'rttms' / 'Ma2hgTmveKQ_c_02.rttm'}; "
        "offsets.txt says 1238.600s (+0.109s): the published offset is used (official clip audio derived elsewhere starts there)",
        "Ma2hgTmveKQ_c_02 spk02 [1238.491, 1239.064]: clipped to the clip window [1238.600, 1500.000] -> [1238.600, 1239.064]",
        "Ma2hgTmveKQ_c_02: times shifted by -1238.600s from movie time (offset 1238.600, window end 1500.000)",
    ]
    first = rttm_rows(tmp_path / "data" / "ava_avd_train" / "rttm")[0]
    assert first == ("Ma2hgTmveKQ_c_02", "1", "Ma2hgTmveKQ_c_02_spk02", 0.0, 0.464)

    (corpus / "split" / "offsets.txt").unlink()
    report = prepare_ava_avd(corpus, tmp_path / "data3", splits=["train"])["ava_avd_train"]
    assert report.changed[:2] == [
        f"{corpus / 'split' / 'offsets.txt'}: not there; every clip offset is computed from its annotation",
        f"Ma2hgTmveKQ_c_02: offset 1238.491s = the first reference onset in {corpus / 'rttms' / 'Ma2hgTmveKQ_c_02.rttm'}; "
        "offsets.txt has no line for it",
    ]


def test_corpus_yaml():
    conf = check_corpus_yaml("ava_avd", "AVA_AVD")
    assert conf["scoring"]["collar"] == 0.25 and conf["audio"]["sample_rate"] == 16000


def test_data_sh(tmp_path, movies):
    corpus = build_ava(tmp_path / "ava", movies)
    proc = run_data_sh("ava_avd", "AVA_AVD", corpus, tmp_path, "--splits", "val")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "data" / "ava_avd_val" / "rttm").is_file()
    proc = run_data_sh("ava_avd", "AVA_AVD", None, tmp_path)
    assert proc.returncode == 1 and "AVA_AVD is not set" in proc.stderr


def test_download(tmp_path, movies, monkeypatch):
    """Split files from the repo archive, the hand-fetched annotations checked and extracted, the
    movies of video.list fetched (file:// URLs standing in for GitHub and S3)."""
    src = build_ava(tmp_path / "src", movies)
    repo = tmp_path / "AVA-AVD-main.zip"
    with zipfile.ZipFile(repo, "w") as z:
        for f in sorted((src / "split").iterdir()):
            z.write(f, f"AVA-AVD-main/dataset/split/{f.name}")
        z.writestr("AVA-AVD-main/dataset/split/video.list", "-FaXLcSFjUI.mkv\nMa2hgTmveKQ.mkv\nOv0za6Xb1LM.mp4")
    monkeypatch.setattr(ava_avd, "REPO_URL", repo.as_uri())
    monkeypatch.setattr(ava_avd, "VIDEO_URL", movies.as_uri() + "/{video}")
    corpus = tmp_path / "ava"
    with pytest.raises(
        FileNotFoundError,
        match=r"annotations\.tar\.gz: the AVA-AVD annotations .* is not there\. .*gdown --id 18kjJJbebBg7e8umI6HoGE4_tI3OWufzA",
    ):
        ava_avd.download_ava_avd(corpus)
    with tarfile.open(corpus / "annotations.tar.gz", "w:gz") as t:
        t.add(src / "rttms", "rttms")
    ava_avd.download_ava_avd(corpus)
    assert sorted(p.name for p in (corpus / "videos").iterdir()) == [
        "-FaXLcSFjUI.mkv",
        "Ma2hgTmveKQ.mkv",
        "Ov0za6Xb1LM.mp4",
    ]
    assert (corpus / "rttms" / "Ov0za6Xb1LM_c_02.rttm").is_file() and (corpus / "split" / "val.list").is_file()
