"""download_librispeech's bookkeeping against a local server in OpenSLR's layout
(``/resources/31/<part>.tar.gz``, archives holding ``LibriSpeech/<part>/...``): the archive's md5
recorded, a finished extraction skipped without a request, an interrupted one redone, a part
extracted by hand used as it is."""

from __future__ import annotations

import hashlib
import io
import tarfile

from espnet2_tsdia.corpora.librispeech import download_librispeech
from espnet2_tsdia.utils.checksums import Manifest
from test.corpora.fileserver import FileServer

URL = "http://www.openslr.org/resources/31/dev-clean-2.tar.gz"
MEMBERS = {"LibriSpeech/dev-clean-2/7/10/7-10.trans.txt": b"7-10-0000 HI\n", "LibriSpeech/SPEAKERS.TXT": b";\n"}


def archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, payload in MEMBERS.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            t.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def test_extraction_bookkeeping(tmp_path):
    data = archive()
    md5 = hashlib.md5(data).hexdigest()
    with FileServer() as server:
        table = {"dev-clean-2": (server.put(URL, data), md5, len(data))}
        download_librispeech(tmp_path, parts=["dev-clean-2"], downloads=table)
        trans = tmp_path / "LibriSpeech" / "dev-clean-2" / "7" / "10" / "7-10.trans.txt"
        assert trans.read_bytes() == MEMBERS["LibriSpeech/dev-clean-2/7/10/7-10.trans.txt"]
        assert Manifest(tmp_path / "checksums.md5").entries() == {"dev-clean-2.tar.gz": md5}
        download_librispeech(tmp_path, parts=["dev-clean-2"], downloads=table)
        assert len(server.requests) == 1
        # killed while extracting: no marker, a file missing -> extracted again from the checked archive
        (tmp_path / ".dev-clean-2.tar.gz.extracted").unlink()
        trans.unlink()
        download_librispeech(tmp_path, parts=["dev-clean-2"], downloads=table)
        assert trans.is_file() and len(server.requests) == 1
        # a part someone extracted by hand, without the archive: used as it is, nothing fetched
        hand = tmp_path / "hand"
        (hand / "LibriSpeech" / "dev-clean-2").mkdir(parents=True)
        download_librispeech(hand, parts=["dev-clean-2"], downloads=table)
        assert len(server.requests) == 1 and not (hand / "dev-clean-2.tar.gz").exists()
