#!/usr/bin/env python3
"""Downloads with resume and checksums, and archive extraction that stays inside its folder.

Usage:
    python -m espnet2_tsdia.utils.download http://www.openslr.org/resources/31/dev-clean-2.tar.gz downloads/ \
        --md5 6d7ab67ac6a1d2c993d050e16d61080d --size 126046265 --extract downloads/
    python -m espnet2_tsdia.utils.download --extract_only downloads/dev-clean-2.tar.gz downloads/

:func:`download` writes to ``<dest>.part`` and resumes a partial file with an HTTP ``Range``
request (after an interrupted run, or a connection dropped mid-way: it retries by itself), then
checks the size and md5 and renames the file into place. A file that is already complete and
correct is not fetched again. A checksum mismatch raises :class:`ChecksumError` naming the file
and what to do. :func:`extract` unpacks tar (gz, bz2, xz) and zip archives and refuses any member
that would land outside the destination (absolute paths, ``..``, links pointing out, devices).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import logging
import os
import socket
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import List, Optional, Union

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


class ChecksumError(RuntimeError):
    """A downloaded file does not have the expected size or md5."""


def md5sum(path: PathLike, *, chunk: int = _CHUNK) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _target(url: str, dest: PathLike) -> Path:
    as_dir = str(dest).endswith(("/", os.sep))  # before Path() drops the trailing separator
    dest = Path(dest)
    if dest.is_dir() or as_dir:
        name = Path(urllib.parse.urlparse(url).path).name
        if not name:
            raise ValueError(f"cannot name the file of {url!r}: give dest as a file path")
        return dest / name
    return dest


def _verify(path: Path, url: str, md5: Optional[str], size: Optional[int], hint: str) -> None:
    got_size = path.stat().st_size
    if size is not None and got_size != size:
        raise ChecksumError(f"{path}: size {got_size} bytes, expected {size} (from {url}); {hint}")
    if md5 is not None:
        got = md5sum(path)
        if got != md5.lower():
            raise ChecksumError(f"{path}: md5 {got}, expected {md5.lower()} (from {url}); {hint}")


def download(
    url: str,
    dest: PathLike,
    *,
    md5: Optional[str] = None,
    size: Optional[int] = None,
    retries: int = 5,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` (a file, or an existing folder to put it in), resumably.

    Args:
        url: http(s), ftp or file URL.
        dest: the file to write, or a folder (an existing one, or a path ending with ``/``,
            created): the URL's file name is used.
        md5: expected md5 hex digest (checked after the download, and on an existing file).
        size: expected size in bytes.
        retries: how many times a dropped connection is resumed before giving up.
        timeout: socket timeout in seconds.

    Returns:
        The path of the complete, verified file.

    Raises:
        ChecksumError: wrong size or md5 (the message names the file and says to delete it and
            rerun).
        urllib.error.URLError / OSError: the server cannot be reached after ``retries`` tries.
    """
    path = _target(url, dest)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _verify(path, url, md5, size, f"delete {path} and rerun to download it again")
        logger.info("%s: already downloaded%s", path, " (md5 ok)" if md5 else "")
        return path
    part = path.with_name(path.name + ".part")
    attempt = 0
    while True:
        try:
            _fetch(url, part, timeout=timeout, expected_size=size)
            break
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError) as e:
            if isinstance(e, urllib.error.HTTPError) and e.code not in (408, 429, 500, 502, 503, 504):
                raise
            attempt += 1
            if attempt > retries:
                raise
            have = part.stat().st_size if part.exists() else 0
            logger.warning("%s: %s after %d bytes; resuming (try %d of %d)", url, e, have, attempt, retries)
            time.sleep(min(2.0 ** (attempt - 1), 30.0) * 0.1)
    _verify(
        part,
        url,
        md5,
        size,
        f"delete {part} and rerun (a partial file from an interrupted run or a changed file on the server)",
    )
    part.replace(path)
    logger.info("%s: downloaded (%d bytes)%s", path, path.stat().st_size, ", md5 ok" if md5 else "")
    return path


def _fetch(url: str, part: Path, *, timeout: float, expected_size: Optional[int]) -> None:
    """One request: append to ``part`` from its current size (Range), or restart if the server
    ignores ranges. Returns when the server's body is complete."""
    have = part.stat().st_size if part.exists() else 0
    if expected_size is not None and have == expected_size:
        return
    req = urllib.request.Request(url, headers={"User-Agent": "espnet2_tsdia-download"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: the part is complete
            return
        raise
    with resp:
        status = getattr(resp, "status", 200)
        if have and status != 206:
            logger.warning("%s: server ignored the Range request (status %s); downloading from the start", url, status)
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        mode = "ab" if have else "wb"
        got = have
        last_log = time.monotonic()
        with open(part, mode) as f:
            while True:
                block = resp.read(_CHUNK)
                if not block:
                    break
                f.write(block)
                got += len(block)
                if time.monotonic() - last_log > 30:
                    logger.info("%s: %d%s bytes", part.name, got, f" of {total}" if total else "")
                    last_log = time.monotonic()
        if total is not None and got < total:
            raise http.client.IncompleteRead(b"", total - got)


# --------------------------------------------------------------------------- extraction
def _inside(root: Path, target: Path) -> bool:
    try:
        target.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _check_member(archive: Path, root: Path, name: str) -> Path:
    if not name or os.path.isabs(name) or name.startswith(("/", "\\")):
        raise ValueError(f"{archive}: member {name!r} has an absolute path; refusing to extract it")
    target = root / name
    if ".." in Path(name).parts or not _inside(root, target):
        raise ValueError(f"{archive}: member {name!r} would be written outside {root}; refusing to extract it")
    return target


def extract(archive: PathLike, dest: PathLike, *, force: bool = False) -> Path:
    """Unpack a tar(.gz/.bz2/.xz) or zip archive into ``dest``.

    Every member is checked before anything is written: absolute paths, ``..`` components,
    symbolic or hard links that resolve outside ``dest`` and device or fifo members raise
    ``ValueError`` naming the archive and the member. A marker file
    ``dest/.<archive name>.extracted`` records a finished extraction so that reruns skip it
    (``force`` extracts again).

    Returns:
        ``dest``.
    """
    archive, root = Path(archive), Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    marker = root / f".{archive.name}.extracted"
    if marker.exists() and not force:
        logger.info("%s: already extracted into %s", archive, root)
        return root
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                _check_member(archive, root, info.filename)
                mode = (info.external_attr >> 16) & 0o170000
                if mode == 0o120000:
                    raise ValueError(f"{archive}: member {info.filename!r} is a symbolic link; refusing to extract it")
            z.extractall(root)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            members = t.getmembers()
            for m in members:
                target = _check_member(archive, root, m.name)
                if m.issym() or m.islnk():
                    link = (target.parent / m.linkname) if m.issym() else (root / m.linkname)
                    if os.path.isabs(m.linkname) or not _inside(root, link):
                        raise ValueError(
                            f"{archive}: member {m.name!r} links to {m.linkname!r}, outside {root}; refusing to extract it"
                        )
                elif not (m.isfile() or m.isdir()):
                    raise ValueError(f"{archive}: member {m.name!r} is a device or fifo; refusing to extract it")
            if hasattr(tarfile, "data_filter"):
                t.extractall(root, members=members, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                t.extractall(root, members=members)
    else:
        raise ValueError(f"{archive}: not a tar or zip archive")
    marker.write_text(f"{archive.resolve()}\n", encoding="utf-8")
    return root


# --------------------------------------------------------------------------- CLI
def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("url", help="what to download (with --extract_only: the archive to unpack)")
    p.add_argument("dest", help="file or existing folder to download into (with --extract_only: the folder)")
    p.add_argument("--md5", default=None, help="expected md5")
    p.add_argument("--size", type=int, default=None, help="expected size in bytes")
    p.add_argument("--extract", default=None, metavar="DIR", help="unpack the downloaded archive into DIR")
    p.add_argument("--extract_only", action="store_true", help="only unpack the local archive URL into DEST")
    p.add_argument("--retries", type=int, default=5)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    try:
        if args.extract_only:
            extract(args.url, args.dest)
            return 0
        path = download(args.url, args.dest, md5=args.md5, size=args.size, retries=args.retries)
        if args.extract:
            extract(path, args.extract)
    except (ChecksumError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
