"""download_icsi against a local server in the URL layout of the Edinburgh ICSI mirror.

Layout (icsi.py's URLs): ``/ami/ICSICorpusAnnotations/ICSI_original_transcripts.zip``, a zip whose
MRT files sit under ``transcripts/`` (lhotse's ICSI recipe reads ``transcripts/*.mrt`` under the
folder it extracts the zip into; ``preambles.mrt`` is not a meeting), the headset mix at
``/ami/ICSIsignals/NXT/<MTG>.interaction.wav`` and single channels at
``/ami/ICSIsignals/SPH/<MTG>/<chan>.sph``. The mirror publishes no checksums, so what is checked
is the md5 recorded at the first download (``<corpus_dir>/checksums.md5``).
"""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest
import soundfile

from espnet2_tsdia.corpora import icsi
from espnet2_tsdia.utils.checksums import Manifest
from espnet2_tsdia.utils.download import ChecksumError
from test.corpora.fileserver import FileServer
from test.corpora.native import mrt

TRANSCRIPTS_URL, MIX_URL, SPH_URL = icsi.TRANSCRIPTS_URL, icsi.MIX_URL, icsi.SPH_URL
MEETINGS = ("Bmr021", "Bns001")


def audio_bytes(seed: int, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    x = (np.random.default_rng(seed).standard_normal(4000) * 300).astype(np.int16)
    soundfile.write(buf, x, 16000, format=fmt, subtype="PCM_16")
    return buf.getvalue()


def transcripts_zip() -> bytes:
    """The same bytes on every call (fixed member times)."""
    buf = io.BytesIO()
    members = {f"transcripts/{m}.mrt": mrt(m, 2.0, [(0.1, 1.0, "me011", "hello there")]) for m in MEETINGS}
    members["transcripts/preambles.mrt"] = "<Preambles/>\n"
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2004, 1, 1, 0, 0, 0)), text)
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def mirror(monkeypatch):
    with FileServer() as server:
        for name, url in [("TRANSCRIPTS_URL", TRANSCRIPTS_URL), ("MIX_URL", MIX_URL), ("SPH_URL", SPH_URL)]:
            monkeypatch.setattr(icsi, name, server.url(url))
        server.put(TRANSCRIPTS_URL, transcripts_zip())
        for i, mtg in enumerate(MEETINGS):
            server.put(MIX_URL.format(mtg=mtg), audio_bytes(i))
            server.put(SPH_URL.format(mtg=mtg, chan="chanF"), audio_bytes(10 + i, "NIST"))
        yield server


def test_complete_download_is_recorded_and_not_fetched_again(mirror, tmp_path):
    icsi.download_icsi(tmp_path)
    assert icsi.meetings(tmp_path) == list(MEETINGS)
    for i, mtg in enumerate(MEETINGS):
        assert icsi.audio_path(tmp_path, mtg, "ihm-mix").read_bytes() == audio_bytes(i)
    assert Manifest(tmp_path / "checksums.md5").entries() == {
        "downloads/ICSI_original_transcripts.zip": md5(transcripts_zip()),
        "ICSIsignals/NXT/Bmr021.interaction.wav": md5(audio_bytes(0)),
        "ICSIsignals/NXT/Bns001.interaction.wav": md5(audio_bytes(1)),
    }
    before = len(mirror.requests)
    icsi.download_icsi(tmp_path)
    assert len(mirror.requests) == before
    # a single channel (SPHERE) goes to its own path and is recorded too
    icsi.download_icsi(tmp_path, mic="chanF")
    assert icsi.audio_path(tmp_path, "Bns001", "chanF").read_bytes() == audio_bytes(11, "NIST")
    assert Manifest(tmp_path / "checksums.md5").get(icsi.audio_path(tmp_path, "Bns001", "chanF")) == md5(
        audio_bytes(11, "NIST")
    )


def test_dropped_transfer_resumes_and_interrupted_extraction_is_redone(mirror, tmp_path):
    mirror.cut_next(MIX_URL.format(mtg="Bns001"), 2500)
    icsi.download_icsi(tmp_path)
    path = "/ami/ICSIsignals/NXT/Bns001.interaction.wav"
    assert mirror.fetched(MIX_URL.format(mtg="Bns001")) == [(path, None), (path, "bytes=2500-")]
    assert icsi.audio_path(tmp_path, "Bns001", "ihm-mix").read_bytes() == audio_bytes(1)
    # an extraction killed half-way leaves no marker: the next run extracts again (from the
    # checked archive, without fetching it)
    (tmp_path / ".ICSI_original_transcripts.zip.extracted").unlink()
    (tmp_path / "transcripts" / "Bns001.mrt").unlink()
    before = len(mirror.requests)
    icsi.download_icsi(tmp_path)
    assert len(mirror.requests) == before
    assert icsi.meetings(tmp_path) == list(MEETINGS)


def test_changed_file_is_refused(mirror, tmp_path):
    icsi.download_icsi(tmp_path)
    archive = tmp_path / "downloads" / "ICSI_original_transcripts.zip"
    archive.write_bytes(archive.read_bytes() + b"junk")
    with pytest.raises(ChecksumError, match=r"ICSI_original_transcripts\.zip: md5 .*trust on first use") as e:
        icsi.download_icsi(tmp_path)
    assert (e.value.expected, e.value.actual) == (md5(transcripts_zip()), md5(archive.read_bytes()))
    # an audio file the server now serves differently than when it was recorded
    icsi.audio_path(tmp_path, "Bmr021", "ihm-mix").unlink()
    archive.write_bytes(transcripts_zip())
    mirror.put(MIX_URL.format(mtg="Bmr021"), audio_bytes(7))
    with pytest.raises(ChecksumError) as e:
        icsi.download_icsi(tmp_path)
    assert (e.value.expected, e.value.actual) == (md5(audio_bytes(0)), md5(audio_bytes(7)))
    assert not icsi.audio_path(tmp_path, "Bmr021", "ihm-mix").exists()
