"""What a downloaded file must match: published checksums, and a manifest of recorded ones.

Three sources, in the order :func:`espnet2_tsdia.utils.download.download` consults them:

1. **Published** checksums of public files the recipes fetch (:data:`PUBLISHED`, keyed by the
   OpenSLR resource path ``<number>/<file>``, so every OpenSLR mirror matches), or the md5 and size
   a caller passes (a corpus module's own table).
2. **OpenSLR's checksum list** ``resources/<number>/checksum.md5`` for an OpenSLR file that has no
   pinned md5 here (AISHELL-4, sim_rir_8k): read with the first download (see ``download.py``).
3. **Recorded** checksums: a :class:`Manifest` (``checksums.md5`` in the corpus folder, in
   ``md5sum`` format) holds the md5 of every file once its download is complete and verified.
   For a file nobody publishes a checksum for (AMI and ICSI audio, GitHub archives), the first
   complete download is trusted and recorded ("trust on first use"), and every later run checks
   the file against that line: a file that changed on disk or on the server is noticed, a
   file that was already wrong at its first download is not.
"""

from __future__ import annotations

import hashlib
import logging
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

from espnet2_tsdia.utils.atomic import atomic_write_text

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
#: the manifest's file name in a download folder or corpus root
MANIFEST_NAME = "checksums.md5"
#: the checksum list OpenSLR keeps next to each resource's files
OPENSLR_LIST = "checksum.md5"
TOFU = "trust on first use"


@dataclass(frozen=True)
class Expected:
    """What a file must match; ``source`` says who says so (it goes into error messages), and
    ``recorded`` that the md5 is the one a manifest recorded at the first download."""

    md5: Optional[str] = None
    size: Optional[int] = None
    source: str = ""
    recorded: bool = False

    def __post_init__(self):
        if self.md5 is not None and not re.fullmatch(r"[0-9a-fA-F]{32}", self.md5):
            raise ValueError(f"md5 {self.md5!r} is not 32 hex digits")
        if self.md5 is not None:
            object.__setattr__(self, "md5", self.md5.lower())


_OPENSLR_PUBLISHED = "md5 as published by OpenSLR (the value public recipes such as WeSpeaker and PaddleSpeech check)"
#: Published checksums of the public files the recipes download, keyed by OpenSLR ``<number>/<file>``.
#: Sizes are the servers' Content-Length. OpenSLR 26 (sim_rir_8k) and 111 (AISHELL-4) are not
#: here: their md5 comes from OpenSLR's list at download time. mini_librispeech (OpenSLR 31) is
#: in ``corpora/librispeech.py``, which passes its md5 and size.
PUBLISHED: Dict[str, Expected] = {
    "17/musan.tar.gz": Expected("0c472d4fc0c5141eca47ad1ffeb2a7df", 11086114085, _OPENSLR_PUBLISHED),
    "28/rirs_noises.zip": Expected("e6f48e257286e05de56413b4779d8ffb", 1311166223, _OPENSLR_PUBLISHED),
}

_RESOURCE = re.compile(r"/resources/(\d+)/([^/]+)$")


def md5sum(path: PathLike, *, chunk: int = _CHUNK) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def openslr_resource(url: str) -> Optional[Tuple[str, str]]:
    """``(number, file name)`` of an URL ending in ``/resources/<number>/<file>`` (OpenSLR's
    layout on every mirror), else None."""
    m = _RESOURCE.search(urllib.parse.urlparse(url).path)
    return (m.group(1), m.group(2)) if m else None


def published(url: str) -> Optional[Expected]:
    """The :data:`PUBLISHED` entry of ``url``, if any."""
    res = openslr_resource(url)
    return PUBLISHED.get(f"{res[0]}/{res[1]}") if res else None


def parse_md5_list(text: str, *, source: str = "checksum list") -> Dict[str, str]:
    """File name -> md5 of an ``md5sum`` (``<md5>  <file>``, ``<md5> *<file>``) or BSD
    (``MD5 (<file>) = <md5>``) listing. Paths are reduced to their file name; comments and blank
    lines are skipped.

    Raises:
        ValueError: a line in neither format (naming ``source`` and the line number).
    """
    out: Dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([0-9a-fA-F]{32}) [ *]?(.+)", line) or re.fullmatch(
            r"MD5 ?\((.+)\) ?= ?([0-9a-fA-F]{32})", line
        )
        if m is None:
            raise ValueError(f"{source}:{n}: expected '<md5>  <file>' or 'MD5 (<file>) = <md5>', got {raw!r}")
        md5, name = (m.group(1), m.group(2)) if not line.startswith("MD5") else (m.group(2), m.group(1))
        out[Path(name.strip()).name] = md5.lower()
    return out


class Manifest:
    """The md5 of every file downloaded under one folder, in ``md5sum`` format.

    ``<folder>/checksums.md5`` lists ``<md5>  <path relative to the folder>``, so ``cd <folder> &&
    md5sum -c checksums.md5`` checks everything by hand. A line is written when a file's download is
    complete and verified (or when a file found in place is checked for the first time); it is
    rewritten atomically, so an interrupted run never leaves a half-written manifest.
    """

    def __init__(self, path: PathLike):
        self.path = Path(path)
        self.root = self.path.parent

    def key(self, file: PathLike) -> str:
        """``file`` relative to the manifest's folder (POSIX separators)."""
        try:
            return Path(file).absolute().relative_to(self.root.absolute()).as_posix()
        except ValueError:
            raise ValueError(f"{file}: not under {self.root}, so {self.path} cannot record it") from None

    def entries(self) -> Dict[str, str]:
        """Relative path -> md5 of every line."""
        if not self.path.is_file():
            return {}
        out: Dict[str, str] = {}
        for n, raw in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            m = re.fullmatch(r"([0-9a-f]{32}) [ *](.+)", line)
            if m is None:
                raise ValueError(
                    f"{self.path}:{n}: expected '<md5>  <path>', got {raw!r}; fix or delete the line "
                    "(its file is then checked and recorded again)"
                )
            out[m.group(2)] = m.group(1)
        return out

    def get(self, file: PathLike) -> Optional[str]:
        """The recorded md5 of ``file``, or None."""
        return self.entries().get(self.key(file))

    def expected(self, file: PathLike) -> Optional[Expected]:
        md5 = self.get(file)
        if md5 is None:
            return None
        return Expected(md5, None, f"recorded in {self.path} when it was first downloaded ({TOFU})", recorded=True)

    def record(self, file: PathLike, md5: str) -> None:
        """Write (or replace) the line of ``file``."""
        key = self.key(file)
        if "\n" in key:
            raise ValueError(f"{file}: a file name with a line break cannot be recorded in {self.path}")
        entries = self.entries()  # read again just before writing: keeps lines another run added
        if entries.get(key) == md5:
            return
        if key in entries:
            logger.warning("%s: md5 of %s changes from %s to %s", self.path, key, entries[key], md5)
        entries[key] = md5
        header = (
            f"# md5 of the files downloaded into this folder; check them with: md5sum -c {self.path.name}\n"
            "# A line is written when a download is complete and verified. Files with a published checksum\n"
            f"# were checked against it; for the others the first download was trusted ({TOFU})\n"
            "# and every later download run checks the file against its line.\n"
        )
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, header + "".join(f"{m}  {k}\n" for k, m in sorted(entries.items())))
