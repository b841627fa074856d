"""CALLHOME (NIST SRE 2000 "disk 8", LDC2001S97): the 8 kHz telephone diarization benchmark, with
the Kaldi/ESPnet 2-fold split ``callhome1``/``callhome2`` and the EEND 2-speaker subsets.

The audio is licensed by LDC (LDC2001S97; obtain it and put it under the recipe's
``$CALLHOME``). The reference is public: Kaldi's ``callhome_diarization`` recipe downloads it
from OpenSLR 10 (``sre2000-key.tar.gz``), and :func:`download_callhome` does the same. Layout
under ``corpus_dir``::

    **/<reco>.sph                 one summed (single-channel) 8 kHz SPHERE file per call, found
                                  anywhere below the root by name, as Kaldi's make_callhome.sh
                                  (``find -name <reco>.sph``) and lhotse do
    sre2000-key/reco2num          "<reco> <number of speakers>", the 500 calls
    sre2000-key/fullref.rttm      the reference (channel field 0, speakers A, B, ...)
    sre2000-key/segments          (not used)

**The split** (Kaldi ``egs/callhome_diarization/v1/local/make_callhome.sh``, which ESPnet's and
EEND's CALLHOME recipes import): the recording list in C-locale order is shuffled by Kaldi's
``utils/shuffle_list.pl`` (Perl: ``srand(0)``, then ``sort { rand() <=> rand() }``), the first
250 lines are ``callhome1`` and the other 250 ``callhome2``. The shuffle is Perl's merge sort
driven by a random comparator, so it is reproduced here by running exactly that Perl statement
(:func:`kaldi_shuffle`); since Perl 5.20 ``rand`` is Perl's own drand48, the same on every
platform. Two differences from the Kaldi script, both deliberate: the list shuffled is the
key's (``reco2num``), not the audio files found, so a missing file cannot move other calls
between the folds (with all 500 files present the two agree); and ``num_part1`` is an option
(250) so that a miniature can be split. Published lists differ from this derivation: BUT's
(github.com/BUTSpeechFIT/VBx ``data/CALLHOME/lists/part{1,2}.txt``, 249 + 250 calls, without
iaeu), used by VBx and DiaPer, share 142 of their 249 part1 calls with it; pass them as
``split_lists`` to use them. EEND adapts on ``callhome1`` and tests on ``callhome2``.

Data dirs: ``callhome1``, ``callhome2``; with ``two_speaker`` the EEND subsets
``callhome{1,2}_spk2`` (calls whose ``reco2num`` is 2); with ``num_valid`` > 0,
``callhome1_train`` and ``callhome1_valid`` (the ``num_valid`` calls of ``callhome1`` with the
smallest SHA-1 of their id held out, for a recipe that trains on callhome1).

**Protocol** (EEND papers, Kaldi): md-eval ``-c 0.25`` (0.25 s collar on each side of every
reference boundary; pyannote ``collar=0.5``), overlapped speech scored. md-eval given no UEM
scores the extent of the reference turns; that region is written as the ``uem`` of every dir.

**Audio**: the wav.scp entry decodes the SPHERE file the way Kaldi does, ``sph2pipe -f wav -p``
(16-bit PCM out), when sph2pipe is installed; otherwise with sox (``-e signed-integer -b 16``),
which reads PCM, mu-law and a-law SPHERE but not shorten-compressed files: the header's
``sample_coding`` is read, and a shorten-compressed file without sph2pipe stops the preparation
with the file named. Durations come from the header (``sample_count / sample_rate``).
Zero-duration reference turns (lhotse's CALLHOME reader skips them) are left out and listed in
``prep_report.txt``; speakers become ``<reco>_<label>``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import shlex
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from espnet2_tsdia.corpora.cli import CorpusCli, path_or_none, summarize
from espnet2_tsdia.corpora.common import (
    MissingAudioError,
    check_rttm_recordings,
    clip_uem,
    fetch,
    prefix_speakers,
    unpack,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import c_sort_key, iter_lines, read_list, read_table
from espnet2_tsdia.formats.rttm import Turn, parse_rttm
from espnet2_tsdia.formats.text import read_raw
from espnet2_tsdia.formats.uem import UemSegment
from espnet2_tsdia.utils.cli import str2bool, str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

KEY_URL = "https://www.openslr.org/resources/10/sre2000-key.tar.gz"
KEY_DIR = "sre2000-key"
#: BUT's published lists (VBx repository), fetched by :func:`download_callhome` into lists/but/
BUT_LISTS_URL = "https://raw.githubusercontent.com/BUTSpeechFIT/VBx/master/data/CALLHOME/lists/{part}.txt"
BUT_LISTS_DIR = Path("lists") / "but"
#: archive file name -> md5; OpenSLR publishes none for this file (fill it in to have it checked)
MD5: Dict[str, str] = {}
NUM_PART1 = 250
SEED = 0
NUM_VALID = 25
SAMPLE_RATE = 8000
#: Kaldi's utils/shuffle_list.pl, the statements that shuffle (seed from the command line)
PERL_SHUFFLE = "srand($ARGV[0]); @lines = <STDIN>; @lines = sort { rand() <=> rand() } @lines; print @lines;"
_SPHERE_FIELD = re.compile(r"^(\S+)\s+-(i|r|s\d+)\s+(.*)$")


# --------------------------------------------------------------------------- the split
def kaldi_shuffle(lines: Sequence[str], *, seed: int = SEED) -> List[str]:
    """``lines`` in the order Kaldi's ``utils/shuffle_list.pl --srand <seed>`` prints them.

    Runs the script's two statements with the installed Perl (which Kaldi itself needs).

    Raises:
        RuntimeError: no perl, a perl older than 5.20 (whose ``rand`` is the platform's, so the
            order could differ between machines), or perl failing.
    """
    perl = shutil.which("perl")
    if perl is None:
        raise RuntimeError(
            "perl not found: the Kaldi CALLHOME split is derived by Perl's shuffle; install perl "
            "(Debian: perl-base) or pass split lists (--split_lists DIR with part1.txt and part2.txt)"
        )
    version = subprocess.run([perl, "-e", "print $]"], capture_output=True, text=True, check=False).stdout.strip()
    try:
        too_old = float(version) < 5.020
    except ValueError:
        too_old = True
    if too_old:
        raise RuntimeError(
            f"{perl} is Perl {version or '(unknown version)'}; Perl >= 5.20 is needed for a platform-independent shuffle "
            "(older Perls use the C library's rand); install a newer perl or pass --split_lists"
        )
    for line in lines:
        if not line or "\n" in line:
            raise ValueError(f"shuffle input must be non-empty single lines, got {line!r}")
    proc = subprocess.run(
        [perl, "-e", PERL_SHUFFLE, str(int(seed))],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        check=False,
    )
    out = proc.stdout.splitlines()
    if proc.returncode != 0 or sorted(out) != sorted(lines):
        raise RuntimeError(f"perl shuffle failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
    return out


def kaldi_split(
    recordings: Sequence[str], *, num_part1: int = NUM_PART1, seed: int = SEED
) -> Tuple[List[str], List[str]]:
    """``(callhome1, callhome2)``: the first ``num_part1`` of the C-sorted, Kaldi-shuffled list,
    and the rest, each in C order.

    Raises:
        ValueError: ``num_part1`` not in ``[1, len(recordings) - 1]`` or repeated ids.
    """
    ids = sorted(set(recordings), key=c_sort_key)
    if len(ids) != len(recordings):
        raise ValueError(f"recording ids must be unique; {len(recordings) - len(ids)} repeated")
    if not 0 < num_part1 < len(ids):
        raise ValueError(f"num_part1 must be between 1 and {len(ids) - 1} for {len(ids)} recordings, got {num_part1}")
    shuffled = kaldi_shuffle(ids, seed=seed)
    part1 = set(shuffled[:num_part1])
    return [r for r in ids if r in part1], [r for r in ids if r not in part1]


def read_split_lists(split_dir: PathLike, recordings: Sequence[str]) -> Tuple[List[str], List[str]]:
    """``part1.txt`` and ``part2.txt`` of ``split_dir`` (one id per line), checked against the key.

    Raises:
        FileNotFoundError: a list is missing.
        DataFormatError: an id the key does not list, or an id in both lists.
    """
    known = set(recordings)
    parts = []
    for name in ("part1.txt", "part2.txt"):
        path = Path(split_dir) / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: split list missing; expected part1.txt and part2.txt in {split_dir}")
        ids = read_list(path)
        for n, line in iter_lines(path):
            if line.split()[0] not in known:
                raise DataFormatError(path, n, f"recording {line.split()[0]!r} is not in the key's reco2num")
        parts.append(ids)
    both = sorted(set(parts[0]) & set(parts[1]))
    if both:
        raise DataFormatError(Path(split_dir) / "part2.txt", None, f"recordings in both lists: {', '.join(both[:5])}")
    return sorted(parts[0], key=c_sort_key), sorted(parts[1], key=c_sort_key)


def holdout(recordings: Sequence[str], num: int) -> List[str]:
    """The ``num`` recordings with the smallest SHA-1 hex digest of their id, in C order (never all)."""
    ranked = sorted(recordings, key=lambda r: hashlib.sha1(r.encode("utf-8")).hexdigest())
    return sorted(ranked[: max(0, min(num, len(ranked) - 1))], key=c_sort_key)


# --------------------------------------------------------------------------- audio
def read_sphere_header(path: PathLike) -> Dict[str, str]:
    """The fields of a NIST SPHERE header (``NIST_1A``, header size, ``name -type value`` lines up
    to ``end_head``), as strings.

    Raises:
        DataFormatError: not a SPHERE file, or a malformed header line.
    """
    with open(path, "rb") as f:
        head = f.read(1024)
        if not head.startswith(b"NIST_1A"):
            raise DataFormatError(path, None, "not a NIST SPHERE file (no NIST_1A header)")
        lines = head.split(b"\n")
        try:
            size = int(lines[1].strip())
        except (IndexError, ValueError):
            raise DataFormatError(path, 2, "expected the header size on line 2 of the SPHERE header") from None
        if size > len(head):
            head += f.read(size - len(head))
    fields: Dict[str, str] = {}
    for n, raw in enumerate(head[:size].split(b"\n")[2:], start=3):
        text = raw.decode("ascii", "replace").strip()
        if text == "end_head":
            return fields
        if not text or text.startswith(";"):
            continue
        m = _SPHERE_FIELD.match(text)
        if m is None:
            raise DataFormatError(path, n, f"expected 'name -type value' in the SPHERE header, got {text!r}")
        fields[m.group(1)] = m.group(3).strip()
    raise DataFormatError(path, None, f"no end_head in the first {size} bytes of the SPHERE header")


def sphere_audio(path: PathLike) -> Tuple[float, int, int, str]:
    """``(duration, sample_rate, channels, sample_coding)`` from a SPHERE header."""
    h = read_sphere_header(path)
    try:
        rate, count = int(h["sample_rate"]), int(h["sample_count"])
        channels = int(h.get("channel_count", "1"))
    except (KeyError, ValueError) as e:
        raise DataFormatError(
            path, None, f"SPHERE header lacks a valid sample_rate/sample_count/channel_count ({e})"
        ) from None
    if rate <= 0 or count <= 0:
        raise DataFormatError(
            path, None, f"SPHERE header gives sample_rate {rate} and sample_count {count}; expected both > 0"
        )
    return count / rate, rate, channels, h.get("sample_coding", "pcm")


def decode_pipe(path: PathLike, coding: str) -> str:
    """The wav.scp pipe that decodes one SPHERE file to 16-bit PCM WAV (see the module docstring).

    Raises:
        RuntimeError: a shorten-compressed file and no sph2pipe.
    """
    p = shlex.quote(str(Path(path).absolute()))
    if shutil.which("sph2pipe"):
        return f"sph2pipe -f wav -p {p} |"
    if "shorten" in coding:
        raise RuntimeError(
            f"{path}: SPHERE sample_coding {coding!r} is shorten-compressed, which sox and libsndfile cannot decode; "
            "install sph2pipe (e.g. ESPnet's tools/installers/install_sph2pipe.sh) and put it on PATH, then run again"
        )
    return f"sox -t sph {p} -t wav -e signed-integer -b 16 - |"


def find_sph(corpus_dir: PathLike) -> Dict[str, Path]:
    """``<reco>.sph`` files anywhere below ``corpus_dir``, by recording id.

    Raises:
        ValueError: two files with the same name (the message names both).
    """
    found: Dict[str, Path] = {}
    for p in sorted(Path(corpus_dir).rglob("*")):
        if p.suffix.lower() != ".sph" or not p.is_file():
            continue
        if p.stem in found:
            raise ValueError(f"two SPHERE files for recording {p.stem!r}: {found[p.stem]} and {p}; keep one")
        found[p.stem] = p.absolute()
    return found


# --------------------------------------------------------------------------- the key
def read_reco2num(path: PathLike) -> Dict[str, int]:
    """``reco2num``: recording -> number of speakers."""
    out: Dict[str, int] = {}
    for n, (reco, fields) in enumerate(read_table(path, min_fields=2, max_fields=2).items(), start=1):
        try:
            out[reco] = int(fields[0])
        except ValueError:
            raise DataFormatError(path, n, f"expected a number of speakers, got {fields[0]!r}") from None
    return out


def read_reference(path: PathLike) -> Tuple[List[Turn], List[Tuple[str, str]]]:
    """The key's ``fullref.rttm`` through the RTTM line parser, with the channel fields as
    written, and ``(reco, note)`` for every zero-duration turn, which is left out (lhotse's
    CALLHOME reader skips them too).

    Raises:
        DataFormatError: any other problem of a line (file and line named).
    """
    path = Path(path)
    raw = read_raw(path)
    if raw.undecodable:
        raise DataFormatError(path, raw.undecodable[0], "not valid UTF-8")
    parsed = parse_rttm(raw)
    zero: List[Tuple[str, str]] = []
    for p in parsed.problems:
        t = p.value
        if p.code == "end_not_after_start" and isinstance(t, Turn) and t.duration == 0 and t.onset >= 0:
            zero.append(
                (
                    t.reco,
                    f"{t.reco} {t.speaker} at {t.onset:.2f} ({path.name}:{p.line.number}): zero-duration reference turn left out",
                )
            )
            continue
        raise DataFormatError(path, p.line.number, p.message)
    return [e.value.turn for e in parsed.valid()], zero


# --------------------------------------------------------------------------- preparation
def data_dir_names(*, two_speaker: bool = True, num_valid: int = NUM_VALID) -> List[str]:
    """The data dirs :func:`prepare_callhome` writes with these options."""
    names = ["callhome1", "callhome2"]
    if two_speaker:
        names += ["callhome1_spk2", "callhome2_spk2"]
    if num_valid > 0:
        names += ["callhome1_train", "callhome1_valid"]
    return names


def prepare_callhome(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    key_dir: Optional[PathLike] = None,
    split_lists: Optional[PathLike] = None,
    num_part1: int = NUM_PART1,
    two_speaker: bool = True,
    num_valid: int = NUM_VALID,
    exclude: Sequence[str] = (),
) -> Dict[str, PrepReport]:
    """Write ``callhome1``, ``callhome2`` (and the ``_spk2``, ``callhome1_{train,valid}`` dirs).

    Args:
        corpus_dir: the root holding the LDC2001S97 SPHERE files (and ``sre2000-key/``).
        out_dir: where the data dirs go.
        key_dir: the unpacked ``sre2000-key`` (default ``<corpus_dir>/sre2000-key``).
        split_lists: a folder with ``part1.txt``/``part2.txt`` to use instead of the Kaldi
            derivation (e.g. BUT's lists, fetched into ``<corpus_dir>/lists/but``).
        num_part1: calls in ``callhome1`` (Kaldi: 250); ignored with ``split_lists``.
        two_speaker: also write the EEND 2-speaker subsets.
        num_valid: calls of ``callhome1`` held out as ``callhome1_valid`` (0: none).
        exclude: recording ids to leave out (reported; the split is unchanged).

    Raises:
        FileNotFoundError: the key or the corpus root is missing (the message says how to get it).
        MissingAudioError: a call of the key has no SPHERE file.
        DataFormatError: a malformed key file, SPHERE header or split list.
        RuntimeError: the split cannot be derived (no perl), or a file needs sph2pipe.
    """
    corpus_dir = Path(corpus_dir)
    key = Path(key_dir) if key_dir is not None else corpus_dir / KEY_DIR
    for name in ("reco2num", "fullref.rttm"):
        if not (key / name).is_file():
            raise FileNotFoundError(
                f"{key / name}: CALLHOME reference key missing; fetch it (prepare_corpus callhome download, from {KEY_URL}) "
                "or pass --key_dir"
            )
    if num_valid < 0:
        raise ValueError(f"num_valid must be >= 0, got {num_valid}")
    notes = PrepReport()
    reco2num = read_reco2num(key / "reco2num")
    turns, zero = read_reference(key / "fullref.rttm")
    check_rttm_recordings(
        turns, allowed=reco2num, source=key / "fullref.rttm", todo="the key is inconsistent; fetch it again"
    )
    listed = sorted(reco2num, key=c_sort_key)
    if split_lists is not None:
        part1, part2 = read_split_lists(split_lists, listed)
        unassigned = sorted(set(listed) - set(part1) - set(part2), key=c_sort_key)
        if unassigned:
            notes.dropped.append(
                f"{len(unassigned)} calls of the key are in neither split list: {' '.join(unassigned)}"
            )
    else:
        part1, part2 = kaldi_split(listed, num_part1=num_part1)
    audio = find_sph(corpus_dir)
    excluded = set(exclude)
    wav_scp: Dict[str, str] = {}
    reco2dur: Dict[str, float] = {}
    for reco in part1 + part2:
        if reco in excluded:
            continue
        if reco not in audio:
            raise MissingAudioError(
                f"{corpus_dir}/**/{reco}.sph: audio of call {reco!r} (listed in {key / 'reco2num'}) not found below {corpus_dir}; "
                f"CALLHOME is LDC2001S97 (https://catalog.ldc.upenn.edu/LDC2001S97): copy it under $CALLHOME, or pass --exclude {reco}"
            )
        duration, _, channels, coding = sphere_audio(audio[reco])
        if channels != 1:
            raise DataFormatError(
                audio[reco],
                None,
                f"has {channels} channels; the CALLHOME diarization set (NIST SRE 2000 disk 8) is one summed channel per call: "
                "check that this is LDC2001S97",
            )
        wav_scp[reco] = decode_pipe(audio[reco], coding)
        reco2dur[reco] = duration
    by_reco: Dict[str, List[Turn]] = {}
    for t in prefix_speakers(turns):
        by_reco.setdefault(t.reco, []).append(t)
    for reco, ts in by_reco.items():
        speakers = len({t.speaker for t in ts})
        if speakers != reco2num[reco]:
            logger.warning("%s: %d speakers in fullref.rttm, %d in reco2num", reco, speakers, reco2num[reco])
    # md-eval without a UEM scores the extent of the reference turns
    uem = {
        r: [UemSegment(r, min(t.onset for t in ts), max(t.end for t in ts))]
        for r, ts in by_reco.items()
        if r in wav_scp
    }
    dirs: List[Tuple[str, List[str]]] = [("callhome1", part1), ("callhome2", part2)]
    if two_speaker:
        dirs += [(f"{n}_spk2", [r for r in recos if reco2num[r] == 2]) for n, recos in list(dirs)]
    if num_valid > 0:
        valid = holdout([r for r in part1 if r in wav_scp], num_valid)
        logger.info("callhome1_valid: %d calls held out of callhome1: %s", len(valid), " ".join(valid))
        dirs += [("callhome1_train", [r for r in part1 if r not in set(valid)]), ("callhome1_valid", valid)]
    out: Dict[str, PrepReport] = {}
    for name, recos in dirs:
        keep = [r for r in recos if r in wav_scp]
        kept = set(keep)
        dir_turns = [t for r in keep for t in by_reco.get(r, [])]
        dir_notes = PrepReport(changed=list(notes.changed), dropped=list(notes.dropped))
        dir_notes.dropped += [f"{r}: excluded by the caller" for r in recos if r in excluded]
        dir_notes.dropped += [note for r, note in zero if r in kept]
        moved = sum(1 for t in dir_turns if t.channel != "1")
        if moved:
            dir_notes.changed.append(
                f"fullref.rttm: channel field rewritten to 1 in {moved} turns (md-eval keys on file and channel)"
            )
        out[name] = write_split(
            Path(out_dir) / name,
            wav_scp={r: wav_scp[r] for r in keep},
            turns=[replace(t, channel="1") for t in dir_turns],
            reco2dur={r: reco2dur[r] for r in keep},
            uem=clip_uem({r: uem[r] for r in keep if r in uem}, reco2dur, notes=dir_notes),
            notes=dir_notes,
        )
    return out


def download_callhome(corpus_dir: PathLike) -> None:
    """Fetch the public reference key (OpenSLR 10) and BUT's split lists (resumable); check that
    the licensed audio is there and say how to get it when it is not."""
    corpus_dir = Path(corpus_dir)
    archive = fetch(KEY_URL, corpus_dir / "downloads" / "sre2000-key.tar.gz", md5=MD5.get("sre2000-key.tar.gz"))
    unpack(archive, corpus_dir, done=corpus_dir / KEY_DIR / "reco2num")
    for part in ("part1", "part2"):
        fetch(BUT_LISTS_URL.format(part=part), corpus_dir / BUT_LISTS_DIR / f"{part}.txt")
    found = find_sph(corpus_dir)
    missing = [r for r in read_reco2num(corpus_dir / KEY_DIR / "reco2num") if r not in found]
    if missing:
        logger.warning(
            "%d of the key's calls have no SPHERE file below %s (e.g. %s): CALLHOME audio is licensed by LDC "
            "(LDC2001S97, https://catalog.ldc.upenn.edu/LDC2001S97) and cannot be downloaded; copy the disk under %s",
            len(missing),
            corpus_dir,
            " ".join(missing[:3]),
            corpus_dir,
        )


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key_dir", default=None, help=f"the unpacked {KEY_DIR} (default <corpus_dir>/{KEY_DIR})")
    p.add_argument(
        "--split_lists", default=None, help="folder with part1.txt and part2.txt instead of the Kaldi derivation"
    )
    p.add_argument("--num_part1", type=int, default=NUM_PART1, help="calls in callhome1 (Kaldi: 250)")
    p.add_argument(
        "--two_speaker", type=str2bool, default=True, help="also the EEND 2-speaker subsets callhome{1,2}_spk2"
    )
    p.add_argument(
        "--num_valid", type=int, default=NUM_VALID, help="callhome1 calls held out as callhome1_valid (0: none)"
    )
    p.add_argument("--exclude", type=str_list, default=[], help="call ids to leave out (reported)")


CLI = CorpusCli(
    summary="CALLHOME (NIST SRE 2000 disk 8, LDC2001S97, 8 kHz): Kaldi callhome1/callhome2 split",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_callhome(
            a.corpus_dir,
            a.out_dir,
            key_dir=path_or_none(a.key_dir),
            split_lists=path_or_none(a.split_lists),
            num_part1=a.num_part1,
            two_speaker=a.two_speaker,
            num_valid=a.num_valid,
            exclude=a.exclude,
        )
    ),
    data_dirs=lambda a: data_dir_names(two_speaker=a.two_speaker, num_valid=a.num_valid),
    download=lambda a: download_callhome(a.corpus_dir),
    # wav.scp holds sph2pipe/sox pipes: their output is checked by the recipe's feature stage
    validation=lambda a: {"expected_fs": SAMPLE_RATE},
)
