import hashlib
import http.client
import http.server
import io
import os
import subprocess
import tarfile
import threading
import zipfile

import pytest

from espnet2_tsdia.utils import download as dl
from espnet2_tsdia.utils.checksums import Expected, Manifest, parse_md5_list
from espnet2_tsdia.utils.download import ChecksumError, download, expected_checksum, extract

DATA = bytes(range(256)) * 4000  # 1,024,000 bytes
MD5 = hashlib.md5(DATA).hexdigest()


class Server:
    """A local HTTP server with Range support and a strong ETag (If-Range honoured); it can drop
    the first response half-way, ignore Range headers, or answer a range other than the one asked
    for. It records every request's Range and If-Range headers."""

    def __init__(self):
        self.ranges = []
        self.if_ranges = []
        self.drop_first = False
        self.ignore_range = False
        self.wrong_start = False
        self.body = DATA
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                outer.ranges.append(rng)
                outer.if_ranges.append(self.headers.get("If-Range"))
                etag = f'"{hashlib.md5(outer.body).hexdigest()}"'
                if self.headers.get("If-Range") not in (None, etag):
                    rng = None  # the file changed: send all of it
                start = 0
                if rng and not outer.ignore_range:
                    start = int(rng.split("=")[1].rstrip("-"))
                    if outer.wrong_start:
                        start = max(start - 10, 0)
                    if start >= len(outer.body):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(outer.body) - 1}/{len(outer.body)}")
                else:
                    self.send_response(200)
                self.send_header("ETag", etag)
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


# --------------------------------------------------------------------------- resume safety
def test_file_changed_on_server_between_runs_is_downloaded_again(server, tmp_path):
    server.drop_first = True
    with pytest.raises(http.client.HTTPException):  # the dropped connection, with no retries allowed
        download(server.url, tmp_path / "f.tgz", retries=0)
    assert (tmp_path / "f.tgz.part").stat().st_size == len(DATA) // 3
    first_etag = f'"{MD5}"'
    new = DATA[::-1]
    server.body = new
    p = download(server.url, tmp_path / "f.tgz", md5=hashlib.md5(new).hexdigest())
    assert p.read_bytes() == new  # not the old third spliced onto the new file's tail
    assert server.ranges[-1] == f"bytes={len(DATA) // 3}-" and server.if_ranges[-1] == first_etag
    assert not (tmp_path / "f.tgz.part.meta").exists()


def test_range_answer_starting_elsewhere_restarts(server, tmp_path):
    (tmp_path / "f.tgz.part").write_bytes(DATA[:5000])
    server.wrong_start = True
    assert download(server.url, tmp_path / "f.tgz", md5=MD5).read_bytes() == DATA
    assert server.ranges == ["bytes=5000-", None]


def test_partial_file_longer_than_the_file_restarts(server, tmp_path):
    (tmp_path / "f.tgz.part").write_bytes(DATA + b"extra")
    assert download(server.url, tmp_path / "f.tgz", size=len(DATA), md5=MD5).read_bytes() == DATA
    assert server.ranges == [None]


# --------------------------------------------------------------------------- checksums
def test_manifest_records_first_download_and_checks_later_runs(server, tmp_path):
    manifest = Manifest(tmp_path / "checksums.md5")
    p = download(server.url, tmp_path, manifest=manifest)
    assert manifest.entries() == {"train-clean-5.tar.gz": MD5}
    assert download(server.url, tmp_path, manifest=manifest) == p and server.ranges == [None]
    p.write_bytes(DATA[:-1] + b"!")
    with pytest.raises(ChecksumError, match=r"train-clean-5.tar.gz: md5 .*recorded in .*checksums.md5") as e:
        download(server.url, tmp_path, manifest=manifest)
    assert (e.value.kind, e.value.expected, e.value.actual) == ("md5", MD5, hashlib.md5(DATA[:-1] + b"!").hexdigest())
    assert server.ranges == [None]
    # md5sum reads the manifest
    p.write_bytes(DATA)
    assert subprocess.run(["md5sum", "--quiet", "-c", "checksums.md5"], cwd=tmp_path).returncode == 0


def test_published_md5_replaces_a_different_recorded_one(server, tmp_path):
    manifest = Manifest(tmp_path / "checksums.md5")
    manifest.record(tmp_path / "f.tgz", "0" * 32)
    download(server.url, tmp_path / "f.tgz", md5=MD5, manifest=manifest)
    assert manifest.get(tmp_path / "f.tgz") == MD5


def test_manifest_format_errors(tmp_path):
    m = Manifest(tmp_path / "checksums.md5")
    (tmp_path / "checksums.md5").write_text("# header\n" + MD5 + "  a/b.wav\nnot a line\n")
    with pytest.raises(ValueError, match=r"checksums.md5:3: expected '<md5>  <path>', got 'not a line'"):
        m.entries()
    with pytest.raises(ValueError, match=r"not under"):
        m.key(tmp_path.parent / "elsewhere")


def test_parse_md5_list_formats():
    text = f"{MD5}  train_L.tar.gz\n{'a' * 32} *sub/test.tar.gz\nMD5 (train_M.tar.gz) = {'B' * 32}\n\n# note\n"
    assert parse_md5_list(text) == {"train_L.tar.gz": MD5, "test.tar.gz": "a" * 32, "train_M.tar.gz": "b" * 32}
    with pytest.raises(ValueError, match=r"list:2: expected"):
        parse_md5_list(f"{MD5}  x\nsomething else\n", source="list")


def test_expected_checksum_sources(tmp_path):
    # an OpenSLR layout under file:// stands in for a mirror: resources/<n>/<file> and checksum.md5
    res = tmp_path / "resources" / "26"
    res.mkdir(parents=True)
    (res / "checksum.md5").write_text(f"{MD5}  sim_rir_8k.zip\n")
    url = (res / "sim_rir_8k.zip").as_uri()
    exp = expected_checksum(url, tmp_path / "dl" / "sim_rir_8k.zip")
    assert (exp.md5, exp.size) == (MD5, None) and (tmp_path / "dl" / "openslr-26-checksum.md5").is_file()
    # not listed: nothing known (the first download will be recorded)
    assert expected_checksum(url.replace("sim_rir_8k", "sim_rir_16k"), tmp_path / "dl" / "x.zip") == Expected()
    # no list at all: the same
    assert expected_checksum((tmp_path / "resources/27/a.zip").as_uri(), tmp_path / "dl27" / "a.zip") == Expected()
    # the caller's values come first, then the published table, then the manifest
    assert expected_checksum(url, tmp_path / "x", md5="A" * 32).md5 == "a" * 32
    rirs = expected_checksum("https://www.openslr.org/resources/28/rirs_noises.zip", tmp_path / "r.zip")
    assert rirs.size == 1311166223
    m = Manifest(tmp_path / "checksums.md5")
    m.record(tmp_path / "other.zip", MD5)
    assert expected_checksum("http://h/other.zip", tmp_path / "other.zip", manifest=m).md5 == MD5


def test_cli_writes_manifest_unless_told_not_to(server, tmp_path):
    assert dl.main([server.url, f"{tmp_path}/a/"]) == 0
    assert Manifest(tmp_path / "a" / "checksums.md5").entries() == {"train-clean-5.tar.gz": MD5}
    assert dl.main([server.url, f"{tmp_path}/b/", "--manifest", ""]) == 0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["train-clean-5.tar.gz"]
