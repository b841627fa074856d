"""The mini_librispeech recipe's MUSAN (OpenSLR 17) and RIR (OpenSLR 26 sim_rir_8k) downloads,
against a local server in OpenSLR's URL layout ``/resources/<n>/<file>`` with the resource's
checksum list ``/resources/<n>/checksum.md5``.

MUSAN has a published md5 (espnet2_tsdia.utils.checksums.PUBLISHED): a stand-in archive served
under its name is refused, and accepted once the table holds its md5. sim_rir_8k has none pinned:
``local/data.sh --download_rirs true`` fetches the real ``http://www.openslr.org/...`` URL through
the local server (as an HTTP proxy) and checks the zip against OpenSLR's list. The zip holds
``simulated_rirs_8k/<room size>/RoomNNN/RoomNNN-NNNNN.wav``, the folder EEND's and Kaldi's recipes
expect after unzipping it.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from espnet2_tsdia.utils import checksums
from espnet2_tsdia.utils import download as dl
from espnet2_tsdia.utils.checksums import Expected, Manifest
from test.corpora.fileserver import FileServer

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "egs2" / "mini_librispeech" / "diar1"
MUSAN_URL = "https://www.openslr.org/resources/17/musan.tar.gz"
RIR_URL = "http://www.openslr.org/resources/26/sim_rir_8k.zip"
RIR_LIST = "http://www.openslr.org/resources/26/checksum.md5"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def musan_archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, payload in [("musan/noise/free-sound/noise-free-sound-0000.wav", b"RIFF0"), ("musan/README", b"hi")]:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            t.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def rir_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("simulated_rirs_8k/smallroom/Room001/Room001-00001.wav", b"RIFF1")
        z.writestr("simulated_rirs_8k/largeroom/Room002/Room002-00001.wav", b"RIFF2")
    return buf.getvalue()


def test_musan_is_checked_against_its_published_md5(tmp_path, monkeypatch, capsys):
    fake = musan_archive()
    with FileServer() as server:
        url = server.put(MUSAN_URL, fake)
        args = [url, f"{tmp_path}/dl/", "--extract", str(tmp_path / "dl")]
        assert dl.main(args) == 1  # the stand-in is not the published MUSAN: refused, nothing extracted
        err = capsys.readouterr().err
        assert f"musan.tar.gz.part: size {len(fake)} bytes, expected 11086114085 bytes" in err
        assert not (tmp_path / "dl" / "musan").exists()
        (tmp_path / "dl" / "musan.tar.gz.part").unlink()
        monkeypatch.setitem(checksums.PUBLISHED, "17/musan.tar.gz", Expected(md5(fake), len(fake), "test table"))
        assert dl.main(args) == 0
        assert (
            tmp_path / "dl" / "musan" / "noise" / "free-sound" / "noise-free-sound-0000.wav"
        ).read_bytes() == b"RIFF0"
        assert Manifest(tmp_path / "dl" / "checksums.md5").entries() == {"musan.tar.gz": md5(fake)}
        before = len(server.requests)
        assert dl.main(args) == 0  # checked again, not fetched
        assert len(server.requests) == before
        # the published md5 is checked on every run, not only at the download
        (tmp_path / "dl" / "musan.tar.gz").write_bytes(fake[:20] + bytes([fake[20] ^ 0xFF]) + fake[21:])
        assert dl.main(args) == 1
        assert f"expected {md5(fake)} (test table" in capsys.readouterr().err


def _data_sh(server: FileServer, dl_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "no_proxy", "all_proxy")}
    env.update(
        MINI_LIBRISPEECH=str(dl_dir),
        http_proxy=server.base,
        PYTHONPATH=f"{REPO}{os.pathsep}{env.get('PYTHONPATH', '')}",
    )
    cmd = ["bash", str(RECIPE / "local" / "data.sh"), "--stage", "1", "--stop_stage", "1"]
    cmd += ["--local_tree", str(tmp_path / "librispeech"), "--download_rirs", "true", "--python", sys.executable]
    cmd += [
        "--data_dir",
        str(tmp_path / "data"),
        "--simu_conf",
        str(RECIPE / "conf" / "simu" / "mini_librispeech.yaml"),
    ]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)


def test_data_sh_fetches_rirs_checked_against_openslr_list(tmp_path):
    data = rir_zip()
    with FileServer() as server:
        server.put(RIR_URL, data)
        server.put(RIR_LIST, f"{md5(data)}  sim_rir_8k.zip\n{'0' * 32}  sim_rir_16k.zip\n".encode())
        proc = _data_sh(server, tmp_path / "dl", tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert sorted(p for p, _ in server.fetched()) == ["/resources/26/checksum.md5", "/resources/26/sim_rir_8k.zip"]
        rir = tmp_path / "dl" / "sim_rir_8k" / "simulated_rirs_8k" / "smallroom" / "Room001" / "Room001-00001.wav"
        assert rir.read_bytes() == b"RIFF1"
        assert Manifest(tmp_path / "dl" / "checksums.md5").entries() == {"sim_rir_8k.zip": md5(data)}
        before = len(server.requests)
        assert _data_sh(server, tmp_path / "dl", tmp_path).returncode == 0
        assert len(server.requests) == before
        # a zip that is not the one OpenSLR lists is refused and not extracted
        bad = data.replace(b"RIFF2", b"RIFF3")
        server.put(RIR_URL, bad)
        proc = _data_sh(server, tmp_path / "dl2", tmp_path)
        assert proc.returncode != 0
        assert f"sim_rir_8k.zip.part: md5 {md5(bad)}, expected {md5(data)}" in proc.stderr
        assert not (tmp_path / "dl2" / "sim_rir_8k").exists()


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://us.openslr.org/resources/28/rirs_noises.zip", ("e6f48e257286e05de56413b4779d8ffb", 1311166223)),
        ("http://openslr.elda.org/resources/17/musan.tar.gz", ("0c472d4fc0c5141eca47ad1ffeb2a7df", 11086114085)),
        ("http://www.openslr.org/resources/26/sim_rir_8k.zip", None),
    ],
)
def test_published_table_matches_every_mirror(url, expected):
    got = checksums.published(url)
    assert (None if got is None else (got.md5, got.size)) == expected
