"""prepare_voxceleb on a tiny VoxCeleb1 + VoxCeleb2 in their native layouts, and simulation from it.

Where the layout comes from: lhotse's ``recipes/voxceleb.py`` (archive parts and names, the
``<speaker>/<video>/<n>.wav`` tree under ``wav/``, utterance ids ``<spk>-<video>-<n>``), Kaldi's
``egs/voxceleb`` ``make_voxceleb2.pl`` (``<part>/aac/<speaker>/<video>/<n>.m4a``, decoded with
ffmpeg), ESPnet's ``egs2/voxceleb/spk1`` (``veri_test2.txt`` lines ``<label> <file> <file>``, trial
files keyed ``<utt1>*<utt2>``), and the published md5 lists quoted by clovaai's voxceleb_trainer
and PaddleSpeech. VoxCeleb1 is 16 kHz mono wav; the VoxCeleb2 files here are AAC in m4a made by
ffmpeg from tones. Ids are real-looking, the audio is not VoxCeleb's.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet2_tsdia.bin import prepare_corpus, simulate
from espnet2_tsdia.corpora import voxceleb
from espnet2_tsdia.corpora.voxceleb import Archives, download_voxceleb, prepare_voxceleb, write_trials
from espnet2_tsdia.data.describe import describe_data_dir, markdown_table
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import read_scp, read_spk2utt, read_utt2spk
from espnet2_tsdia.utils.download import ChecksumError
from test.corpora.fileserver import FileServer
from test.corpora.native import check_corpus_yaml, read_lines, validate, write_text

VOX1 = {  # file -> seconds
    "id10001/1zcIwhmdeo4/00001.wav": 2.0,
    "id10001/1zcIwhmdeo4/00002.wav": 2.5,
    "id10001/7w0IBEWc9Qw/00001.wav": 3.0,
    "id10002/0_laIeN-Q44/00001.wav": 2.0,
    "id10002/6WO410QOeuo/00003.wav": 2.25,
    "id10270/x6uYqmx31kE/00001.wav": 2.0,
    "id10270/8jEAjG6SegY/00008.wav": 2.0,
    "id10300/ize_eiCFEg0/00003.wav": 1.5,
}
VOX2 = {
    "dev/aac/id00012/21Uxsk56VDQ/00001.m4a": 2.0,
    "dev/aac/id00012/21Uxsk56VDQ/00002.m4a": 1.5,
    "dev/aac/id00015/0fijmz4vTVU/00001.m4a": 2.0,
    "test/aac/id00017/01dfn2spqyE/00001.m4a": 1.0,
}
TRIALS = (
    "1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav\n"
    "0 id10270/x6uYqmx31kE/00001.wav id10300/ize_eiCFEg0/00003.wav\n"
)


def tone(seconds: float, freq: float, fs: int = 16000) -> np.ndarray:
    t = np.arange(int(round(seconds * fs))) / fs
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def m4a(path: Path, seconds: float, freq: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}:sample_rate=16000",
         "-c:a", "aac", "-b:a", "32k", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def vox2_files(tmp_path_factory) -> Path:
    """The m4a files once per module (ffmpeg is slow on a loaded machine)."""
    d = tmp_path_factory.mktemp("vox2_m4a")
    for i, (rel, dur) in enumerate(VOX2.items()):
        m4a(d / rel, dur, 200 + 50 * i)
    return d


def build_voxceleb(root: Path, vox2_files: Path) -> Path:
    for i, (rel, dur) in enumerate(VOX1.items()):
        p = root / "voxceleb1" / "wav" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, tone(dur, 150 + 40 * i), 16000, subtype="PCM_16")
    write_text(root / "voxceleb1" / "veri_test2.txt", TRIALS)
    for rel in VOX2:
        dest = root / "voxceleb2" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((vox2_files / rel).read_bytes())
    return root


def test_prepare_voxceleb1_with_trials(tmp_path, vox2_files):
    corpus = build_voxceleb(tmp_path / "vox", vox2_files)
    # a folder that is not a speaker id is reported, not read
    sf.write(_mk(corpus / "voxceleb1" / "wav" / "notes" / "x" / "1.wav"), tone(1, 100), 16000)
    reports = prepare_voxceleb(corpus, tmp_path / "data", subsets=["voxceleb1_dev", "voxceleb1_test"])
    dev, test = tmp_path / "data" / "voxceleb1_dev", tmp_path / "data" / "voxceleb1_test"
    assert read_spk2utt(dev / "spk2utt") == {
        "id10001": ["id10001-1zcIwhmdeo4-00001", "id10001-1zcIwhmdeo4-00002", "id10001-7w0IBEWc9Qw-00001"],
        "id10002": ["id10002-0_laIeN-Q44-00001", "id10002-6WO410QOeuo-00003"],
    }
    assert read_scp(dev / "wav.scp")["id10002-6WO410QOeuo-00003"] == str(
        corpus.absolute() / "voxceleb1/wav/id10002/6WO410QOeuo/00003.wav"
    )
    assert read_scp(dev / "utt2dur")["id10002-6WO410QOeuo-00003"] == "2.25"
    assert sorted(read_utt2spk(test / "utt2spk").values()) == ["id10270", "id10270", "id10300"]
    assert reports["voxceleb1_dev"].dropped == [
        f"{corpus.absolute() / 'voxceleb1' / 'wav' / 'notes'}: 1 files under a folder that is not a VoxCeleb speaker id (idNNNNN)"
    ]
    # ESPnet's trial files: one key per trial, the two files and the label
    key1 = "id10270-x6uYqmx31kE-00001*id10270-8jEAjG6SegY-00008"
    key0 = "id10270-x6uYqmx31kE-00001*id10300-ize_eiCFEg0-00003"
    assert read_scp(test / "trial_label") == {key1: "1", key0: "0"}
    assert read_scp(test / "trial2.scp")[key0].endswith("voxceleb1/wav/id10300/ize_eiCFEg0/00003.wav")
    assert read_scp(test / "trial.scp")[key0] == read_scp(test / "wav.scp")["id10270-x6uYqmx31kE-00001"]
    assert read_lines(dev / "prep_report.txt")[0] == "changed 0, dropped 1"
    for d in (dev, test):
        validate(d, expected_fs=16000, global_speakers=True)


def _mk(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_voxceleb2_converted_once_and_reported(tmp_path, vox2_files):
    corpus = build_voxceleb(tmp_path / "vox", vox2_files)
    bad = corpus / "voxceleb2" / "dev" / "aac" / "id00015" / "0fijmz4vTVU" / "00002.m4a"
    bad.write_bytes(b"not an m4a file")
    before = hashlib.md5(bad.read_bytes()).hexdigest()
    reports = prepare_voxceleb(corpus, tmp_path / "data", subsets=["voxceleb2_dev", "voxceleb2_test"], nj=2)
    dev = tmp_path / "data" / "voxceleb2_dev"
    wav = read_scp(dev / "wav.scp")
    assert sorted(wav) == ["id00012-21Uxsk56VDQ-00001", "id00012-21Uxsk56VDQ-00002", "id00015-0fijmz4vTVU-00001"]
    out = corpus.absolute() / "voxceleb2" / "wav" / "dev" / "id00012" / "21Uxsk56VDQ" / "00002.wav"
    assert wav["id00012-21Uxsk56VDQ-00002"] == str(out)
    info = sf.info(str(out))
    assert (info.samplerate, info.channels) == (16000, 1) and abs(info.duration - 1.5) < 0.05
    dropped = reports["voxceleb2_dev"].dropped
    assert len(dropped) == 1 and dropped[0].startswith(
        f"id00015-0fijmz4vTVU-00002: {bad.absolute()}: ffmpeg could not decode it"
    )
    assert hashlib.md5(bad.read_bytes()).hexdigest() == before  # the corpus is only read
    assert read_utt2spk(tmp_path / "data" / "voxceleb2_test" / "utt2spk") == {"id00017-01dfn2spqyE-00001": "id00017"}
    validate(dev, expected_fs=16000, global_speakers=True)
    stamp = out.stat().st_mtime_ns
    prepare_voxceleb(corpus, tmp_path / "data", subsets=["voxceleb2_dev"])  # rerun: decoded files are kept
    assert out.stat().st_mtime_ns == stamp


def test_voxceleb2_pipes(tmp_path, vox2_files):
    from espnet2_tsdia.audio.info import audio_info

    corpus = build_voxceleb(tmp_path / "vox", vox2_files)
    prepare_voxceleb(corpus, tmp_path / "data", subsets=["voxceleb2_test"], vox2_audio="pipe", sample_rate=8000)
    d = tmp_path / "data" / "voxceleb2_test"
    entry = read_scp(d / "wav.scp")["id00017-01dfn2spqyE-00001"]
    assert entry.startswith("ffmpeg ") and entry.endswith(" -f wav - |") and "-ar 8000" in entry
    assert abs(float(read_scp(d / "utt2dur")["id00017-01dfn2spqyE-00001"]) - 1.0) < 0.05
    info = audio_info(entry, run_pipes=True)
    assert info.samplerate == 8000 and abs(info.duration - 1.0) < 0.05
    assert not (corpus / "voxceleb2" / "wav").exists()


SIM_YAML = (
    "fs: 8000\nname: vox_ns2\nnum_conversations: 2\nspeaker_counts: {2: 1}\nmin_utts: 2\nmax_utts: 2\nseed: 5\n"
    "turn_model: {type: histogram, pause_same: {edges: [0, 0.5], counts: [1]}, "
    "pause_diff: {edges: [0, 0.5, 1.0], counts: [2, 1]}, overlap: {edges: [0, 0.5], counts: [1]}}\n"
)


def test_simulate_from_voxceleb(tmp_path, vox2_files, capsys):
    corpus = build_voxceleb(tmp_path / "vox", vox2_files)
    prepare_voxceleb(corpus, tmp_path / "data", subsets=["voxceleb1_dev", "voxceleb2_dev"])
    conf = write_text(tmp_path / "sim.yaml", SIM_YAML)
    for source in ("voxceleb1_dev", "voxceleb2_dev"):
        out = tmp_path / "data" / f"sim_{source}"
        args = ["--source_dir", str(tmp_path / "data" / source), "--out_dir", str(out), str(conf)]
        assert simulate.main(args) == 0, capsys.readouterr().err
        spk = {ln.split()[7] for ln in read_lines(out / "rttm")}
        assert spk == set(read_spk2utt(tmp_path / "data" / source / "spk2utt"))
        assert len(read_lines(out / "wav.scp")) == 2
        # the simulated set is what gets described (the source dirs have no turns)
        row = markdown_table([describe_data_dir(out)]).splitlines()[2].split("|")
        assert row[1:7] == [f"sim_{source}", "2", row[3], "2", "2.00", "2"]
    # the simulator reads source regions itself: a dir of ffmpeg pipes is refused, with the reason
    prepare_voxceleb(corpus, tmp_path / "pipes", subsets=["voxceleb2_dev"], vox2_audio="pipe")
    capsys.readouterr()
    args = ["--source_dir", str(tmp_path / "pipes" / "voxceleb2_dev"), "--out_dir", str(tmp_path / "x"), str(conf)]
    assert simulate.main(args) != 0
    assert "is a pipe" in capsys.readouterr().err


def test_bad_trials_and_missing_audio(tmp_path, vox2_files):
    corpus = build_voxceleb(tmp_path / "vox", vox2_files)
    trials = write_text(tmp_path / "t.txt", "1 id10270/x6uYqmx31kE/00001.wav id10299/none/00001.wav\n")
    wav = {"id10270-x6uYqmx31kE-00001": "/a.wav"}
    with pytest.raises(DataFormatError, match=r"t\.txt:1: names id10299/none/00001\.wav, which .* does not hold"):
        write_trials(tmp_path, trials, wav)
    trials.write_text("yes id10270/x6uYqmx31kE/00001.wav\n")
    with pytest.raises(DataFormatError, match=r"t\.txt:1: expected '<0\|1> <spk>/<video>/<n>.wav"):
        write_trials(tmp_path, trials, wav)
    with pytest.raises(FileNotFoundError, match=r"voxceleb2/test: no voxceleb2_test audio found"):
        prepare_voxceleb(tmp_path / "empty", tmp_path / "data", subsets=["voxceleb2_test"])
    with pytest.raises(ValueError, match="unknown VoxCeleb subset 'voxceleb3_dev'"):
        prepare_voxceleb(corpus, tmp_path / "data", subsets=["voxceleb3_dev"])


def _zip_bytes(files: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_download_checks_published_archives(tmp_path, monkeypatch, vox2_files):
    """Archives from a local server (base_url) or put by hand: md5 of every part and of the
    joined zip checked before extraction and recorded in checksums.md5; missing files listed
    with where to get them."""
    src = build_voxceleb(tmp_path / "src", vox2_files)
    wav = src / "voxceleb1" / "wav"
    is_test = ("id1027", "id1030")
    dev_zip = _zip_bytes({f"wav/{r}": (wav / r).read_bytes() for r in VOX1 if not r.startswith(is_test)})
    test_zip = _zip_bytes({f"wav/{r}": (wav / r).read_bytes() for r in VOX1 if r.startswith(is_test)})
    half = len(dev_zip) // 2
    files = {
        "vox1_dev_wav_partaa": dev_zip[:half],
        "vox1_dev_wav_partab": dev_zip[half:],
        "vox1_test_wav.zip": test_zip,
    }
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    arch = Archives(
        parts=(
            ("vox1_dev_wav_partaa", md5["vox1_dev_wav_partaa"]),
            ("vox1_dev_wav_partab", md5["vox1_dev_wav_partab"]),
        ),
        combined=("vox1_dev_wav.zip", hashlib.md5(dev_zip).hexdigest()),
        test=("vox1_test_wav.zip", md5["vox1_test_wav.zip"]),
        dev_into=".",
        test_into=".",
    )
    monkeypatch.setitem(voxceleb.ARCHIVES, "voxceleb1", arch)
    monkeypatch.setattr(voxceleb, "TRIALS_MD5", hashlib.md5(TRIALS.encode()).hexdigest())
    corpus = tmp_path / "vox"
    with pytest.raises(
        FileNotFoundError,
        match=r"voxceleb1 archives missing: vox1_test_wav\.zip vox1_dev_wav_partaa vox1_dev_wav_partab\. "
        r"VoxCeleb is downloaded after a request",
    ):
        download_voxceleb(corpus, versions=["voxceleb1"])
    with FileServer() as server:
        base = server.url("https://example.org/vox1a/")  # the address a request gives
        for name, data in files.items():
            server.put(f"https://example.org/vox1a/{name}", data)
        monkeypatch.setattr(voxceleb, "TRIALS_URL", server.put(voxceleb.TRIALS_URL, TRIALS.encode()))
        download_voxceleb(corpus, versions=["voxceleb1"], base_url=base)
        prepare_voxceleb(corpus, tmp_path / "data", subsets=["voxceleb1_dev", "voxceleb1_test"])
        assert len(read_scp(tmp_path / "data" / "voxceleb1_test" / "trial_label")) == 2
        assert len(read_scp(tmp_path / "data" / "voxceleb1_dev" / "wav.scp")) == 5
        recorded = {
            ln.split()[1]: ln.split()[0] for ln in read_lines(corpus / "checksums.md5") if not ln.startswith("#")
        }
        assert recorded["downloads/vox1_dev_wav.zip"] == arch.combined[1]
        assert recorded["voxceleb1/veri_test2.txt"] == voxceleb.TRIALS_MD5
        fetched = len(server.fetched())
        download_voxceleb(corpus, versions=["voxceleb1"], base_url=base)  # extracted: only the trial list is checked
        assert len(server.fetched()) == fetched
        # by hand: a corrupt part is named before anything is joined or extracted
        hand = tmp_path / "hand"
        (hand / "downloads").mkdir(parents=True)
        for name, data in files.items():
            (hand / "downloads" / name).write_bytes(data)
        (hand / "downloads" / "vox1_dev_wav_partab").write_bytes(b"x" + files["vox1_dev_wav_partab"][1:])
        with pytest.raises(
            ChecksumError,
            match=r"vox1_dev_wav_partab: md5 [0-9a-f]{32}, expected [0-9a-f]{32} \(published by the VGG site",
        ):
            download_voxceleb(hand, versions=["voxceleb1"])
        assert not (hand / "voxceleb1").exists() and not (hand / "downloads" / "vox1_dev_wav.zip").exists()
        (hand / "downloads" / "vox1_dev_wav_partab").write_bytes(files["vox1_dev_wav_partab"])
        assert (
            prepare_corpus.main(["voxceleb", "download", "--corpus_dir", str(hand), "--subsets", "voxceleb1_test"]) == 0
        )
        assert sorted(p.name for p in (hand / "voxceleb1" / "wav").iterdir()) == [
            "id10001",
            "id10002",
            "id10270",
            "id10300",
        ]
    assert voxceleb.ARCHIVES["voxceleb2"].combined == ("vox2_dev_aac.zip", "bbc063c46078a602ca71605645c2a402")


def test_corpus_yaml():
    conf = check_corpus_yaml("voxceleb", "VOXCELEB")
    assert conf["role"].startswith("speaker source")
