"""DIHARD III (LDC): dev and eval, the full and core conditions, domains kept per recording.

DIHARD III is licensed by LDC and cannot be downloaded here: obtain the development set
(LDC2020E12 during the challenge, public release LDC2022S12) and the evaluation set with its
references (LDC2021E02, public release LDC2022S14; the blind challenge release LDC2020E13 has no
references and cannot be scored), and put both releases under one folder, the recipe's
``$DIHARD3``. Each release, as its ``docs/README.txt`` describes it::

    data/flac/<uri>.flac                    16 kHz mono FLAC (telephone audio upsampled by LDC)
    data/rttm/<uri>.rttm                    reference diarization, one file per recording
    data/sad/<uri>.lab                      reference speech segmentation (not used here)
    data/uem/<uri>.uem                      scoring region of one recording
    data/uem_scoring/{core,full}/all.uem    dscore UEMs of the core and full sets, and one
                                            <domain>.uem per domain
    docs/recordings.tbl                     tab-separated table with a header line: uri,
                                            in_core (True/False), domain, ...
    docs/file.tbl                           md5, size, date and name of every file

The releases are found as ``$DIHARD3`` itself or any folder directly under it that holds
``docs/recordings.tbl``; which part a release is comes from its recording ids (``DH_DEV_*``,
``DH_EVAL_*``). ``dev_dir``/``eval_dir`` name them explicitly.

Protocol (the challenge's, dscore): collar 0, overlapped speech scored, the official scoring
UEM. Condition ``full`` is every recording with ``uem_scoring/full/all.uem``; ``core`` is the
balanced subset (``in_core`` True) with ``uem_scoring/core/all.uem``. Data dirs:
``dihard3_{dev,eval}_{full,core}``. DIHARD has no training set; the usual practice is to train
(or adapt) on dev, so ``dihard3_dev_train`` and ``dihard3_dev_valid`` split dev (full): in every
domain the ``valid_per_domain`` recordings with the smallest SHA-1 of their uri are held out
(never all of a domain's recordings), a choice that depends only on the uris.

Checks: the expected folders and files of a release; a recording of ``recordings.tbl`` without
audio, RTTM or UEM stops the preparation (or is left out and reported with ``exclude``); the
scoring UEMs must list exactly the table's recordings (all of them for full, the ``in_core`` ones
for core), and each ``<domain>.uem`` only recordings of that domain; an RTTM or UEM naming
another recording is an error. Turns are clipped to the recording's scoring region (reported).
Speaker labels are local to a recording and become ``<uri>_<label>``. ``reco2domain`` (uri ->
domain) is written into every data dir, and :func:`describe_domains` writes the dataset
description per domain.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from espnet2_tsdia.corpora.cli import CorpusCli, path_or_none, summarize
from espnet2_tsdia.corpora.common import (
    audio_header,
    channel_pipe,
    check_rttm_recordings,
    clip_to_windows,
    clip_uem,
    known_split,
    prefix_speakers,
    require_audio,
    wav_entry,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import iter_lines, read_scp, write_scp
from espnet2_tsdia.formats.rttm import Turn, read_rttm
from espnet2_tsdia.formats.uem import UemSegment, read_uem
from espnet2_tsdia.utils.cli import str2bool, str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

PARTS = ("dev", "eval")
CONDITIONS = ("full", "core")
#: part -> recording id prefix
URI_PREFIX = {"dev": "DH_DEV_", "eval": "DH_EVAL_"}
#: part -> LDC catalog numbers (challenge release, public release)
LDC = {"dev": ("LDC2020E12", "LDC2022S12"), "eval": ("LDC2021E02", "LDC2022S14")}
TABLE = Path("docs") / "recordings.tbl"
FILE_TABLE = Path("docs") / "file.tbl"
#: files and folders a release must have (relative to its root)
REQUIRED = (
    TABLE,
    Path("data") / "flac",
    Path("data") / "rttm",
    Path("data") / "uem",
    Path("data") / "uem_scoring" / "full" / "all.uem",
    Path("data") / "uem_scoring" / "core" / "all.uem",
)
#: columns of recordings.tbl read by name (the others are kept out of the data dirs)
TABLE_COLUMNS = ("uri", "in_core", "domain")
VALID_PER_DOMAIN = 2
_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class Recording:
    """One row of ``docs/recordings.tbl`` (``line``: where it is)."""

    uri: str
    domain: str
    in_core: bool
    line: int


def obtain_instructions(part: str) -> str:
    challenge, public = LDC[part]
    what = "development" if part == "dev" else "evaluation (with references)"
    return (
        f"DIHARD III {what} set is licensed by LDC ({public}, challenge release {challenge}); obtain it from "
        f"https://catalog.ldc.upenn.edu/{public}, extract it into a folder under $DIHARD3 (db.sh) or pass "
        f"--{part}_dir"
    )


# --------------------------------------------------------------------------- releases
def read_recordings_table(path: PathLike) -> Dict[str, Recording]:
    """Read ``docs/recordings.tbl``: a header line naming the columns (tab- or space-separated),
    then one recording per line. Only ``uri``, ``in_core`` and ``domain`` are read.

    Raises:
        DataFormatError: a missing column, a row with too few fields, ``in_core`` other than
            True/False, or a repeated uri.
    """
    rows: Dict[str, Recording] = {}
    header: Optional[List[str]] = None
    for n, line in iter_lines(path):
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields]
        if header is None:
            header = fields
            missing = [c for c in TABLE_COLUMNS if c not in header]
            if missing:
                raise DataFormatError(
                    path, n, f"header line lacks column(s) {', '.join(missing)}; expected at least {TABLE_COLUMNS}"
                )
            continue
        if len(fields) < len(header):
            raise DataFormatError(path, n, f"expected {len(header)} fields as in the header, got {len(fields)}")
        row = dict(zip(header, fields, strict=False))
        core = row["in_core"]
        if core not in ("True", "False"):
            raise DataFormatError(path, n, f"in_core must be True or False, got {core!r}")
        if row["uri"] in rows:
            raise DataFormatError(
                path, n, f"recording {row['uri']!r} listed twice (first at line {rows[row['uri']].line})"
            )
        rows[row["uri"]] = Recording(row["uri"], row["domain"], core == "True", n)
    if header is None:
        raise DataFormatError(path, None, "empty table; expected a header line and one line per recording")
    return rows


def part_of(uris: Sequence[str]) -> Optional[str]:
    """``dev`` or ``eval`` if every uri has that part's prefix, else None."""
    for part, prefix in URI_PREFIX.items():
        if uris and all(u.startswith(prefix) for u in uris):
            return part
    return None


def find_releases(corpus_dir: PathLike) -> Dict[str, Path]:
    """The releases under ``corpus_dir`` (itself or a folder directly under it with
    ``docs/recordings.tbl``), by part.

    Raises:
        ValueError: two releases of the same part, or a table whose ids are neither dev nor eval.
    """
    root = Path(corpus_dir)
    found: Dict[str, Path] = {}
    candidates = [root] + (sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else [])
    for cand in candidates:
        table = cand / TABLE
        if not table.is_file():
            continue
        part = part_of(list(read_recordings_table(table)))
        if part is None:
            raise ValueError(
                f"{table}: recording ids are neither all DH_DEV_* nor all DH_EVAL_*; not a DIHARD III release"
            )
        if part in found:
            raise ValueError(f"two DIHARD III {part} releases: {found[part]} and {cand}; keep one or pass --{part}_dir")
        found[part] = cand.absolute()
    return found


def check_release(root: PathLike, part: str) -> Dict[str, Recording]:
    """Check that ``root`` is a complete DIHARD III release of ``part``; returns its table.

    Raises:
        FileNotFoundError: a required folder or file is missing (the message lists all of them
            and how to obtain the release).
        ValueError: the table lists recordings of the other part.
    """
    root = Path(root)
    missing = [str(p) for p in REQUIRED if not (root / p).exists()]
    if missing:
        hint = ""
        if part == "eval" and not (root / "data" / "rttm").exists() and (root / "data" / "flac").exists():
            hint = " (no data/rttm: this looks like the blind challenge release LDC2020E13, which cannot be scored)"
        raise FileNotFoundError(
            f"{root}: not a complete DIHARD III {part} release; missing {', '.join(missing)}{hint}. "
            + obtain_instructions(part)
        )
    table = read_recordings_table(root / TABLE)
    if part_of(list(table)) != part:
        raise ValueError(
            f"{root / TABLE}: expected {part} recordings ({URI_PREFIX[part]}*), got e.g. {next(iter(table), None)!r}"
        )
    return table


def verify_md5(root: PathLike) -> int:
    """Check every file listed in ``docs/file.tbl`` against its md5; returns the number checked.

    A line is read as whitespace-separated fields holding a 32-hex-digit md5 and, as its last
    field, the file name (relative to the release root, or with the release folder's name in
    front).

    Raises:
        FileNotFoundError: no file.tbl, or a listed file is missing.
        DataFormatError: a line without an md5.
        ValueError: a file whose md5 differs (named, with what to do).
    """
    from espnet2_tsdia.utils.download import md5sum

    root = Path(root)
    table = root / FILE_TABLE
    if not table.is_file():
        raise FileNotFoundError(f"{table}: the release's checksum table is missing; copy the release again from LDC")
    checked = 0
    for n, line in iter_lines(table):
        fields = line.split()
        sums = [f for f in fields if _MD5.match(f)]
        if not sums:
            raise DataFormatError(table, n, f"expected an md5 (32 hex digits) and a file name, got {line!r}")
        name = Path(fields[-1])
        parts = name.parts
        path = next((root.joinpath(*parts[i:]) for i in range(len(parts)) if root.joinpath(*parts[i:]).is_file()), None)
        if path is None:
            raise FileNotFoundError(
                f"{root / name}: listed in {table}:{n} but not in the release; copy it again from LDC"
            )
        got = md5sum(path)
        if got.lower() != sums[0].lower():
            raise ValueError(
                f"{path}: md5 {got} differs from {sums[0]} in {table}:{n}; the copy is damaged, copy it again from LDC"
            )
        checked += 1
    return checked


# --------------------------------------------------------------------------- scoring UEMs
def _scoring_uem(root: Path, condition: str, table: Mapping[str, Recording]) -> Dict[str, List[UemSegment]]:
    """``uem_scoring/<condition>/all.uem``, checked against the table and the per-domain files."""
    folder = root / "data" / "uem_scoring" / condition
    all_uem = read_uem(folder / "all.uem")
    expected = {u for u, r in table.items() if condition == "full" or r.in_core}
    for reco in all_uem:
        if reco not in table:
            raise DataFormatError(
                folder / "all.uem",
                _line_naming(folder / "all.uem", reco),
                f"names recording {reco!r}, which {root / TABLE} does not list",
            )
        if reco not in expected:
            raise DataFormatError(
                folder / "all.uem",
                _line_naming(folder / "all.uem", reco),
                f"names recording {reco!r}, which {root / TABLE} marks as not in the core set (in_core False)",
            )
    missing = sorted(expected - set(all_uem))
    if missing:
        raise DataFormatError(
            folder / "all.uem",
            None,
            f"has no region for {len(missing)} recording(s) of the {condition} set listed in {root / TABLE}: {', '.join(missing[:5])}",
        )
    domains = {r.domain for r in table.values()}
    for path in sorted(folder.glob("*.uem")):
        if path.name == "all.uem":
            continue
        domain = path.stem
        if domain not in domains:
            raise DataFormatError(
                path, None, f"domain {domain!r} is not a domain of {root / TABLE} ({', '.join(sorted(domains))})"
            )
        for reco in read_uem(path):
            if reco not in table or table[reco].domain != domain:
                got = table[reco].domain if reco in table else "not listed"
                raise DataFormatError(
                    path, _line_naming(path, reco), f"names recording {reco!r}, whose domain in {root / TABLE} is {got}"
                )
    return all_uem


def _line_naming(path: Path, reco: str) -> Optional[int]:
    for n, line in iter_lines(path):
        f = line.split()
        if f and f[0] == reco:
            return n
    return None


# --------------------------------------------------------------------------- dev split
def holdout_per_domain(table: Mapping[str, Recording], per_domain: int) -> List[str]:
    """The dev recordings held out for validation: in each domain the ``per_domain`` uris with
    the smallest SHA-1 hex digest, but never all of a domain's recordings."""
    by_domain: Dict[str, List[str]] = {}
    for uri, rec in table.items():
        by_domain.setdefault(rec.domain, []).append(uri)
    held: List[str] = []
    for domain in sorted(by_domain):
        uris = sorted(by_domain[domain], key=lambda u: hashlib.sha1(u.encode("utf-8")).hexdigest())
        held += uris[: max(0, min(per_domain, len(uris) - 1))]
    return sorted(held)


# --------------------------------------------------------------------------- preparation
def data_dir_names(
    parts: Sequence[str] = PARTS, conditions: Sequence[str] = CONDITIONS, valid_per_domain: int = VALID_PER_DOMAIN
) -> List[str]:
    """The data dirs :func:`prepare_dihard3` writes with these options."""
    names = [f"dihard3_{p}_{c}" for p in PARTS if p in parts for c in CONDITIONS if c in conditions]
    if "dev" in parts and valid_per_domain > 0:
        names += ["dihard3_dev_train", "dihard3_dev_valid"]
    return names


def prepare_dihard3(
    corpus_dir: Optional[PathLike],
    out_dir: PathLike,
    *,
    parts: Sequence[str] = PARTS,
    conditions: Sequence[str] = CONDITIONS,
    dev_dir: Optional[PathLike] = None,
    eval_dir: Optional[PathLike] = None,
    valid_per_domain: int = VALID_PER_DOMAIN,
    exclude: Sequence[str] = (),
    check_md5: bool = False,
) -> Dict[str, PrepReport]:
    """Write ``dihard3_{dev,eval}_{full,core}`` (and ``dihard3_dev_{train,valid}``).

    Args:
        corpus_dir: folder holding the releases (the recipe's ``$DIHARD3``); may be None when
            ``dev_dir``/``eval_dir`` give every part asked for.
        out_dir: where the data dirs go.
        parts: any of dev, eval.
        conditions: any of full, core.
        dev_dir: the dev release (default: found under ``corpus_dir``).
        eval_dir: the eval release (default: found under ``corpus_dir``).
        valid_per_domain: dev recordings per domain held out in ``dihard3_dev_valid``
            (0: no train/valid dirs).
        exclude: uris to leave out (reported).
        check_md5: also verify every file against ``docs/file.tbl`` (reads the whole release).

    Raises:
        FileNotFoundError: a release or one of its required files is missing.
        MissingAudioError: a listed recording has no FLAC.
        DataFormatError: inconsistent tables, UEMs or RTTMs (file, line, what was expected).
    """
    for p in parts:
        known_split(p, PARTS, what="DIHARD III part")
    for c in conditions:
        known_split(c, CONDITIONS, what="DIHARD III condition")
    if valid_per_domain < 0:
        raise ValueError(f"valid_per_domain must be >= 0, got {valid_per_domain}")
    releases = check_dihard3(corpus_dir, parts=parts, dev_dir=dev_dir, eval_dir=eval_dir, check_md5=check_md5)
    out: Dict[str, PrepReport] = {}
    for part, (root, table) in releases.items():
        out.update(_prepare_part(root, part, table, Path(out_dir), conditions, valid_per_domain, set(exclude)))
    return out


def check_dihard3(
    corpus_dir: Optional[PathLike],
    *,
    parts: Sequence[str] = PARTS,
    dev_dir: Optional[PathLike] = None,
    eval_dir: Optional[PathLike] = None,
    check_md5: bool = False,
) -> Dict[str, Tuple[Path, Dict[str, Recording]]]:
    """Find and check the local releases of ``parts`` (see :func:`prepare_dihard3`): part ->
    (release root, its recordings table).

    Raises:
        FileNotFoundError: a release is missing or incomplete; the message says how to obtain it.
    """
    for p in parts:
        known_split(p, PARTS, what="DIHARD III part")
    given = {"dev": dev_dir, "eval": eval_dir}
    found: Dict[str, Path] = {}
    if corpus_dir is not None and any(given[p] is None for p in parts):
        if not Path(corpus_dir).is_dir():
            raise FileNotFoundError(
                f"{corpus_dir}: DIHARD III root does not exist; set DIHARD3 in db.sh to the folder holding the LDC releases"
            )
        found = find_releases(corpus_dir)
    out: Dict[str, Tuple[Path, Dict[str, Recording]]] = {}
    for part in PARTS:
        if part not in parts:
            continue
        root = Path(given[part]).absolute() if given[part] is not None else found.get(part)
        if root is None:
            where = f"under {corpus_dir}" if corpus_dir is not None else "(no corpus dir given)"
            raise FileNotFoundError(
                f"no DIHARD III {part} release found {where} (a folder with {TABLE}). " + obtain_instructions(part)
            )
        table = check_release(root, part)
        if check_md5:
            logger.info("%s: %d files match docs/file.tbl", root, verify_md5(root))
        logger.info("%s: DIHARD III %s release with %d recordings", root, part, len(table))
        out[part] = (root, table)
    return out


def _prepare_part(
    root: Path,
    part: str,
    table: Mapping[str, Recording],
    out_dir: Path,
    conditions: Sequence[str],
    valid_per_domain: int,
    excluded: set,
) -> Dict[str, PrepReport]:
    notes = PrepReport()
    wav_scp: Dict[str, str] = {}
    reco2dur: Dict[str, float] = {}
    turns: Dict[str, List[Turn]] = {}
    own_uem: Dict[str, List[UemSegment]] = {}
    for uri in sorted(table):
        if uri in excluded:
            notes.dropped.append(f"{uri}: excluded by the caller")
            continue
        todo = f"copy the release again from LDC or pass --exclude {uri}"
        flac = require_audio(root / "data" / "flac" / f"{uri}.flac", reco=uri, listed_in=str(root / TABLE), todo=todo)
        rttm = root / "data" / "rttm" / f"{uri}.rttm"
        uem_path = root / "data" / "uem" / f"{uri}.uem"
        for p in (rttm, uem_path):
            if not p.is_file():
                raise FileNotFoundError(f"{p}: missing for recording {uri!r} (listed in {root / TABLE}); {todo}")
        reco_turns = read_rttm(rttm)
        check_rttm_recordings(
            reco_turns, allowed=[uri], source=rttm, todo="each DIHARD RTTM describes only its own recording"
        )
        regions = read_uem(uem_path)
        for reco in regions:
            if reco != uri:
                raise DataFormatError(
                    uem_path, _line_naming(uem_path, reco), f"names recording {reco!r}, expected only {uri!r}"
                )
        own_uem[uri] = regions.get(uri, [])
        header = audio_header(flac)
        wav_scp[uri] = wav_entry(flac) if header.channels == 1 else channel_pipe(flac, 1)
        reco2dur[uri] = header.duration
        turns[uri] = prefix_speakers(reco_turns)
    in_use = {u: table[u] for u in wav_scp}
    # both scoring UEMs are read (and checked against the table) whatever the conditions asked
    scoring = {c: _scoring_uem(root, c, table) for c in CONDITIONS}
    uem_notes: Dict[str, str] = {}
    for u in wav_scp:
        if _spans(scoring["full"][u]) != _spans(own_uem[u]):
            uem_notes[u] = (
                f"{u}: data/uem/{u}.uem {_fmt(own_uem[u])} differs from uem_scoring/full/all.uem "
                f"{_fmt(scoring['full'][u])}; the scoring UEM is used"
            )
    dirs: List[Tuple[str, List[str], str]] = [
        (f"dihard3_{part}_{c}", [u for u in wav_scp if c == "full" or table[u].in_core], c) for c in conditions
    ]
    if part == "dev" and valid_per_domain > 0:
        valid = holdout_per_domain(in_use, valid_per_domain)
        logger.info("dihard3_dev_valid: %d recordings held out of dev: %s", len(valid), " ".join(valid))
        dirs += [
            ("dihard3_dev_train", [u for u in wav_scp if u not in set(valid)], "full"),
            ("dihard3_dev_valid", valid, "full"),
        ]
    out: Dict[str, PrepReport] = {}
    for name, recos, condition in dirs:
        changed = list(notes.changed) + [uem_notes[u] for u in recos if u in uem_notes and condition == "full"]
        dir_notes = PrepReport(changed=changed, dropped=list(notes.dropped))
        out[name] = _write(out_dir / name, recos, wav_scp, reco2dur, turns, scoring[condition], in_use, dir_notes)
    return out


def _spans(regions: Sequence[UemSegment]) -> List[Tuple[float, float]]:
    return [(round(u.onset, 3), round(u.end, 3)) for u in regions]


def _fmt(regions: Sequence[UemSegment]) -> str:
    return " ".join(f"[{u.onset:.3f}, {u.end:.3f}]" for u in regions) or "(none)"


def _write(
    dest: Path,
    recos: Sequence[str],
    wav_scp: Mapping[str, str],
    reco2dur: Mapping[str, float],
    turns: Mapping[str, List[Turn]],
    uem: Mapping[str, List[UemSegment]],
    table: Mapping[str, Recording],
    notes: PrepReport,
) -> PrepReport:
    windows = {u: (uem[u][0].onset, max(r.end for r in uem[u])) for u in recos if uem.get(u)}
    kept = clip_to_windows([t for u in recos for t in turns[u]], windows, what="scoring UEM", notes=notes)
    regions = clip_uem({u: uem[u] for u in recos if u in uem}, {u: reco2dur[u] for u in recos}, notes=notes)
    report = write_split(
        dest,
        wav_scp={u: wav_scp[u] for u in recos},
        turns=kept,
        reco2dur={u: reco2dur[u] for u in recos},
        uem=regions,
        notes=notes,
    )
    written = read_scp(dest / "wav.scp")
    write_scp(dest / "reco2domain", {u: table[u].domain for u in written})
    return report


# --------------------------------------------------------------------------- descriptions
def read_reco2domain(data_dir: PathLike) -> Dict[str, str]:
    """``reco2domain`` of a DIHARD data dir (uri -> domain)."""
    path = Path(data_dir) / "reco2domain"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no reco2domain; prepare the dir with prepare_dihard3")
    return read_scp(path)


def describe_domains(
    data_dir: PathLike, out_dir: PathLike, *, name: Optional[str] = None, plots: bool = False
) -> List[Path]:
    """The dataset description of one DIHARD data dir with one row per domain (and the whole
    set as the last row), through :mod:`espnet2_tsdia.data.describe`.

    Writes ``<name>.md``, ``.tex``, ``.json`` (``name`` defaults to ``<dir>_domains``) and one
    ``<domain>_recordings.csv`` per domain (plus the set's) in ``out_dir``; returns the files.
    """
    from espnet2_tsdia.data.describe import SetDescription, describe_data_dir, write_description
    from espnet2_tsdia.data.stats import set_stats

    data_dir = Path(data_dir)
    whole = describe_data_dir(data_dir)
    domains = read_reco2domain(data_dir)
    descs = []
    for domain in sorted(set(domains.values())):
        recs = tuple(r for r in whole.recordings if domains.get(r.reco) == domain)
        if not recs:
            continue
        descs.append(
            SetDescription(
                name=domain,
                path=str(data_dir),
                recordings=recs,
                stats=set_stats(recs),
                duration_source={r.reco: whole.duration_source[r.reco] for r in recs},
            )
        )
    descs.append(whole)
    return write_description(descs, out_dir, name=name or f"{data_dir.name}_domains", plots=plots)


# --------------------------------------------------------------------------- command line
DOMAINS_DIR = "dihard3_domains"


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parts", type=str_list, default=list(PARTS), help="releases to use: dev, eval")
    p.add_argument("--conditions", type=str_list, default=list(CONDITIONS), help="scoring conditions: full, core")
    p.add_argument("--dev_dir", default=None, help="the dev release (default: found under --corpus_dir)")
    p.add_argument("--eval_dir", default=None, help="the eval release (default: found under --corpus_dir)")
    p.add_argument(
        "--valid_per_domain",
        type=int,
        default=VALID_PER_DOMAIN,
        help="dev recordings per domain held out as dihard3_dev_valid (0: no train/valid dirs)",
    )
    p.add_argument("--exclude", type=str_list, default=[], help="recording ids to leave out (reported)")
    p.add_argument("--check_md5", type=str2bool, default=False, help="verify every file against docs/file.tbl")
    p.add_argument(
        "--describe_domains",
        type=str2bool,
        default=True,
        help=f"write per-domain dataset descriptions of every dir to <out_dir>/{DOMAINS_DIR}",
    )


def _prepare(a: argparse.Namespace) -> Dict[str, str]:
    reports = prepare_dihard3(
        a.corpus_dir,
        a.out_dir,
        parts=a.parts,
        conditions=a.conditions,
        dev_dir=path_or_none(a.dev_dir),
        eval_dir=path_or_none(a.eval_dir),
        valid_per_domain=a.valid_per_domain,
        exclude=a.exclude,
        check_md5=a.check_md5,
    )
    if a.describe_domains:
        for name in reports:
            describe_domains(Path(a.out_dir) / name, Path(a.out_dir) / DOMAINS_DIR)
    return summarize(reports)


CLI = CorpusCli(
    summary="DIHARD III (LDC, local copy): dev/eval x full/core, official scoring UEMs, domains",
    add_arguments=_add_arguments,
    prepare=_prepare,
    data_dirs=lambda a: data_dir_names(a.parts, a.conditions, a.valid_per_domain),
    # LDC-licensed: nothing to fetch; the action checks the local releases and says how to get them
    download=lambda a: check_dihard3(
        a.corpus_dir,
        parts=a.parts,
        dev_dir=path_or_none(a.dev_dir),
        eval_dir=path_or_none(a.eval_dir),
        check_md5=a.check_md5,
    ),
    validation=lambda a: {"expected_fs": 16000},
)
