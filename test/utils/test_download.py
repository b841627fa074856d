import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile

import pytest

from espnet2_tsdia.utils import download as dl
from espnet2_tsdia.utils.download import ChecksumError, download, extract

DATA = bytes(range(256)) * 4000  # 1,024,000 bytes
MD5 = hashlib.md5(DATA).hexdigest()


class Server:
    """A local HTTP server with Range support; it can drop the first response half-way and
    can ignore Range headers. It records every request's Range header."""

    def __init__(self):
        self.ranges = []
        self.drop_first = False
        self.ignore_range = False
        self.body = DATA
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                outer.ranges.append(rng)
                start = 0
                if rng and not outer.ignore_range:
                    start = int(rng.split("=")[1].rstrip("-"))
                    if start >= len(outer.body):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(outer.body) - 1}/{len(outer.body)}")
                else:
                    self.send_response(200)
                body = outer.body[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.drop_first:
                    outer.drop_first = False
                    self.wfile.write(body[: len(body) // 3])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/files/train-clean-5.tar.gz"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def test_download_into_folder_with_md5(server, tmp_path):
    p = download(server.url, tmp_path, md5=MD5, size=len(DATA))
    assert p == tmp_path / "train-clean-5.tar.gz" and p.read_bytes() == DATA
    assert not (tmp_path / "train-clean-5.tar.gz.part").exists()
    # complete and correct: not fetched again
    download(server.url, tmp_path, md5=MD5)
    assert server.ranges == [None]
    # a folder that does not exist yet, named with a trailing slash
    assert download(server.url, f"{tmp_path}/new/", md5=MD5) == tmp_path / "new" / "train-clean-5.tar.gz"


def test_resume_partial_file_from_earlier_run(server, tmp_path):
    (tmp_path / "f.tgz.part").write_bytes(DATA[:300_000])
    p = download(server.url, tmp_path / "f.tgz", md5=MD5)
    assert p.read_bytes() == DATA
    assert server.ranges == ["bytes=300000-"]


def test_connection_dropped_midway_is_resumed(server, tmp_path):
    server.drop_first = True
    p = download(server.url, tmp_path / "f.tgz", md5=MD5, size=len(DATA))
    assert p.read_bytes() == DATA
    assert server.ranges[0] is None and len(server.ranges) == 2
    assert server.ranges[1] == f"bytes={len(DATA) // 3}-"


def test_server_ignoring_range_restarts(server, tmp_path):
    server.ignore_range = True
    (tmp_path / "f.tgz.part").write_bytes(b"garbage" * 10)
    assert download(server.url, tmp_path / "f.tgz", md5=MD5).read_bytes() == DATA


def test_complete_part_file_416(server, tmp_path):
    (tmp_path / "f.tgz.part").write_bytes(DATA)
    assert download(server.url, tmp_path / "f.tgz", md5=MD5).read_bytes() == DATA
    assert server.ranges == [f"bytes={len(DATA)}-"]


def test_corrupt_download_names_file_and_fix(server, tmp_path):
    server.body = DATA[:-1] + b"\x00"
    with pytest.raises(
        ChecksumError, match=r"f.tgz.part: md5 [0-9a-f]{32}, expected " + MD5 + r" .*delete .*f.tgz.part and rerun"
    ):
        download(server.url, tmp_path / "f.tgz", md5=MD5)
    assert not (tmp_path / "f.tgz").exists()


def test_existing_wrong_file_is_reported(server, tmp_path):
    (tmp_path / "f.tgz").write_bytes(b"old")
    with pytest.raises(ChecksumError, match=r"f.tgz: size 3 bytes, expected 1024000.*delete .*f.tgz and rerun"):
        download(server.url, tmp_path / "f.tgz", size=len(DATA))
    assert server.ranges == []


def _tar(path, members):
    with tarfile.open(path, "w:gz") as t:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                t.addfile(info, io.BytesIO(payload))
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, payload
                t.addfile(info)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                t.addfile(info)


def test_extract_tar_and_zip(tmp_path):
    _tar(
        tmp_path / "a.tar.gz",
        [("LibriSpeech", "dir", None), ("LibriSpeech/x.txt", "file", b"hi"), ("LibriSpeech/l", "sym", "x.txt")],
    )
    out = extract(tmp_path / "a.tar.gz", tmp_path / "out")
    assert (out / "LibriSpeech" / "x.txt").read_bytes() == b"hi"
    assert (out / ".a.tar.gz.extracted").exists()
    (out / "LibriSpeech" / "x.txt").unlink()
    extract(tmp_path / "a.tar.gz", tmp_path / "out")  # marker: skipped
    assert not (out / "LibriSpeech" / "x.txt").exists()
    with zipfile.ZipFile(tmp_path / "r.zip", "w") as z:
        z.writestr("rirs/r1.wav", b"RIFF")
    assert (extract(tmp_path / "r.zip", tmp_path / "z") / "rirs" / "r1.wav").read_bytes() == b"RIFF"


@pytest.mark.parametrize(
    "members, match",
    [
        ([("../evil.txt", "file", b"x")], r"member '../evil.txt' would be written outside"),
        ([("/etc/evil", "file", b"x")], r"member '/etc/evil' has an absolute path"),
        ([("ok/link", "sym", "../../outside")], r"member 'ok/link' links to '../../outside', outside"),
        ([("ok/a", "file", b"x"), ("ok/abs", "sym", "/etc/passwd")], r"links to '/etc/passwd'"),
    ],
)
def test_extract_refuses_escaping_members(tmp_path, members, match):
    _tar(tmp_path / "bad.tar.gz", members)
    with pytest.raises(ValueError, match=match):
        extract(tmp_path / "bad.tar.gz", tmp_path / "out")
    assert os.listdir(tmp_path / "out") == []  # nothing written


def test_extract_refuses_zip_slip(tmp_path):
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as z:
        z.writestr("../../evil", b"x")
    with pytest.raises(ValueError, match=r"'../../evil' would be written outside"):
        extract(tmp_path / "bad.zip", tmp_path / "out")


def test_cli(server, tmp_path, capsys):
    _tar(tmp_path / "src.tar.gz", [("d/f.txt", "file", b"payload")])
    server.body = (tmp_path / "src.tar.gz").read_bytes()
    md5 = hashlib.md5(server.body).hexdigest()
    assert dl.main([server.url, str(tmp_path), "--md5", md5, "--extract", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "d" / "f.txt").read_bytes() == b"payload"
    assert dl.main([server.url, str(tmp_path / "other.tgz"), "--md5", "0" * 32]) == 1
    assert "delete" in capsys.readouterr().err
