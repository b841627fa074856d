"""A local HTTP server for the download tests.

It serves files at the URL paths of a corpus's own servers (the tests swap only scheme and host,
see :meth:`FileServer.url`), with what a resumable download relies on: ``Range`` requests
answered with ``206`` and ``Content-Range``, a strong ``ETag`` and ``If-Range`` (a file that
changed is sent whole). It can cut the next transfer of a file after N bytes (a dropped
connection), and it logs every request, so a test can say exactly what was fetched. It also
answers proxy requests (an absolute URL in the request line), so a subprocess run with
``http_proxy`` pointing here fetches a recipe's real ``http://`` URLs from it.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import urllib.parse
from typing import Dict, List, Optional, Tuple


class FileServer:
    """Serves ``files`` (URL path -> bytes); use as a context manager."""

    def __init__(self) -> None:
        self.files: Dict[str, bytes] = {}
        self.requests: List[Tuple[str, Optional[str]]] = []  # (path, Range header)
        self._cut: Dict[str, int] = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = urllib.parse.urlparse(self.path).path
                rng, if_range = self.headers.get("Range"), self.headers.get("If-Range")
                outer.requests.append((path, rng))
                if path not in outer.files:
                    self.send_error(404)
                    return
                body = outer.files[path]
                etag = f'"{hashlib.md5(body).hexdigest()}"'
                start = 0
                if rng and (if_range is None or if_range == etag):
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                cut = outer._cut.pop(path, None)
                if cut is not None:  # a connection that drops mid-way
                    self.wfile.write(body[start : start + cut])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body[start:])

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def url(self, real: str) -> str:
        """``real`` (a URL or URL template of the corpus's server) with this server as host."""
        return self.base + urllib.parse.urlparse(real).path

    def put(self, real: str, data: bytes) -> str:
        """Serve ``data`` at the path of ``real``; returns the local URL."""
        self.files[urllib.parse.urlparse(real).path] = data
        return self.url(real)

    def cut_next(self, real: str, after: int) -> None:
        """The next transfer of ``real``'s path stops after ``after`` bytes."""
        self._cut[urllib.parse.urlparse(real).path] = after

    def fetched(self, real: Optional[str] = None) -> List[Tuple[str, Optional[str]]]:
        """Requests so far (of ``real``'s path only, if given)."""
        if real is None:
            return list(self.requests)
        path = urllib.parse.urlparse(real).path
        return [r for r in self.requests if r[0] == path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FileServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
