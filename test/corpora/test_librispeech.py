"""LibriSpeech preparation and the mini_librispeech data stage, on small trees in LibriSpeech's own
layout (flac files and .trans.txt under reader/chapter folders) built here: from the offline
speech corpus (real speech; skipped with the reason when its Debian packages are missing) and
from tone bursts (always available)."""

import hashlib
import http.server
import io
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet2_tsdia.corpora import librispeech as ls
from espnet2_tsdia.corpora.librispeech import download_librispeech, prepare_librispeech
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import read_scp, read_spk2utt, read_utt2spk

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "egs2" / "mini_librispeech" / "diar1"
OFFLINE_SOURCES = ["en_allison", "fr_june", "it_carlo", "ru_ivrvoice"]


def write_tree(root: Path, part: str, readers: dict, *, fs: int = 16000) -> Path:
    """``readers``: reader id -> {chapter id: [waveforms]}; writes LibriSpeech/<part>/... and SPEAKERS.TXT."""
    base = root / "LibriSpeech"
    for reader, chapters in readers.items():
        for chapter, waves in chapters.items():
            d = base / part / reader / chapter
            d.mkdir(parents=True, exist_ok=True)
            lines = []
            for i, x in enumerate(waves):
                utt = f"{reader}-{chapter}-{i:04d}"
                sf.write(d / f"{utt}.flac", x, fs, format="FLAC", subtype="PCM_16")
                lines.append(f"{utt} WORDS OF {utt}\n")
            (d / f"{reader}-{chapter}.trans.txt").write_text("".join(lines))
    spk = base / "SPEAKERS.TXT"
    old = spk.read_text() if spk.exists() else "; ID | SEX | SUBSET | MINUTES | NAME\n"
    new = "".join(f"{r:<5}| {'F' if int(r) % 2 else 'M'} | {part} | 1.0 | Reader {r}\n" for r in readers)
    spk.write_text(old + new)
    return root


def tone_readers(n_readers: int, n_utts: int, *, first: int = 100, fs: int = 16000) -> dict:
    out = {}
    for k in range(n_readers):
        waves = [
            0.3 * np.sin(2 * np.pi * (200 + 100 * k) * np.arange(int((1.0 + 0.25 * j) * fs)) / fs)
            for j in range(n_utts)
        ]
        # two chapters per reader: the speaker must still be the reader
        out[str(first + k)] = {"10": waves[::2], "11": waves[1::2]}
    return out


@pytest.fixture(scope="module")
def tone_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("tones")
    write_tree(root, "train-clean-5", tone_readers(4, 4))
    write_tree(root, "dev-clean-2", tone_readers(3, 4, first=200))
    return root


@pytest.fixture(scope="module")
def offline_tree(tmp_path_factory):
    """A LibriSpeech-layout tree whose readers are the offline corpus's speakers (16 kHz flac)."""
    from scipy.signal import resample_poly

    from espnet2_tsdia.corpora.offline_speech import missing_sources, prepare_offline_speech

    missing = missing_sources(OFFLINE_SOURCES)
    if missing:
        pytest.skip(
            "Debian speech packages missing (tools/install.sh installs them): "
            + "; ".join(f"{k}: {v}" for k, v in missing.items())
        )
    work = tmp_path_factory.mktemp("offline")
    report = prepare_offline_speech(work / "corpus", sources=OFFLINE_SOURCES, max_utts_per_speaker=4)
    wav = read_scp(report.data_dir / "wav.scp")
    u2s = read_utt2spk(report.data_dir / "utt2spk")
    by_spk = {}
    for utt in sorted(wav):
        x, fs = sf.read(wav[utt], dtype="float64")
        by_spk.setdefault(u2s[utt], []).append(resample_poly(x, 2, 1) if fs == 8000 else x)
    parts = {"train-clean-5": {}, "dev-clean-2": {}}
    for k, spk in enumerate(sorted(by_spk)):
        waves = by_spk[spk]
        parts["train-clean-5"][str(300 + k)] = {"20": waves[:2], "21": waves[2:3]}
        parts["dev-clean-2"][str(400 + k)] = {"30": waves[3:]}
    root = work / "tree"
    for part, readers in parts.items():
        write_tree(root, part, {r: c for r, c in readers.items() if any(c.values())})
    return root


def _md5s(root: Path) -> dict:
    return {str(p): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.flac"))}


def test_prepare_reader_level(tone_tree, tmp_path):
    before = _md5s(tone_tree)
    dirs = prepare_librispeech(tone_tree, tmp_path)
    assert dirs == {"train-clean-5": tmp_path / "train_clean_5", "dev-clean-2": tmp_path / "dev_clean_2"}
    d = dirs["train-clean-5"]
    u2s = read_utt2spk(d / "utt2spk")
    assert len(u2s) == 16 and set(u2s.values()) == {"100", "101", "102", "103"}
    assert u2s["100-11-0001"] == "100"  # chapter 11, still reader 100
    assert read_spk2utt(d / "spk2utt")["100"] == ["100-10-0000", "100-10-0001", "100-11-0000", "100-11-0001"]
    wav = read_scp(d / "wav.scp")
    assert wav["101-10-0001"] == str(tone_tree.absolute() / "LibriSpeech/train-clean-5/101/10/101-10-0001.flac")
    # durations from the headers: utterance j of a reader lasts 1 + 0.25 j s (chapter 10 holds j = 0, 2)
    assert read_scp(d / "utt2dur")["100-10-0001"] == "1.5"
    assert read_scp(d / "text")["100-10-0000"] == "WORDS OF 100-10-0000"
    assert read_scp(d / "spk2gender") == {"100": "m", "101": "f", "102": "m", "103": "f"}
    assert _md5s(tone_tree) == before  # the source audio is never modified
    # accepts the LibriSpeech folder itself too
    assert prepare_librispeech(tone_tree / "LibriSpeech", tmp_path / "b", parts=["dev-clean-2"])["dev-clean-2"].is_dir()


def test_prepare_offline_speech_tree(offline_tree, tmp_path):
    dirs = prepare_librispeech(offline_tree, tmp_path)
    u2s = read_utt2spk(dirs["train-clean-5"] / "utt2spk")
    assert set(u2s.values()) == {"300", "301", "302", "303"}
    assert all(sf.info(p).samplerate == 16000 for p in read_scp(dirs["dev-clean-2"] / "wav.scp").values())


def test_prepare_errors(tone_tree, tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=r"part 'train-clean-100' not found \(parts present in .*: \['dev-clean-2', 'train-clean-5'\]\)",
    ):
        prepare_librispeech(tone_tree, tmp_path, parts=["train-clean-100"])
    bad = tmp_path / "bad"
    shutil.copytree(tone_tree / "LibriSpeech" / "dev-clean-2", bad / "LibriSpeech" / "dev-clean-2")
    (bad / "LibriSpeech" / "dev-clean-2" / "200" / "10" / "200-10-0001.flac").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"1 utterances listed in .trans.txt files have no flac file:\n  .*200-10-0001.flac"
    ):
        prepare_librispeech(bad, tmp_path / "o", parts=["dev-clean-2"])
    trans = bad / "LibriSpeech" / "dev-clean-2" / "201" / "10" / "201-10.trans.txt"
    trans.write_text("201-99-0000 HELLO\n")
    with pytest.raises(
        DataFormatError, match=r"201-10.trans.txt:1: expected an utterance id 201-10-NNNN, got '201-99-0000'"
    ):
        prepare_librispeech(bad, tmp_path / "o", parts=["dev-clean-2"])


def test_download_librispeech_from_local_server(tmp_path, monkeypatch):
    tree = write_tree(tmp_path / "src", "dev-clean-2", tone_readers(1, 2, first=7))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        t.add(tree / "LibriSpeech", arcname="LibriSpeech")
    data = buf.getvalue()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "dev-clean-2.tar.gz").write_bytes(data)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path / "www"), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/dev-clean-2.tar.gz"
        table = {"dev-clean-2": (url, hashlib.md5(data).hexdigest(), len(data))}
        out = download_librispeech(tmp_path / "dl", parts=["dev-clean-2"], downloads=table)
        assert (out / "LibriSpeech" / "dev-clean-2" / "7" / "10" / "7-10-0000.flac").is_file()
        from espnet2_tsdia.utils.download import ChecksumError

        (tmp_path / "dl2").mkdir()
        with pytest.raises(ChecksumError, match=r"dev-clean-2.tar.gz.part: md5 .* delete"):
            download_librispeech(
                tmp_path / "dl2", parts=["dev-clean-2"], downloads={"dev-clean-2": (url, "0" * 32, len(data))}
            )
        with pytest.raises(ValueError, match="no download known for LibriSpeech part 'test-other'"):
            download_librispeech(tmp_path / "dl", parts=["test-other"], downloads=table)
        # the CLI data.sh calls (stage 1), then stage 2 on what it fetched
        from espnet2_tsdia.bin import prepare_corpus as cli

        monkeypatch.setitem(ls.MINI_DOWNLOADS, "dev-clean-2", table["dev-clean-2"])
        dl3, data = str(tmp_path / "dl3"), str(tmp_path / "data")
        assert cli.main(["librispeech", "download", "--corpus_dir", dl3, "--parts", "dev-clean-2"]) == 0
        assert cli.main(["librispeech", "--corpus_dir", dl3, "--out_dir", data, "--parts", "dev-clean-2"]) == 0
        assert read_utt2spk(tmp_path / "data" / "dev_clean_2" / "utt2spk") == {"7-10-0000": "7", "7-11-0000": "7"}
        assert cli.main(["librispeech", "--corpus_dir", dl3, "--out_dir", data, "--parts", "dev-other"]) == 2
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert ls.MINI_DOWNLOADS["train-clean-5"][1:] == ("5df7d4e78065366204ca6845bb08f490", 332954390)


TINY_YAML = """common:
  fs: 8000
  min_utts: 1
  max_utts: 2
  noise_snrs: [15]
  turn_model: {type: histogram, pause_same: {edges: [0, 0.5], counts: [1]}, pause_diff: {edges: [0, 0.5, 1.0], counts: [2, 1]}, overlap: {edges: [0, 0.5], counts: [1]}}
sets:
  - {name: train, source: train_clean_5, num_conversations: 3, speaker_counts: {1: 1, 2: 1, 3: 1}, overlap_range: [0.0, 0.3], seed: 1}
  - {name: dev_ns2_ov10-20, source: dev_clean_2, num_conversations: 2, speaker_counts: {2: 1}, overlap_range: [0.1, 0.2], seed: 2}
"""


def _run_data_sh(tree: Path, tmp_path: Path, *extra: str, yaml: str = TINY_YAML) -> subprocess.CompletedProcess:
    recipe = tmp_path / "recipe"
    shutil.rmtree(recipe, ignore_errors=True)
    shutil.copytree(RECIPE / "local", recipe / "local")
    os.symlink(RECIPE.parents[1] / "TEMPLATE" / "tsdia1" / "utils", recipe / "utils")  # log.sh, parse_options.sh
    (recipe / "conf" / "simu").mkdir(parents=True)
    (recipe / "conf" / "simu" / "tiny.yaml").write_text(yaml)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MINI_LIBRISPEECH": str(tmp_path / "none"),
    }
    cmd = [
        "bash",
        "local/data.sh",
        "--local_tree",
        str(tree),
        "--simu_conf",
        "conf/simu/tiny.yaml",
        "--nj",
        "1",
        "--python",
        sys.executable,
        *extra,
    ]
    return subprocess.run(cmd, cwd=recipe, env=env, capture_output=True, text=True)


def _data_sh_checks(proc, tmp_path):
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = tmp_path / "recipe" / "data"
    assert sorted(p.name for p in data.iterdir() if p.is_dir()) == ["dev_ns2_ov10-20", "source", "train"]
    assert sorted(p.name for p in (data / "source").iterdir()) == ["dev_clean_2", "train_clean_5"]
    import json

    st = json.loads((data / "dev_ns2_ov10-20" / "stats.json").read_text())
    assert st["passed"] and 0.1 <= st["stats"]["overlap_ratio_min"] <= st["stats"]["overlap_ratio_max"] <= 0.2
    assert len(read_scp(data / "train" / "wav.scp")) == 3
    assert "Successfully finished" in proc.stderr
    assert proc.stderr.count("Stage 4: checking") == 2


def test_data_sh_on_offline_speech_tree(offline_tree, tmp_path):
    _data_sh_checks(_run_data_sh(offline_tree, tmp_path), tmp_path)


def test_data_sh_bad_option_and_bad_config(tone_tree, tmp_path):
    proc = _run_data_sh(tone_tree, tmp_path, "--bogus", "1")
    assert proc.returncode == 2 and "unknown option --bogus" in proc.stderr
    # a set asking for more speakers than the source has fails before writing the set
    proc = _run_data_sh(
        tone_tree,
        tmp_path,
        "--sets",
        "dev_ns2_ov10-20",
        yaml=TINY_YAML.replace("{2: 1}, overlap_range: [0.1", "{4: 1}, overlap_range: [0.1"),
    )
    assert proc.returncode == 2  # simulate refuses the config: bad input
    assert (
        "source dir data/source/dev_clean_2 has 3 speakers (200, 201, 202), but speaker_counts allows up to 4"
        in proc.stderr
    )
    assert not (tmp_path / "recipe" / "data" / "dev_ns2_ov10-20").exists()
