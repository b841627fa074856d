#!/usr/bin/env python3
"""Downloads with resume and checksums, and archive extraction that stays inside its folder.

Usage:
    python -m espnet2_tsdia.utils.download http://www.openslr.org/resources/31/dev-clean-2.tar.gz downloads/ \
        --md5 6d7ab67ac6a1d2c993d050e16d61080d --size 126046265 --extract downloads/
    python -m espnet2_tsdia.utils.download http://www.openslr.org/resources/26/sim_rir_8k.zip downloads/ \
        --extract downloads/sim_rir_8k
    python -m espnet2_tsdia.utils.download --extract_only downloads/dev-clean-2.tar.gz downloads/

:func:`download` writes to ``<dest>.part`` and resumes a partial file with an HTTP ``Range``
request (after an interrupted run, or a connection dropped mid-way: it retries by itself). The
server's ETag (or Last-Modified) of the first response is kept in ``<dest>.part.meta`` and sent
as ``If-Range`` when resuming, so a file that changed on the server in between is downloaded
again from the start instead of being spliced. The complete file is checked against the size
and md5 it must have (the caller's, a published one, OpenSLR's checksum list, or the md5 recorded
by an earlier run: :mod:`espnet2_tsdia.utils.checksums`), then renamed into place and recorded in
the folder's ``checksums.md5`` manifest. A file that is already there is checked the same way and
not fetched again. A mismatch raises :class:`ChecksumError` naming the file, the expected and the
actual value, where the expected one comes from, and what to do. :func:`extract` unpacks tar
(gz, bz2, xz) and zip archives and refuses any member that would land outside the destination
(absolute paths, ``..``, links pointing out, devices).

The CLI looks the URL up in the published checksums and OpenSLR's list when ``--md5`` is not
given, and records into ``checksums.md5`` next to the downloaded file (``--manifest ''`` turns
that off).
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import re
import socket
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import List, Optional, Union

from espnet2_tsdia.utils.atomic import atomic_write_text
from espnet2_tsdia.utils.checksums import (
    MANIFEST_NAME,
    OPENSLR_LIST,
    TOFU,
    Expected,
    Manifest,
    md5sum,
    openslr_resource,
    parse_md5_list,
    published,
)

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

__all__ = [
    "ChecksumError",
    "download",
    "expected_checksum",
    "extract",
    "extraction_marker",
    "md5sum",
    "openslr_checksum",
]

_CHUNK = 1 << 20
_RETRY_STATUS = (408, 429, 500, 502, 503, 504)
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError)


class ChecksumError(RuntimeError):
    """A file does not have the size or md5 it must have.

    Attributes:
        path: the file checked.
        kind: ``"size"`` or ``"md5"``.
        expected, actual: the two values.
        source: where the expected value comes from.
    """

    def __init__(self, path: Path, kind: str, expected, actual, source: str, url: str, hint: str):
        self.path, self.kind, self.expected, self.actual, self.source = path, kind, expected, actual, source
        unit = " bytes" if kind == "size" else ""
        super().__init__(
            f"{path}: {kind} {actual}{unit}, expected {expected}{unit} ({source or 'given'}; from {url}); {hint}"
        )


def _target(url: str, dest: PathLike) -> Path:
    as_dir = str(dest).endswith(("/", os.sep))  # before Path() drops the trailing separator
    dest = Path(dest)
    if dest.is_dir() or as_dir:
        name = Path(urllib.parse.urlparse(url).path).name
        if not name:
            raise ValueError(f"cannot name the file of {url!r}: give dest as a file path")
        return dest / name
    return dest


# --------------------------------------------------------------------------- what to expect
def openslr_checksum(url: str, folder: PathLike, *, timeout: float = 60.0) -> Optional[Expected]:
    """The md5 of ``url`` in OpenSLR's ``resources/<n>/checksum.md5``, or None.

    The list is fetched once into ``<folder>/openslr-<n>-checksum.md5`` and read from there on
    later runs. A list that cannot be fetched or read, or that does not name the file, gives None
    (with a warning): the download is then checked against the md5 recorded at its first download.
    """
    res = openslr_resource(url)
    if res is None:
        return None
    number, name = res
    list_url = url[: url.rindex("/") + 1] + OPENSLR_LIST
    local = Path(folder) / f"openslr-{number}-{OPENSLR_LIST}"
    try:
        if not local.is_file():
            _fetch_small(list_url, local, timeout=timeout)
        sums = parse_md5_list(local.read_text(encoding="utf-8", errors="replace"), source=str(local))
    except (OSError, ValueError, *_NETWORK_ERRORS) as e:
        logger.warning(
            "%s: no published checksum list (%s); %s will be checked against its first download", list_url, e, name
        )
        return None
    if name not in sums:
        logger.warning("%s does not list %s; it will be checked against its first download", list_url, name)
        return None
    return Expected(sums[name], None, f"published by OpenSLR in {list_url}")


def _fetch_small(url: str, dest: Path, *, timeout: float) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": "espnet2_tsdia-download"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        data = resp.read(1 << 20)  # a checksum list, not a file to download
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(dest, data.decode("utf-8", errors="replace"))


def expected_checksum(
    url: str,
    path: PathLike,
    *,
    md5: Optional[str] = None,
    size: Optional[int] = None,
    source: Optional[str] = None,
    manifest: Optional[Manifest] = None,
    checksum_lists: bool = True,
    timeout: float = 60.0,
) -> Expected:
    """What the file ``path`` downloaded from ``url`` must match: the caller's ``md5`` and ``size``,
    else the published table's, else the md5 the ``manifest`` recorded (trust on first use), else
    OpenSLR's checksum list (``checksum_lists``); a caller's ``size`` is kept with an md5 from
    elsewhere. ``Expected()`` when nothing is known."""
    if md5 is not None:
        return Expected(md5, size, source or "given by the caller")
    pinned = published(url)
    if pinned is not None:
        return pinned
    other = manifest.expected(path) if manifest is not None else None
    if other is None and checksum_lists:
        other = openslr_checksum(url, Path(path).parent, timeout=timeout)
    if other is not None:
        return replace(other, size=size)
    return Expected(None, size, source or "given by the caller") if size is not None else Expected()


def _verify(path: Path, url: str, exp: Expected, hint: str, *, need_md5: bool) -> Optional[str]:
    """Check ``path`` against ``exp``; return its md5 when computed (``exp.md5`` or ``need_md5``)."""
    got_size = path.stat().st_size
    if exp.size is not None and got_size != exp.size:
        raise ChecksumError(path, "size", exp.size, got_size, exp.source, url, hint)
    if exp.md5 is None and not need_md5:
        return None
    got = md5sum(path)
    if exp.md5 is not None and got != exp.md5:
        raise ChecksumError(path, "md5", exp.md5, got, exp.source, url, hint)
    return got


def download(
    url: str,
    dest: PathLike,
    *,
    md5: Optional[str] = None,
    size: Optional[int] = None,
    source: Optional[str] = None,
    manifest: Optional[Manifest] = None,
    checksum_lists: bool = True,
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
        source: where ``md5``/``size`` come from, for error messages (e.g. "published by ...").
        manifest: records the md5 of the complete file; when nothing else says what the file
            must be, a recorded md5 is checked (trust on first use).
        checksum_lists: look an OpenSLR URL up in OpenSLR's checksum list when no md5 is known.
        retries: how many times a dropped connection is resumed before giving up.
        timeout: socket timeout in seconds.

    Returns:
        The path of the complete, verified file.

    Raises:
        ChecksumError: wrong size or md5 (the message names the file, both values, where the
            expected one comes from, and says what to do).
        urllib.error.URLError / OSError: the server cannot be reached after ``retries`` tries.
    """
    path = _target(url, dest)
    path.parent.mkdir(parents=True, exist_ok=True)
    exp = expected_checksum(
        url,
        path,
        md5=md5,
        size=size,
        source=source,
        manifest=manifest,
        checksum_lists=checksum_lists,
        timeout=timeout,
    )
    if path.exists():
        if exp.recorded:
            hint = f"the file changed since it was recorded: delete {path} and rerun to download it again"
        else:
            hint = f"delete {path} and rerun to download it again"
        got = _verify(path, url, exp, hint, need_md5=manifest is not None)
        _record(manifest, path, got, exp)
        logger.info("%s: already downloaded%s", path, " (md5 ok)" if exp.md5 else "")
        return path
    part = path.with_name(path.name + ".part")
    attempt = 0
    while True:
        try:
            _fetch(url, part, timeout=timeout, expected_size=exp.size)
            break
        except _NETWORK_ERRORS as e:
            if isinstance(e, urllib.error.HTTPError) and e.code not in _RETRY_STATUS:
                raise
            attempt += 1
            if attempt > retries:
                raise
            have = part.stat().st_size if part.exists() else 0
            logger.warning("%s: %s after %d bytes; resuming (try %d of %d)", url, e, have, attempt, retries)
            time.sleep(min(2.0 ** (attempt - 1), 30.0) * 0.1)
    hint = f"delete {part} and rerun (a partial file from an interrupted run or a changed file on the server)"
    if exp.recorded:
        hint += (
            f"; if the new download differs again, the file on the server changed since it was recorded: "
            f"check it, then delete its line in {manifest.path if manifest else 'the manifest'}"
        )
    got = _verify(part, url, exp, hint, need_md5=manifest is not None)
    part.replace(path)
    _meta_path(part).unlink(missing_ok=True)
    _record(manifest, path, got, exp)
    how = "md5 ok" if exp.md5 else "md5 recorded" if got else "no checksum known"
    logger.info("%s: downloaded (%d bytes, %s%s)", path, path.stat().st_size, how, f": {exp.source}" if exp.md5 else "")
    return path


def _record(manifest: Optional[Manifest], path: Path, md5: Optional[str], exp: Expected) -> None:
    if manifest is None or md5 is None:
        return
    if exp.md5 is None and manifest.get(path) is None:
        logger.info("%s: md5 %s recorded in %s (%s)", path, md5, manifest.path, TOFU)
    manifest.record(path, md5)


# --------------------------------------------------------------------------- transfer
def _meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".meta")


def _read_meta(part: Path, url: str) -> dict:
    try:
        meta = json.loads(_meta_path(part).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) and meta.get("url") == url else {}


def _restart(part: Path, why: str, url: str) -> int:
    logger.warning("%s: %s; downloading from the start", url, why)
    part.unlink(missing_ok=True)
    _meta_path(part).unlink(missing_ok=True)
    return 0


def _fetch(url: str, part: Path, *, timeout: float, expected_size: Optional[int]) -> None:
    """One request: append to ``part`` from its current size (Range, If-Range), or restart when
    the server sends the whole file. Returns when the server's body is complete."""
    have = part.stat().st_size if part.exists() else 0
    meta = _read_meta(part, url) if have else {}
    known = expected_size if expected_size is not None else meta.get("length")
    if known is not None and have > known:
        have = _restart(part, f"the partial file has {have} bytes, more than the {known} of the file", url)
    if known is not None and have == known and have:
        return
    req = urllib.request.Request(url, headers={"User-Agent": "espnet2_tsdia-download"})
    if have:
        req.add_header("Range", f"bytes={have}-")
        etag = meta.get("etag")  # a weak ETag is no validator for a byte range
        validator = etag if etag and not etag.startswith("W/") else meta.get("modified")
        if validator:
            req.add_header("If-Range", validator)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: the part is complete
            return
        raise
    with resp:
        status = getattr(resp, "status", 200)
        total: Optional[int] = None
        if have and status == 206:
            m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", "").strip())
            if m is None or int(m.group(1)) != have:
                _restart(part, f"the server answered the range {have}- with {resp.headers.get('Content-Range')!r}", url)
                raise http.client.HTTPException("unusable range response; retrying from the start")
            total = int(m.group(3)) if m.group(3) != "*" else None
            if meta.get("length") not in (None, total):
                _restart(part, f"the file is now {total} bytes, {meta['length']} when the download began", url)
                raise http.client.HTTPException("the file changed on the server; retrying from the start")
        elif have:
            why = (
                "the file changed on the server"
                if req.has_header("If-range")
                else "the server ignored the Range request"
            )
            have = _restart(part, f"{why} (status {status})", url)
        length = resp.headers.get("Content-Length")
        if total is None and length is not None:
            total = have + int(length)
        if not have:
            etag, modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
            atomic_write_text(
                _meta_path(part), json.dumps({"url": url, "etag": etag, "modified": modified, "length": total})
            )
        got = have
        last_log = time.monotonic()
        with open(part, "ab" if have else "wb") as f:
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


def extraction_marker(archive: PathLike, dest: PathLike) -> Path:
    """``dest/.<archive name>.extracted``: written by :func:`extract` once every member is out (an
    interrupted extraction leaves none, so the next run extracts again)."""
    return Path(dest) / f".{Path(archive).name}.extracted"


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
    marker = extraction_marker(archive, root)
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
    atomic_write_text(marker, f"{archive.resolve()}\n")
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
    p.add_argument(
        "--manifest",
        default=None,
        metavar="FILE",
        help=f"record (and later check) the md5 in FILE (default: {MANIFEST_NAME} next to the file; '' for none)",
    )
    p.add_argument("--retries", type=int, default=5)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    try:
        if args.extract_only:
            extract(args.url, args.dest)
            return 0
        target = _target(args.url, args.dest)
        if args.manifest is None:
            manifest: Optional[Manifest] = Manifest(target.parent / MANIFEST_NAME)
        else:
            manifest = Manifest(args.manifest) if args.manifest else None
        path = download(args.url, target, md5=args.md5, size=args.size, manifest=manifest, retries=args.retries)
        if args.extract:
            extract(path, args.extract)
    except (ChecksumError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
