"""prepare_voxconverse on a tiny VoxConverse: real v0.3 RTTMs, sparse 16 kHz mono wavs."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from espnet2_tsdia.bin import prepare_corpus
from espnet2_tsdia.corpora import voxconverse
from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.corpora.voxconverse import prepare_voxconverse
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.utils.download import ChecksumError
from test.corpora.native import (
    check_corpus_yaml,
    data_files,
    label_conversion,
    real_annotations,
    rttm_rows,
    run_data_sh,
    validate,
    write_sparse_wav,
)

#: recording -> (split, audio length: a little past the last reference end)
RECORDINGS = {"abjxc": ("dev", 65.0), "afjiv": ("dev", 146.0), "utial": ("test", 1131.0)}


def build_voxconverse(root: Path) -> Path:
    fx = real_annotations("voxconverse")
    for reco, (split, dur) in RECORDINGS.items():
        (root / "voxconverse" / split).mkdir(parents=True, exist_ok=True)
        shutil.copy(fx / f"{reco}.rttm", root / "voxconverse" / split / f"{reco}.rttm")
        write_sparse_wav(root / ("audio" if split == "dev" else "voxconverse_test_wav") / f"{reco}.wav", dur)
    # the test zip has audio without references (312 wavs, 232 RTTMs)
    write_sparse_wav(root / "voxconverse_test_wav" / "zzqvx.wav", 3.0)
    return root


def test_prepare(tmp_path):
    corpus = build_voxconverse(tmp_path / "vc")
    reports = prepare_voxconverse(corpus, tmp_path / "data")
    assert sorted(reports) == ["voxconverse_dev", "voxconverse_test"]
    dev = data_files(tmp_path / "data" / "voxconverse_dev")
    assert [ln.split()[0] for ln in dev["wav.scp"]] == ["abjxc", "afjiv"]
    assert dev["reco2dur"] == ["abjxc 65", "afjiv 146"]
    assert dev["uem"] == ["abjxc 1 0.000 65.000", "afjiv 1 0.000 146.000"]
    # local labels prefixed with the recording; dev has no same-speaker overlap
    spk = [ln.split()[0] for ln in dev["spk2utt"]]
    assert spk == ["abjxc_spk00", "afjiv_spk00", "afjiv_spk01", "afjiv_spk02", "afjiv_spk03", "afjiv_spk04"]
    assert (
        len(dev["rttm"]) == 2 + 28
        and reports["voxconverse_dev"].changed == []
        and reports["voxconverse_dev"].dropped == []
    )
    # turns grouped by speaker in the file are written sorted by time
    onsets = [float(ln.split()[3]) for ln in dev["rttm"] if ln.split()[1] == "afjiv"]
    assert onsets == sorted(onsets)

    test = reports["voxconverse_test"]
    assert test.changed == [
        "utial utial_spk00: merged 2 overlapping turns [247.580, 276.540], [250.670, 253.650] into [247.580, 276.540]"
    ]
    assert test.dropped == [
        f"1 audio files in {corpus / 'voxconverse_test_wav'} have no test reference and are left out: zzqvx"
    ]
    rows = rttm_rows(tmp_path / "data" / "voxconverse_test" / "rttm")
    assert len(rows) == 170 - 1 and {r[0] for r in rows} == {"utial"}
    assert len({r[2] for r in rows}) == 8
    for d in reports:
        validate(tmp_path / "data" / d, expected_fs=16000)


def test_label_conversion(tmp_path):
    corpus = build_voxconverse(tmp_path / "vc")
    prepare_voxconverse(corpus, tmp_path / "data", splits=["dev"])
    examples = label_conversion(tmp_path / "data" / "voxconverse_dev", tmp_path / "labels")
    assert examples[:2] == ["abjxc__abjxc_spk00", "afjiv__afjiv_spk00"]


def test_missing_audio(tmp_path):
    corpus = build_voxconverse(tmp_path / "vc")
    (corpus / "audio" / "afjiv.wav").unlink()
    with pytest.raises(
        MissingAudioError,
        match=r"audio/afjiv\.wav: audio of recording 'afjiv' \(listed in .*dev/afjiv\.rttm\) does not exist; download the dev audio .* or pass --exclude afjiv",
    ):
        prepare_voxconverse(corpus, tmp_path / "data", splits=["dev"])
    reports = prepare_voxconverse(corpus, tmp_path / "data", splits=["dev"], exclude=["afjiv"])
    assert reports["voxconverse_dev"].dropped == ["afjiv: excluded by the caller"]


def test_rttm_naming_an_unknown_recording(tmp_path):
    corpus = build_voxconverse(tmp_path / "vc")
    rttm = corpus / "voxconverse" / "dev" / "afjiv.rttm"
    rttm.write_text(rttm.read_text() + "SPEAKER qqqqq 1 1.0 2.0 <NA> <NA> spk00 <NA> <NA>\n")
    with pytest.raises(DataFormatError, match=r"afjiv\.rttm:29: names recording 'qqqqq'"):
        prepare_voxconverse(corpus, tmp_path / "data", splits=["dev"])


def test_corpus_yaml():
    conf = check_corpus_yaml("voxconverse", "VOXCONVERSE")
    assert conf["source"]["version"] == "v0.3" and conf["splits"]["test"]["recordings"] == 232


def test_data_sh(tmp_path):
    corpus = build_voxconverse(tmp_path / "vc")
    proc = run_data_sh("voxconverse", "VOXCONVERSE", corpus, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "data" / "voxconverse_test" / "rttm").is_file()
    proc = run_data_sh("voxconverse", "VOXCONVERSE", None, tmp_path)
    assert proc.returncode == 1 and "VOXCONVERSE is not set" in proc.stderr
    (corpus / "audio" / "abjxc.wav").unlink()
    proc = run_data_sh("voxconverse", "VOXCONVERSE", corpus, tmp_path, "--stage", "2")
    assert proc.returncode == 2 and "abjxc.wav: audio of recording 'abjxc'" in proc.stderr


def _zip(path: Path, files: dict) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, src in files.items():
            z.write(src, name)
    return path


def test_download_resumable_and_checksummed(tmp_path, monkeypatch, capsys):
    """The download stage through the shared download util, from file:// URLs: zips extracted to
    the native layout, a rerun fetches nothing, and a checksum mismatch stops with the file named."""
    src = build_voxconverse(tmp_path / "src")
    server = tmp_path / "server"
    server.mkdir()
    dev_zip = _zip(
        server / "voxconverse_dev_wav.zip", {f"audio/{r}.wav": src / "audio" / f"{r}.wav" for r in ("abjxc", "afjiv")}
    )
    repo_zip = _zip(
        server / "master.zip",
        {f"voxconverse-master/dev/{r}.rttm": src / "voxconverse" / "dev" / f"{r}.rttm" for r in ("abjxc", "afjiv")},
    )
    monkeypatch.setattr(voxconverse, "AUDIO_URLS", {"dev": dev_zip.as_uri(), "test": (server / "missing.zip").as_uri()})
    monkeypatch.setattr(voxconverse, "RTTM_URL", repo_zip.as_uri())
    corpus = tmp_path / "vc"
    voxconverse.download_voxconverse(corpus, splits=["dev"])
    assert sorted(p.name for p in (corpus / "audio").iterdir()) == ["abjxc.wav", "afjiv.wav"]
    assert sorted(p.name for p in (corpus / "voxconverse" / "dev").iterdir()) == ["abjxc.rttm", "afjiv.rttm"]
    assert sorted(prepare_voxconverse(corpus, tmp_path / "data", splits=["dev"])) == ["voxconverse_dev"]
    stamp = (corpus / "downloads" / "voxconverse_dev_wav.zip").stat().st_mtime_ns
    voxconverse.download_voxconverse(corpus, splits=["dev"])  # rerun: complete files are kept
    assert (corpus / "downloads" / "voxconverse_dev_wav.zip").stat().st_mtime_ns == stamp

    monkeypatch.setattr(voxconverse, "MD5", {"voxconverse_dev_wav.zip": "0" * 32})
    with pytest.raises(
        ChecksumError,
        match=r"voxconverse_dev_wav\.zip: md5 [0-9a-f]{32}, expected 0{32} .*; delete .*voxconverse_dev_wav\.zip and rerun",
    ):
        voxconverse.download_voxconverse(corpus, splits=["dev"])
    fresh = tmp_path / "vc2"
    assert prepare_corpus.main(["voxconverse", "download", "--corpus_dir", str(fresh), "--splits", "dev"]) == 1
    assert f"{fresh / 'downloads' / 'voxconverse_dev_wav.zip.part'}: md5" in capsys.readouterr().err
    assert not (fresh / "audio").exists()  # nothing extracted from a file that failed its checksum
