"""AISHELL-4 (OpenSLR 111): TextGrid to RTTM, one channel of the 8-channel array, held-out dev.

Layout under ``corpus_dir`` (the recipe's ``$AISHELL4``), as the OpenSLR tarballs extract::

    {train_L,train_M,train_S,test}/wav/<SESSION>.flac          8-channel 16 kHz FLAC
    {train_L,train_M,train_S,test}/TextGrid/<SESSION>.TextGrid  one interval tier per speaker

Decisions (documented here and in ``conf/corpus.yaml``):

- **Channel**: ``channel="1"`` (default) selects the first channel, as the official baseline
  does, through a ``sox <f> -t wav - remix 1 |`` pipe in wav.scp; ``"2"``-``"8"`` select another;
  ``"downmix"`` averages all channels (``sox <f> -t wav -c 1 - |``, DiariZen's choice). The FLAC
  files are never rewritten.
- **Speech**: an interval is speech when its text is non-empty and not only ``<sil>`` tokens;
  other markup (``<%>``, ``<$>``, ...) sits inside speech and counts. The tier name is the
  speaker (``006-M``); labels are local to a session, so speakers become ``<SESSION>_<tier>``.
- **Dev**: there is no official dev set. Unless ``dev_sessions`` is given, ``num_dev`` (18, as
  DiariZen holds out) training sessions are held out, split across the room sizes L/M/S in
  proportion to their session counts (largest remainder; 3/10/5 for the full 30/108/53), taking
  in each room size the sessions with the smallest SHA-1 of their id. The choice depends only on
  the session ids, so it is the same on every machine; the chosen ids are logged and are the
  keys of ``aishell4_dev/wav.scp``.
- **UEM**: the whole file (DiariZen/pyannote protocol: collar 0, overlap scored).

Files whose TextGrid cannot be parsed stop the preparation with the file and line; leave such a
session out with ``exclude`` (lhotse skips 20200622_M_R002S07C01 and 20200710_M_R002S06C01).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from espnet2_tsdia.corpora.cli import CorpusCli, summarize
from espnet2_tsdia.corpora.common import (
    audio_header,
    channel_pipe,
    corpus_manifest,
    downmix_pipe,
    fetch,
    require_audio,
    split_dir_name,
    unpack,
    was_extracted,
    whole_file_uem,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import read_list
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.utils.cli import str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

PARTS = ("train_L", "train_M", "train_S", "test")
URL = "http://www.openslr.org/resources/111/{part}.tar.gz"
NUM_DEV = 18
#: archive file name -> md5 published by OpenSLR. Empty: the values could not be read where this
#: was written, so each archive is checked against OpenSLR's list ``resources/111/checksum.md5``
#: at download time instead; an entry here takes precedence over that list.
MD5: Dict[str, str] = {}
SILENCE_TOKENS = frozenset({"<sil>"})
_TRAIN_ROOM = re.compile(r"^\d{8}_([LMS])_")


# --------------------------------------------------------------------------- TextGrid
@dataclass(frozen=True)
class Interval:
    """One interval of an interval tier (``line``: where its ``xmin`` is in the file)."""

    xmin: float
    xmax: float
    text: str
    line: int


@dataclass(frozen=True)
class Tier:
    name: str
    cls: str
    intervals: Tuple[Interval, ...]


_TOKEN = re.compile(
    r'"(?:[^"]|"")*"'  # a string; "" is an escaped quote
    r"|\[\s*\d*\s*\]"  # an index in a long-format key (item [1]:), skipped
    r"|<exists>|<absent>"
    r"|(?<![\w.\]])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])"
)


def _decode(data: bytes, path: PathLike) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    for enc in ("utf-8", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise DataFormatError(path, None, "not UTF-8, UTF-16 or GB18030 text")


def read_textgrid(path: PathLike) -> List[Tier]:
    """Parse a Praat TextGrid in the long ("ooTextFile") or short text format.

    Both formats hold the same sequence of values (the long one adds ``key =`` labels and
    ``item [n]:`` lines, which are skipped): header strings, xmin, xmax, ``<exists>``, the tier
    count, then per tier its class, name, xmin, xmax, item count and items (``xmin xmax text``
    for an IntervalTier, ``time mark`` for a TextTier).

    Raises:
        DataFormatError: naming the file and line of the first value that breaks the structure.
    """
    text = _decode(Path(path).read_bytes(), path)
    tokens: List[Tuple[str, int]] = []
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok.startswith("["):
            continue
        tokens.append((tok, text.count("\n", 0, m.start()) + 1))
    pos = 0

    def take(kind: str) -> Tuple[object, int]:
        nonlocal pos
        if pos >= len(tokens):
            raise DataFormatError(path, None, f"file ends where a {kind} was expected")
        tok, line = tokens[pos]
        pos += 1
        if kind == "string":
            if not tok.startswith('"'):
                raise DataFormatError(path, line, f"expected a quoted string, got {tok!r}")
            return tok[1:-1].replace('""', '"'), line
        if kind == "flag":
            if tok not in ("<exists>", "<absent>"):
                raise DataFormatError(path, line, f"expected <exists>, got {tok!r}")
            return tok, line
        if tok.startswith('"') or tok.startswith("<"):
            raise DataFormatError(path, line, f"expected a number, got {tok!r}")
        value = float(tok)
        if kind == "int":
            if value != int(value) or value < 0:
                raise DataFormatError(path, line, f"expected a count, got {tok!r}")
            return int(value), line
        return value, line

    kind, line = take("string")
    if kind != "ooTextFile":
        raise DataFormatError(path, line, f"expected a Praat text file ('ooTextFile'), got {kind!r}")
    cls, line = take("string")
    if cls != "TextGrid":
        raise DataFormatError(path, line, f"expected object class 'TextGrid', got {cls!r}")
    take("number")
    take("number")
    flag, _ = take("flag")
    if flag == "<absent>":
        return []
    n_tiers, _ = take("int")
    tiers: List[Tier] = []
    for _ in range(int(n_tiers)):  # type: ignore[arg-type]
        tcls, line = take("string")
        name, _ = take("string")
        take("number")
        take("number")
        n_items, _ = take("int")
        if tcls == "IntervalTier":
            items = []
            for _ in range(int(n_items)):  # type: ignore[arg-type]
                xmin, iline = take("number")
                xmax, _ = take("number")
                label, _ = take("string")
                items.append(Interval(float(xmin), float(xmax), str(label), iline))  # type: ignore[arg-type]
            tiers.append(Tier(str(name), str(tcls), tuple(items)))
        elif tcls == "TextTier":
            for _ in range(int(n_items)):  # type: ignore[arg-type]
                take("number")
                take("string")
            tiers.append(Tier(str(name), str(tcls), ()))
        else:
            raise DataFormatError(path, line, f"unknown tier class {tcls!r}; expected IntervalTier or TextTier")
    return tiers


def is_speech(text: str) -> bool:
    """An interval is speech if it has any token other than ``<sil>``."""
    return any(tok not in SILENCE_TOKENS for tok in text.split())


def textgrid_turns(path: PathLike, session: str, *, notes: PrepReport) -> List[Turn]:
    """Speaker turns of one session's TextGrid (speaker ``<session>_<tier>``).

    Intervals with ``xmax <= xmin`` are dropped and noted; ``<sil>``-only intervals are silence.
    """
    turns: List[Turn] = []
    sil_only = 0
    for n, tier in enumerate(read_textgrid(path), start=1):
        if tier.cls != "IntervalTier":
            notes.dropped.append(f"{session}: point tier {tier.name!r} of {path} is not a speaker; ignored")
            continue
        label = re.sub(r"\s+", "_", tier.name.strip()) or f"tier{n}"
        if label != tier.name:
            notes.changed.append(f"{session}: tier name {tier.name!r} of {path} used as speaker {label!r}")
        for iv in tier.intervals:
            if not iv.text.strip():
                continue
            if not is_speech(iv.text):
                sil_only += 1
                continue
            if iv.xmax <= iv.xmin:
                notes.dropped.append(
                    f"{session} {label} [{iv.xmin:.3f}, {iv.xmax:.3f}]: empty interval ({path}:{iv.line})"
                )
                continue
            if iv.xmin < 0:
                raise DataFormatError(path, iv.line, f"interval starts before 0: xmin={iv.xmin}")
            turns.append(Turn(reco=session, onset=iv.xmin, duration=iv.xmax - iv.xmin, speaker=f"{session}_{label}"))
    if sil_only:
        notes.dropped.append(f"{session}: {sil_only} intervals holding only <sil> are not speech")
    return turns


# --------------------------------------------------------------------------- dev selection
def room_size(session: str) -> str:
    """``L``, ``M`` or ``S`` of a training session id (``20200616_M_R001S01C01``), else ``?``."""
    m = _TRAIN_ROOM.match(session)
    return m.group(1) if m else "?"


def select_dev(sessions: Sequence[str], num_dev: int) -> List[str]:
    """The held-out dev sessions (rule in the module docstring), sorted.

    Raises:
        ValueError: ``num_dev`` negative or not smaller than the number of sessions.
    """
    if num_dev < 0 or (num_dev >= len(sessions) and num_dev > 0):
        raise ValueError(f"num_dev must be >= 0 and smaller than the {len(sessions)} training sessions, got {num_dev}")
    groups: Dict[str, List[str]] = {}
    for s in sorted(set(sessions)):
        groups.setdefault(room_size(s), []).append(s)
    total = sum(len(g) for g in groups.values())
    quota = {k: num_dev * len(g) / total for k, g in groups.items()}
    take = {k: int(q) for k, q in quota.items()}
    left = num_dev - sum(take.values())
    for k in sorted(groups, key=lambda k: (-(quota[k] - take[k]), k))[:left]:
        take[k] += 1
    dev: List[str] = []
    for k, g in groups.items():
        dev += sorted(g, key=lambda s: hashlib.sha1(s.encode("utf-8")).hexdigest())[: take[k]]
    return sorted(dev)


# --------------------------------------------------------------------------- preparation
def _wav_value(path: Path, channel: str, channels: int) -> str:
    if channel == "downmix":
        return downmix_pipe(path)
    c = int(channel)
    if c > channels:
        raise ValueError(f"{path}: has {channels} channels, cannot select channel {c}")
    return channel_pipe(path, c)


def prepare_aishell4(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    channel: str = "1",
    parts: Sequence[str] = PARTS,
    num_dev: int = NUM_DEV,
    dev_sessions: Optional[Sequence[str]] = None,
    exclude: Sequence[str] = (),
) -> Dict[str, PrepReport]:
    """Write ``<out_dir>/aishell4_{train,dev,test}`` (train/dev when a train part is given, test
    when ``test`` is).

    Args:
        corpus_dir: the AISHELL-4 root (layout in the module docstring).
        out_dir: where the data dirs go.
        channel: ``"1"``..``"8"`` or ``"downmix"``.
        parts: which extracted parts to read.
        num_dev: training sessions held out as dev (0: no dev dir); ignored with ``dev_sessions``.
        dev_sessions: explicit dev session ids (each must be a training session).
        exclude: session ids to leave out (reported), e.g. ones whose TextGrid is broken.

    Raises:
        MissingAudioError: a TextGrid has no FLAC.
        DataFormatError: a TextGrid cannot be parsed (file and line named).
    """
    if channel != "downmix" and not (channel.isdigit() and 1 <= int(channel) <= 8):
        raise ValueError(f"channel must be '1'..'8' or 'downmix', got {channel!r}")
    for p in parts:
        if p not in PARTS:
            raise ValueError(f"unknown AISHELL-4 part {p!r}; expected some of {', '.join(PARTS)}")
    corpus_dir = Path(corpus_dir).absolute()
    excluded = set(exclude)
    sessions: Dict[str, Dict[str, object]] = {"train": {}, "test": {}}
    notes = {"train": PrepReport(), "test": PrepReport()}
    for part in parts:
        split = "test" if part == "test" else "train"
        tg_dir, wav_dir = corpus_dir / part / "TextGrid", corpus_dir / part / "wav"
        if not tg_dir.is_dir():
            raise FileNotFoundError(
                f"{tg_dir}: AISHELL-4 part {part} not found; download it (prepare_corpus aishell4 download --parts {part}) or leave it out of --parts"
            )
        for tg in sorted(tg_dir.glob("*.TextGrid")):
            session = tg.stem
            if session in excluded:
                notes[split].dropped.append(f"{session}: excluded by the caller")
                continue
            flac = require_audio(
                wav_dir / f"{session}.flac",
                reco=session,
                listed_in=str(tg),
                todo=f"extract the complete {part}.tar.gz or pass --exclude {session}",
            )
            sessions[split][session] = (tg, flac)
        if wav_dir.is_dir():
            extra = sorted(f.stem for f in wav_dir.glob("*.flac") if not (tg_dir / f"{f.stem}.TextGrid").is_file())
            if extra:
                notes[split].dropped.append(
                    f"{len(extra)} FLAC files of {part} have no TextGrid and are left out: {' '.join(extra)}"
                )
    groups: Dict[str, List[str]] = {}
    if sessions["train"]:
        train_ids = sorted(sessions["train"])
        if dev_sessions is not None:
            unknown = sorted(set(dev_sessions) - set(train_ids))
            if unknown:
                raise ValueError(f"dev_sessions {unknown} are not training sessions found under {corpus_dir}")
            dev = sorted(set(dev_sessions))
        else:
            dev = select_dev(train_ids, num_dev)
        logger.info("AISHELL-4 dev sessions (%d): %s", len(dev), " ".join(dev))
        groups["train"] = [s for s in train_ids if s not in set(dev)]
        if dev:
            groups["dev"] = dev
    if sessions["test"]:
        groups["test"] = sorted(sessions["test"])
    out: Dict[str, PrepReport] = {}
    for split, ids in groups.items():
        source = "test" if split == "test" else "train"
        split_notes = notes[source] if split != "dev" else PrepReport()
        wav_scp: Dict[str, str] = {}
        reco2dur: Dict[str, float] = {}
        turns: List[Turn] = []
        for session in ids:
            tg, flac = sessions[source][session]  # type: ignore[misc]
            header = audio_header(flac)
            wav_scp[session] = _wav_value(flac, channel, header.channels)
            reco2dur[session] = header.duration
            turns += textgrid_turns(tg, session, notes=split_notes)
        name = split_dir_name("aishell4", split)
        out[name] = write_split(
            Path(out_dir) / name,
            wav_scp=wav_scp,
            turns=turns,
            reco2dur=reco2dur,
            uem=whole_file_uem(reco2dur),
            notes=split_notes,
        )
    return out


def download_aishell4(corpus_dir: PathLike, *, parts: Sequence[str] = PARTS) -> None:
    """Download and extract the OpenSLR tarballs (resumable; extracted parts are skipped).

    Each archive is checked against its md5 in :data:`MD5` or, where that is empty, in OpenSLR's
    list ``resources/111/checksum.md5`` (fetched with the first download; without it, against the
    md5 recorded at the first download), and recorded in ``<corpus_dir>/checksums.md5``. A part
    counts as extracted once its extraction finished; an interrupted one is redone. A part that
    is there without a finished extraction and without its archive (extracted by hand) is used as
    it is, with a warning that it was not verified.
    """
    corpus_dir = Path(corpus_dir)
    manifest = corpus_manifest(corpus_dir)
    for part in parts:
        if part not in PARTS:
            raise ValueError(f"unknown AISHELL-4 part {part!r}; expected some of {', '.join(PARTS)}")
        archive = corpus_dir / "downloads" / f"{part}.tar.gz"
        if was_extracted(archive, corpus_dir):
            logger.info("%s: already extracted", corpus_dir / part)
            continue
        started = archive.exists() or archive.with_name(archive.name + ".part").exists()
        if (corpus_dir / part / "TextGrid").is_dir() and not started:
            logger.warning(
                "%s: found, but not extracted from a verified %s: used as it is; delete it to download the part",
                corpus_dir / part,
                archive.name,
            )
            continue
        archive = fetch(URL.format(part=part), archive, md5=MD5.get(f"{part}.tar.gz"), manifest=manifest)
        unpack(archive, corpus_dir, done=corpus_dir / part / "TextGrid")


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parts", type=str_list, default=list(PARTS), help="archives to use (and to download)")
    p.add_argument("--channel", default="1", help="1..8 (default 1, as the official baseline) or downmix")
    p.add_argument("--num_dev", type=int, default=NUM_DEV, help="training sessions held out as dev (0: none)")
    p.add_argument("--dev_list", default=None, help="file of dev session ids (overrides --num_dev)")
    p.add_argument("--exclude", type=str_list, default=[], help="session ids to leave out (reported)")


def _data_dirs(a: argparse.Namespace) -> List[str]:
    names = []
    if any(p.startswith("train") for p in a.parts):
        names.append("aishell4_train")
        if a.dev_list or a.num_dev > 0:
            names.append("aishell4_dev")
    if "test" in a.parts:
        names.append("aishell4_test")
    return names


CLI = CorpusCli(
    summary="AISHELL-4: TextGrid to RTTM, one channel, held-out dev",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_aishell4(
            a.corpus_dir,
            a.out_dir,
            channel=a.channel,
            parts=a.parts,
            num_dev=a.num_dev,
            dev_sessions=read_list(a.dev_list) if a.dev_list else None,
            exclude=a.exclude,
        )
    ),
    data_dirs=_data_dirs,
    download=lambda a: download_aishell4(a.corpus_dir, parts=a.parts),
    # wav.scp holds sox pipes (channel selection): their output is checked by the recipe's
    # feature stage, not decoded here
    validation=lambda a: {},
)
