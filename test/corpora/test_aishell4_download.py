"""download_aishell4 against a local server in OpenSLR's URL layout.

Layout: ``/resources/111/<part>.tar.gz`` (aishell4.py's URL; the same path on every OpenSLR
mirror), each archive holding ``<part>/wav/<SESSION>.flac`` and ``<part>/TextGrid/<SESSION>.TextGrid``
(the layout ``prepare_aishell4`` reads, as lhotse's aishell4 recipe extracts it), and OpenSLR's
checksum list ``/resources/111/checksum.md5`` (``<md5>  <file>`` lines, as public download
scripts describe it) that the archives are checked against.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from espnet2_tsdia.corpora import aishell4
from espnet2_tsdia.corpora.aishell4 import download_aishell4, prepare_aishell4
from espnet2_tsdia.utils.checksums import Manifest
from espnet2_tsdia.utils.download import ChecksumError
from test.corpora.fileserver import FileServer
from test.corpora.native import textgrid, write_audio, write_text

SESSIONS = {"train_S": "20200620_S_R001S01C01", "test": "L_R003S01C02"}
TIERS = [("001-F", [(0.1, 0.6, "你 好")]), ("002-M", [(0.4, 0.9, "对 的")])]
LIST_URL = "http://www.openslr.org/resources/111/checksum.md5"


def part_archive(tmp: Path, part: str) -> bytes:
    session = SESSIONS[part]
    root = tmp / f"src_{part}"
    write_text(root / part / "TextGrid" / f"{session}.TextGrid", textgrid(1.0, TIERS))
    write_audio(root / part / "wav" / f"{session}.flac", 1.0, channels=8)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        t.add(root / part, arcname=part)
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def openslr(tmp_path, monkeypatch):
    """The two archives and OpenSLR's list of their md5s."""
    with FileServer() as server:
        monkeypatch.setattr(aishell4, "URL", server.url(aishell4.URL))
        archives = {part: part_archive(tmp_path, part) for part in SESSIONS}
        for part, data in archives.items():
            server.put(aishell4.URL.format(part=part), data)
        server.put(LIST_URL, "".join(f"{md5(d)}  {p}.tar.gz\n" for p, d in archives.items()).encode())
        server.archives = archives
        yield server


def test_download_checked_against_openslr_list(openslr, tmp_path):
    root = tmp_path / "aishell4"
    download_aishell4(root, parts=["train_S", "test"])
    assert (root / "test" / "TextGrid" / "L_R003S01C02.TextGrid").is_file()
    assert Manifest(root / "checksums.md5").entries() == {
        f"downloads/{p}.tar.gz": md5(d) for p, d in openslr.archives.items()
    }
    assert (root / "downloads" / "openslr-111-checksum.md5").read_bytes() == openslr.files[
        "/resources/111/checksum.md5"
    ]
    # extracted parts: the next run fetches nothing at all
    before = len(openslr.requests)
    download_aishell4(root, parts=["train_S", "test"])
    assert len(openslr.requests) == before
    # the extracted tree is what prepare_aishell4 reads
    reports = prepare_aishell4(root, tmp_path / "data", parts=["train_S", "test"], num_dev=0)
    assert sorted(reports) == ["aishell4_test", "aishell4_train"]


def test_resume_and_interrupted_extraction(openslr, tmp_path):
    root = tmp_path / "aishell4"
    openslr.cut_next(aishell4.URL.format(part="test"), 4000)
    (root / "downloads").mkdir(parents=True)
    (root / "downloads" / "train_S.tar.gz.part").write_bytes(openslr.archives["train_S"][:2000])
    download_aishell4(root, parts=["train_S", "test"])
    assert openslr.fetched(aishell4.URL.format(part="test")) == [
        ("/resources/111/test.tar.gz", None),
        ("/resources/111/test.tar.gz", "bytes=4000-"),
    ]
    assert openslr.fetched(aishell4.URL.format(part="train_S")) == [("/resources/111/train_S.tar.gz", "bytes=2000-")]
    for part, data in openslr.archives.items():
        assert (root / "downloads" / f"{part}.tar.gz").read_bytes() == data
    # killed during the extraction (no marker, a file missing): extracted again, nothing fetched
    (root / ".test.tar.gz.extracted").unlink()
    (root / "test" / "wav" / "L_R003S01C02.flac").unlink()
    before = len(openslr.requests)
    download_aishell4(root, parts=["test"])
    assert len(openslr.requests) == before and (root / "test" / "wav" / "L_R003S01C02.flac").is_file()


def test_archive_differing_from_published_md5_is_refused(openslr, tmp_path):
    good = openslr.archives["test"]
    openslr.put(aishell4.URL.format(part="test"), good[:-10] + bytes(10))
    root = tmp_path / "aishell4"
    with pytest.raises(ChecksumError, match=r"test\.tar\.gz\.part: md5 .*published by OpenSLR in .*checksum\.md5") as e:
        download_aishell4(root, parts=["test"])
    assert (e.value.expected, e.value.actual) == (md5(good), md5(good[:-10] + bytes(10)))
    assert not (root / "downloads" / "test.tar.gz").exists() and not (root / "test").exists()
    assert Manifest(root / "checksums.md5").entries() == {}


def test_without_published_list_first_download_is_recorded(openslr, tmp_path):
    del openslr.files["/resources/111/checksum.md5"]
    root = tmp_path / "aishell4"
    download_aishell4(root, parts=["test"])
    assert Manifest(root / "checksums.md5").entries() == {"downloads/test.tar.gz": md5(openslr.archives["test"])}
    # a part extracted by hand (no archive, no marker) is used as it is, not fetched
    write_text(root / "train_S" / "TextGrid" / "x.TextGrid", textgrid(1.0, TIERS))
    before = len(openslr.requests)
    download_aishell4(root, parts=["train_S", "test"])
    assert len(openslr.requests) == before
    with pytest.raises(ValueError, match="unknown AISHELL-4 part 'dev'"):
        download_aishell4(root, parts=["dev"])
