"""download_ami against a local server in the URL layout of the AMI mirror and GitHub.

Layout (ami.py's AUDIO_URL and SETUP_URL, the paths lhotse's AMI recipe and the BUT setup's
README use): ``/ami/AMICorpusMirror/amicorpus/<MTG>/audio/<MTG>.<stream>.wav`` on the Edinburgh
mirror, and ``/BUTSpeechFIT/AMI-diarization-setup/archive/HEAD.zip`` on GitHub, a zip holding one
top-level folder with ``lists/<split>.meetings.txt``. The mirror publishes no checksums, so what
is checked is the md5 recorded at the first download (``<corpus_dir>/checksums.md5``).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from espnet2_tsdia.corpora import ami
from espnet2_tsdia.utils.checksums import Manifest
from espnet2_tsdia.utils.download import ChecksumError
from test.corpora.fileserver import FileServer

AUDIO_URL, SETUP_URL = ami.AUDIO_URL, ami.SETUP_URL
LISTS = {"train": ["ES2002a", "TS3007c"], "dev": ["ES2011a"], "test": ["EN2002a"]}


def wav_bytes(seed: int, seconds: float = 0.25) -> bytes:
    buf = io.BytesIO()
    x = (np.random.default_rng(seed).standard_normal(int(16000 * seconds)) * 300).astype(np.int16)
    soundfile.write(buf, x, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def setup_zip(lists) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for split, meetings in lists.items():
            info = zipfile.ZipInfo(
                f"AMI-diarization-setup-HEAD/lists/{split}.meetings.txt", date_time=(2020, 1, 1, 0, 0, 0)
            )
            z.writestr(info, "".join(m + "\n" for m in meetings))
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def mirror(monkeypatch):
    """The local server with the setup and every listed meeting's Mix-Headset audio."""
    with FileServer() as server:
        monkeypatch.setattr(ami, "AUDIO_URL", server.url(AUDIO_URL))
        monkeypatch.setattr(ami, "SETUP_URL", server.url(SETUP_URL))
        server.put(SETUP_URL, setup_zip(LISTS))
        for i, mtg in enumerate(m for ms in LISTS.values() for m in ms):
            server.put(AUDIO_URL.format(mtg=mtg, stream="Mix-Headset"), wav_bytes(i))
        yield server


def audio_url(mtg: str, stream: str = "Mix-Headset") -> str:
    return AUDIO_URL.format(mtg=mtg, stream=stream)


def served(server: FileServer, mtg: str) -> bytes:
    return server.files[f"/ami/AMICorpusMirror/amicorpus/{mtg}/audio/{mtg}.Mix-Headset.wav"]


def test_complete_download_is_recorded_and_not_fetched_again(mirror, tmp_path):
    root = tmp_path / "ami"
    ami.download_ami(root)
    for mtg in ["ES2002a", "TS3007c", "ES2011a", "EN2002a"]:
        assert ami.audio_path(root, mtg, "Mix-Headset").read_bytes() == served(mirror, mtg)
    assert (root / "AMI-diarization-setup" / "lists" / "dev.meetings.txt").read_text() == "ES2011a\n"
    recorded = Manifest(root / "checksums.md5").entries()
    assert recorded == {
        "downloads/AMI-diarization-setup.zip": md5(
            mirror.files["/BUTSpeechFIT/AMI-diarization-setup/archive/HEAD.zip"]
        ),
        **{f"amicorpus/{m}/audio/{m}.Mix-Headset.wav": md5(served(mirror, m)) for ms in LISTS.values() for m in ms},
    }
    assert sorted(p.name for p in root.rglob("*.part*")) == []
    # a second run checks every file against its line and fetches nothing
    before = len(mirror.requests)
    ami.download_ami(root)
    assert len(mirror.requests) == before


def test_dropped_transfer_and_interrupted_run_resume(mirror, tmp_path):
    root = tmp_path / "ami"
    mirror.cut_next(audio_url("TS3007c"), 3000)  # the connection drops after 3000 bytes
    part = ami.audio_path(root, "ES2011a", "Mix-Headset").with_name("ES2011a.Mix-Headset.wav.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(served(mirror, "ES2011a")[:1000])  # what a killed run left
    ami.download_ami(root, splits=["train", "dev"])
    path = "/ami/AMICorpusMirror/amicorpus/{0}/audio/{0}.Mix-Headset.wav"
    assert mirror.fetched(audio_url("TS3007c")) == [
        (path.format("TS3007c"), None),
        (path.format("TS3007c"), "bytes=3000-"),
    ]
    assert mirror.fetched(audio_url("ES2011a")) == [(path.format("ES2011a"), "bytes=1000-")]
    for mtg in ["TS3007c", "ES2011a"]:
        assert ami.audio_path(root, mtg, "Mix-Headset").read_bytes() == served(mirror, mtg)
    assert Manifest(root / "checksums.md5").get(ami.audio_path(root, "TS3007c", "Mix-Headset")) == md5(
        served(mirror, "TS3007c")
    )


def test_changed_file_is_refused(mirror, tmp_path):
    root = tmp_path / "ami"
    ami.download_ami(root, splits=["test"])
    path = ami.audio_path(root, "EN2002a", "Mix-Headset")
    first = md5(path.read_bytes())
    # a file damaged on disk: the next run names it, with the recorded and the actual md5
    path.write_bytes(path.read_bytes()[:-2] + b"\x01\x02")
    with pytest.raises(ChecksumError, match=r"EN2002a\.Mix-Headset\.wav: md5 [0-9a-f]{32}, expected " + first) as e:
        ami.download_ami(root, splits=["test"], missing_ok=True)  # a wrong file is never "missing"
    assert (e.value.kind, e.value.expected, e.value.actual) == ("md5", first, md5(path.read_bytes()))
    # the server's file changed since it was recorded: the new download is refused, not put in place
    path.unlink()
    mirror.put(audio_url("EN2002a"), wav_bytes(99))
    with pytest.raises(ChecksumError) as e:
        ami.download_ami(root, splits=["test"])
    assert (e.value.path, e.value.expected, e.value.actual) == (
        Path(str(path) + ".part"),
        first,
        md5(wav_bytes(99)),
    )
    assert not path.exists()


def test_missing_audio(mirror, tmp_path):
    del mirror.files["/ami/AMICorpusMirror/amicorpus/EN2002a/audio/EN2002a.Mix-Headset.wav"]
    with pytest.raises(OSError, match="404"):
        ami.download_ami(tmp_path / "a", splits=["test"])
    ami.download_ami(tmp_path / "b", splits=["dev", "test"], missing_ok=True)
    assert ami.audio_path(tmp_path / "b", "ES2011a", "Mix-Headset").is_file()
    assert not ami.audio_path(tmp_path / "b", "EN2002a", "Mix-Headset").exists()


def test_known_missing_sdm_files_are_not_requested(mirror, tmp_path):
    mirror.put(SETUP_URL, setup_zip({"train": ["IS1003b", "ES2002a"]}))
    mirror.put(audio_url("ES2002a", "Array1-01"), wav_bytes(5))
    ami.download_ami(tmp_path, stream="Array1-01", splits=["train"])
    assert [p for p, _ in mirror.fetched() if "IS1003b" in p] == []
    assert ami.audio_path(tmp_path, "ES2002a", "Array1-01").read_bytes() == wav_bytes(5)
