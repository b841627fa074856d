"""Offline speech corpus: labelled speakers from Debian speech packages, with no download.

No speech corpus can be downloaded on the machines this project runs on, so the demo recipe and
every test that needs real speech use this corpus (docs/design.md, offline speech). It is built from:

=============  ======================================  ========  ===  =========  ====================
speaker        Debian package                          language  sex  kind       audio
=============  ======================================  ========  ===  =========  ====================
en_allison     asterisk-core-sounds-en-wav             en-US     f    real       en_US_f_Allison/*.wav
es_july        asterisk-prompt-es-co                   es-CO     f    real       es/*.gsm
fr_armelle     asterisk-prompt-fr-armelle              fr-FR     f    real       fr/*.gsm
fr_june        asterisk-core-sounds-fr-wav             fr-CA     f    real       fr_CA_f_June/*.wav
it_carlo       asterisk-core-sounds-it-wav             it-IT     m    real       it_IT_m_Carlo/*.wav
it_menardi     asterisk-prompt-it-menardi-wav          it-IT     f    real       it_IT_f_Menardi/*.wav
ru_ivrvoice    asterisk-core-sounds-ru-wav             ru-RU     f    real       ru_RU_f_IvrvoiceRU/*.wav
flite_awb      flite                                   en-GB     m    synthetic  flite -voice awb
flite_kal      flite                                   en-US     m    synthetic  flite -voice kal
flite_rms      flite                                   en-US     m    synthetic  flite -voice rms
flite_slt      flite                                   en-US     f    synthetic  flite -voice slt
=============  ======================================  ========  ===  =========  ====================

The prompt packages hold about 25 minutes of 8 kHz 16-bit mono telephone prompts each, in
``/usr/share/asterisk/sounds`` (subfolders such as ``digits/`` included). asterisk-core-sounds-es-wav
is the English voice speaking Spanish and is never used as another speaker. The flite voices read
sentences from a small built-in grammar (:func:`flite_sentences`); the prompt packages ship no
transcripts, so their ``text`` is ``<unk>``. Install everything with ``tools/install.sh`` (or the
``apt-get`` line in :data:`APT_INSTALL`).

Processing of every utterance: decode to 8 kHz mono, remove DC and slow drift (one prompt set has a
drifting offset of up to 10 % of full scale), trim leading and trailing silence with an energy
detector relative to the loudest frame and to the source's noise floor, keeping 10 ms of context
(see :func:`espnet2_tsdia.audio.tools.speech_bounds`; boundaries are within 15 ms of the speech),
and write 16-bit PCM. Skipped, and listed in ``skipped.tsv`` with the reason: ``silence/`` prompts
and tone or sound-effect prompts known by name (beeps, two-tone chimes, the monkeys), files with
no speech above the noise floor, pure tones found by their spectrum, utterances shorter than
``min_duration`` after trimming, and audio identical (or within -60 dBFS sample by sample) to an
utterance already taken.

Layout of ``out_dir``::

    wav/<spk>/<utt>.wav     8 kHz mono int16, trimmed (a cache: it may hold more than data/ lists)
    wav/<spk>/.config.json  what the speaker's files were made from; a change rebuilds them
    data/                   Kaldi dir: wav.scp utt2spk spk2utt utt2dur text spk2gender, plus
                            speakers.tsv (speaker source language sex n_utts seconds kind)
    skipped.tsv             utterance, source, reason for everything examined and not taken

Utterance ids are ``<spk>-<prompt path with / as _>`` (``en_allison-digits_1``) or
``<spk>-s<NNNN>`` for flite sentences: speaker first, so ``utt2spk`` sorted by utterance is also
sorted by speaker. Paths in ``wav.scp`` are absolute.

Re-running is cheap and safe: a wav that exists is reused (every wav is written to a temporary
file and renamed, so an interrupted run leaves no half file), and data files whose content did not
change are not rewritten; a second full run takes seconds and changes no file. Two runs must not
write into the same ``out_dir`` at once.

Selection: each speaker's prompts are visited in an order shuffled by ``seed`` (the same order for
every limit, so a smaller corpus is a subset of a larger one) until ``max_utts_per_speaker`` or
``max_seconds_per_speaker`` is reached.

Option, not default: pseudo-speakers by perturbation. Each :class:`Perturbation` adds, for every
base speaker (real and synthetic), a speaker ``<spk>_p<name>`` reading the same utterances through
sox ``pitch <cents> tempo <factor>``; they are marked ``perturbed`` in ``speakers.tsv``. They are
not independent voices (same prosody and recording channel), so use them for scale, not to claim
more speakers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import random
import re
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from espnet2_tsdia.audio import tools as audio
from espnet2_tsdia.corpora.cli import CorpusCli
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import (
    c_sort_key,
    iter_lines,
    utt2spk_to_spk2utt,
    write_reco2dur,
    write_scp,
    write_spk2utt,
    write_utt2spk,
)
from espnet2_tsdia.utils.atomic import atomic_write_text
from espnet2_tsdia.utils.cli import str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

SAMPLE_RATE = 8000
#: Bump when the processing of an utterance changes: cached wav files are then rebuilt.
FORMAT_VERSION = 1
#: Where the Debian prompt packages put their files.
DEFAULT_SOUNDS_DIR = Path("/usr/share/asterisk/sounds")
#: Every Debian package the offline corpus and the installer use.
DEBIAN_PACKAGES = (
    "sox",
    "libsox-fmt-all",
    "flite",
    "ffmpeg",
    "asterisk-core-sounds-en-wav",
    "asterisk-core-sounds-fr-wav",
    "asterisk-core-sounds-it-wav",
    "asterisk-core-sounds-ru-wav",
    "asterisk-prompt-it-menardi-wav",
    "asterisk-prompt-es-co",
    "asterisk-prompt-fr-armelle",
)
APT_INSTALL = "sudo apt-get update && sudo apt-get install -y --no-install-recommends " + " ".join(DEBIAN_PACKAGES)

#: Prompts that are tones or sound effects, not speech (file name without extension).
NON_SPEECH_PROMPTS = frozenset(
    {"beep", "beeperr", "ascending-2tone", "descending-2tone", "confbridge-join", "confbridge-leave", "tt-monkeys"}
)
#: An utterance whose spectrum has more than this share of its energy in one peak is a tone.
MAX_TONE_RATIO = 0.95
#: Two utterances of equal length differing by at most this (int16 units, -60 dBFS) are duplicates.
DUPLICATE_TOLERANCE = 32
UNKNOWN_TEXT = "<unk>"
_NOISE_FLOOR_FILES = 40


# --------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class VoiceSource:
    """One base speaker and where its audio comes from.

    Args:
        speaker: the speaker id (short, lower case, sortable).
        package: the Debian package providing it.
        language: BCP-47 tag.
        sex: ``m`` or ``f`` (Kaldi spk2gender convention).
        kind: ``real`` (recorded) or ``synthetic`` (flite).
        fmt: ``wav`` or ``gsm`` (files under the sounds dir) or ``flite``.
        location: the folder under the sounds dir, or the flite voice name.
    """

    speaker: str
    package: str
    language: str
    sex: str
    kind: str
    fmt: str
    location: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.speaker):
            raise ValueError(f"speaker id must match [a-z][a-z0-9_]*, got {self.speaker!r}")
        if self.sex not in ("m", "f"):
            raise ValueError(f"sex must be 'm' or 'f', got {self.sex!r}")
        if self.kind not in ("real", "synthetic"):
            raise ValueError(f"kind must be 'real' or 'synthetic', got {self.kind!r}")
        if self.fmt not in ("wav", "gsm", "flite"):
            raise ValueError(f"fmt must be 'wav', 'gsm' or 'flite', got {self.fmt!r}")


SOURCES: Dict[str, VoiceSource] = {
    s.speaker: s
    for s in (
        VoiceSource(
            speaker="en_allison",
            package="asterisk-core-sounds-en-wav",
            language="en-US",
            sex="f",
            kind="real",
            fmt="wav",
            location="en_US_f_Allison",
        ),
        VoiceSource(
            speaker="es_july",
            package="asterisk-prompt-es-co",
            language="es-CO",
            sex="f",
            kind="real",
            fmt="gsm",
            location="es",
        ),
        VoiceSource(
            speaker="fr_armelle",
            package="asterisk-prompt-fr-armelle",
            language="fr-FR",
            sex="f",
            kind="real",
            fmt="gsm",
            location="fr",
        ),
        VoiceSource(
            speaker="fr_june",
            package="asterisk-core-sounds-fr-wav",
            language="fr-CA",
            sex="f",
            kind="real",
            fmt="wav",
            location="fr_CA_f_June",
        ),
        VoiceSource(
            speaker="it_carlo",
            package="asterisk-core-sounds-it-wav",
            language="it-IT",
            sex="m",
            kind="real",
            fmt="wav",
            location="it_IT_m_Carlo",
        ),
        VoiceSource(
            speaker="it_menardi",
            package="asterisk-prompt-it-menardi-wav",
            language="it-IT",
            sex="f",
            kind="real",
            fmt="wav",
            location="it_IT_f_Menardi",
        ),
        VoiceSource(
            speaker="ru_ivrvoice",
            package="asterisk-core-sounds-ru-wav",
            language="ru-RU",
            sex="f",
            kind="real",
            fmt="wav",
            location="ru_RU_f_IvrvoiceRU",
        ),
        VoiceSource(
            speaker="flite_awb",
            package="flite",
            language="en-GB",
            sex="m",
            kind="synthetic",
            fmt="flite",
            location="awb",
        ),
        VoiceSource(
            speaker="flite_kal",
            package="flite",
            language="en-US",
            sex="m",
            kind="synthetic",
            fmt="flite",
            location="kal",
        ),
        VoiceSource(
            speaker="flite_rms",
            package="flite",
            language="en-US",
            sex="m",
            kind="synthetic",
            fmt="flite",
            location="rms",
        ),
        VoiceSource(
            speaker="flite_slt",
            package="flite",
            language="en-US",
            sex="f",
            kind="synthetic",
            fmt="flite",
            location="slt",
        ),
    )
}


class MissingPackagesError(RuntimeError):
    """Sources asked for are not installed. ``packages`` lists the Debian packages to install."""

    def __init__(self, missing: Mapping[str, str], packages: Sequence[str], available: Sequence[str]):
        self.missing = dict(missing)
        self.packages = list(packages)
        self.available = list(available)
        lines = [f"  {spk}: {why}" for spk, why in sorted(self.missing.items())]
        avail = ", ".join(self.available) if self.available else "none"
        super().__init__(
            "offline speech sources are missing:\n"
            + "\n".join(lines)
            + f"\nInstall the Debian packages {' '.join(self.packages)} with:\n"
            + f"  sudo apt-get update && sudo apt-get install -y --no-install-recommends {' '.join(self.packages)}\n"
            + "(tools/install.sh installs all of them), or pass sources= a subset of the available ones: "
            + avail
        )


def _flite_voices() -> Tuple[str, ...]:
    exe = shutil.which("flite")
    if exe is None:
        return ()
    try:
        out = subprocess.run([exe, "-lv"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False).stdout
    except OSError:
        return ()
    text = out.decode("utf-8", "replace")
    return tuple(text.split(":", 1)[1].split()) if ":" in text else ()


def _source_files(src: VoiceSource, sounds_dir: Path) -> List[Path]:
    """The prompt files of a packaged source, sorted (C order of the relative path); no symlinked dirs."""
    root = sounds_dir / src.location
    suffix = "." + src.fmt
    found = []
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        found += [Path(dirpath) / f for f in filenames if f.endswith(suffix)]
    return sorted(found, key=lambda p: c_sort_key(p.relative_to(root).as_posix()))


def missing_sources(
    names: Optional[Iterable[str]] = None, *, sounds_dir: Optional[PathLike] = None, need_sox: bool = False
) -> Dict[str, str]:
    """Which of the sources ``names`` (default: all of :data:`SOURCES`) cannot be used here, and why.

    Returns ``{speaker: reason}``; a reason names the missing Debian package. With ``need_sox``
    (perturbation asked for), a missing sox is reported under the key ``sox``.
    """
    names = list(SOURCES) if names is None else list(names)
    _check_names(names)
    sdir = Path(sounds_dir) if sounds_dir is not None else DEFAULT_SOUNDS_DIR
    out: Dict[str, str] = {}
    has_sox = shutil.which("sox") is not None
    voices: Optional[Tuple[str, ...]] = None
    for name in names:
        src = SOURCES[name]
        if src.fmt == "flite":
            if voices is None:
                voices = _flite_voices()
            if shutil.which("flite") is None:
                out[name] = "package flite: command 'flite' not found in PATH"
            elif src.location not in voices:
                out[name] = f"package flite: voice {src.location!r} not listed by 'flite -lv' ({' '.join(voices)})"
        elif not _source_files(src, sdir):
            out[name] = f"package {src.package}: no *.{src.fmt} files under {sdir / src.location}"
        elif src.fmt == "gsm" and not has_sox:
            out[name] = "package sox: command 'sox' (needed to decode GSM) not found in PATH"
    if need_sox and not has_sox:
        out["sox"] = "package sox: command 'sox' (needed for perturbation) not found in PATH"
    return out


def available_sources(*, sounds_dir: Optional[PathLike] = None) -> List[str]:
    """The speaker ids of :data:`SOURCES` that can be built on this machine."""
    missing = missing_sources(sounds_dir=sounds_dir)
    return [s for s in SOURCES if s not in missing]


def _check_names(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise ValueError(f"unknown offline speech source(s) {unknown}; valid names: {sorted(SOURCES)}")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"sources listed more than once: {dup}")


# --------------------------------------------------------------------------- perturbation
@dataclass(frozen=True)
class Perturbation:
    """A pseudo-speaker made from every base speaker by sox ``pitch`` and ``tempo``.

    Args:
        name: lower-case letters and digits; the speaker becomes ``<spk>_p<name>``.
        pitch_cents: pitch shift in cents (100 = one semitone), within [-1200, 1200].
        tempo: speed factor keeping pitch, within [0.5, 2.0] (1.1 = 10 % faster, shorter).
    """

    name: str
    pitch_cents: float = 0.0
    tempo: float = 1.0

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9]{1,16}", self.name):
            raise ValueError(f"perturbation name must be 1-16 lower-case letters or digits, got {self.name!r}")
        if not (math.isfinite(self.pitch_cents) and -1200 <= self.pitch_cents <= 1200):
            raise ValueError(f"pitch_cents must be within [-1200, 1200], got {self.pitch_cents}")
        if not (math.isfinite(self.tempo) and 0.5 <= self.tempo <= 2.0):
            raise ValueError(f"tempo must be within [0.5, 2.0], got {self.tempo}")
        if self.pitch_cents == 0 and self.tempo == 1.0:
            raise ValueError(f"perturbation {self.name!r} changes nothing (pitch_cents=0, tempo=1.0)")

    @property
    def effects(self) -> Tuple[str, ...]:
        """The sox effect chain."""
        out: Tuple[str, ...] = ()
        if self.pitch_cents != 0:
            out += ("pitch", f"{self.pitch_cents:g}")
        if self.tempo != 1.0:
            out += ("tempo", f"{self.tempo:g}")
        return out

    def speaker(self, base: str) -> str:
        return f"{base}_p{self.name}"

    @classmethod
    def parse(cls, spec: str) -> "Perturbation":
        """Parse ``name:cents:tempo`` (e.g. ``up:200:1.0``)."""
        parts = spec.split(":")
        if len(parts) != 3:
            raise ValueError(f"expected a perturbation as 'name:cents:tempo' (e.g. 'up:200:1.0'), got {spec!r}")
        try:
            cents, tempo = float(parts[1]), float(parts[2])
        except ValueError:
            raise ValueError(f"cents and tempo must be numbers in {spec!r} ('name:cents:tempo')") from None
        return cls(name=parts[0], pitch_cents=cents, tempo=tempo)


# --------------------------------------------------------------------------- flite text
_SUBJECTS = (
    "the old fisherman",
    "my younger sister",
    "a tired engineer",
    "the village baker",
    "our new neighbour",
    "the quiet librarian",
    "a young doctor",
    "the train driver",
    "his best friend",
    "the school teacher",
    "a clever student",
    "the night nurse",
    "her grandfather",
    "the museum guide",
    "a busy waiter",
    "the farmer next door",
    "the team captain",
    "a famous painter",
    "the local mechanic",
    "my uncle",
    "the harbour master",
    "a shy musician",
    "the postman",
    "the hotel manager",
)
_VERBS = (
    "carried",
    "painted",
    "repaired",
    "found",
    "described",
    "sold",
    "borrowed",
    "photographed",
    "cleaned",
    "ordered",
    "forgot",
    "returned",
    "measured",
    "delivered",
    "wrapped",
    "admired",
    "opened",
    "hid",
    "counted",
    "brought",
    "checked",
    "lost",
    "moved",
    "mentioned",
)
_OBJECTS = (
    "a wooden chair",
    "the broken clock",
    "three green apples",
    "an old map of the city",
    "the heavy suitcase",
    "a letter from abroad",
    "the blue bicycle",
    "a basket of fresh bread",
    "the silver key",
    "a box of matches",
    "the kitchen window",
    "twelve paper lanterns",
    "a jar of honey",
    "the red umbrella",
    "an envelope full of photographs",
    "the garden gate",
    "a pair of leather boots",
    "the winter coat",
    "seven glass bottles",
    "the church bell",
    "a long wooden ladder",
    "the last train ticket",
    "a bag of warm chestnuts",
    "the tall lamp",
)
_ADVERBIALS = (
    "before the storm arrived",
    "early on Monday morning",
    "after a long day at work",
    "in the middle of the night",
    "near the harbour",
    "without saying a word",
    "while the kettle was boiling",
    "on the way to the station",
    "just after lunch",
    "during the summer holidays",
    "behind the old mill",
    "at the end of the market",
    "as the sun went down",
    "in front of the town hall",
    "for the second time this week",
    "under the bright stars",
    "on a cold and windy afternoon",
    "beside the frozen lake",
    "before anyone noticed",
    "at half past seven",
    "in the crowded square",
    "with great care",
    "after the concert",
    "next to the bakery",
)
_TEMPLATES = (
    "{S} {V} {O} {A}.",
    "{A}, {S} {V} {O}.",
    "Nobody expected that {s} {V} {O} {A}.",
    "Do you remember when {s} {V} {O}?",
    "{S} {V} {O}, and then {s2} {V2} {O2}.",
    "I was told that {s} {V} {O} {A}.",
    "Why do you think {s} {V} {O} {A}?",
    "{S} said that {s2} {V2} {O} {A}.",
)


def flite_sentences(n: int, *, voice: str = "") -> List[str]:
    """``n`` English sentences for a synthetic voice, from a small built-in grammar.

    Sentence ``k`` of a voice depends only on ``(voice, k)``, so a longer list extends a shorter
    one. Different voices read different sentences.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    out = []
    for k in range(n):
        rng = random.Random(f"flite-sentence:{voice}:{k}")
        s, s2 = rng.sample(_SUBJECTS, 2)
        v, v2 = rng.sample(_VERBS, 2)
        o, o2 = rng.sample(_OBJECTS, 2)
        text = rng.choice(_TEMPLATES).format(S=s, s=s, s2=s2, V=v, V2=v2, O=o, O2=o2, A=rng.choice(_ADVERBIALS))
        out.append(text[0].upper() + text[1:])
    return out


# --------------------------------------------------------------------------- report
@dataclass(frozen=True)
class SpeakerInfo:
    """One line of ``speakers.tsv``."""

    speaker: str
    source: str
    language: str
    sex: str
    n_utts: int
    seconds: float
    kind: str


SPEAKERS_TSV_FIELDS = ("speaker", "source", "language", "sex", "n_utts", "seconds", "kind")


@dataclass(frozen=True)
class Skipped:
    """An utterance examined and not taken, with the reason."""

    utt: str
    source: str
    reason: str


@dataclass(frozen=True)
class OfflineSpeechReport:
    """What :func:`prepare_offline_speech` built.

    ``n_created`` wav files were written by this run and ``n_reused`` found from an earlier one.
    """

    out_dir: Path
    data_dir: Path
    speakers: Tuple[SpeakerInfo, ...]
    skipped: Tuple[Skipped, ...]
    n_created: int
    n_reused: int
    elapsed_s: float

    @property
    def n_speakers(self) -> int:
        return len(self.speakers)

    @property
    def n_utts(self) -> int:
        return sum(s.n_utts for s in self.speakers)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.speakers)

    def summary(self) -> str:
        kinds = {}
        for s in self.speakers:
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
        kind_text = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
        reasons: Dict[str, int] = {}
        for sk in self.skipped:
            key = sk.reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        lines = [
            f"{self.n_speakers} speakers ({kind_text}), {self.n_utts} utterances, "
            f"{self.seconds / 3600:.2f} h in {self.data_dir}",
            f"wav files: {self.n_created} written, {self.n_reused} reused; {self.elapsed_s:.1f} s",
            f"skipped {len(self.skipped)}: " + (", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "none"),
        ]
        for s in self.speakers:
            lines.append(
                f"  {s.speaker:<22} {s.kind:<9} {s.language:<5} {s.sex} {s.n_utts:5d} utts {s.seconds / 60:6.1f} min"
            )
        return "\n".join(lines)


def read_speakers_tsv(path: PathLike) -> List[SpeakerInfo]:
    """Read ``speakers.tsv`` (a header line, then one speaker per line, tab separated)."""
    out = []
    lines = list(iter_lines(path))
    if not lines or tuple(lines[0][1].split("\t")) != SPEAKERS_TSV_FIELDS:
        got = lines[0][1] if lines else "(empty file)"
        raise DataFormatError(path, 1, f"expected the header {chr(9).join(SPEAKERS_TSV_FIELDS)!r}, got {got!r}")
    for n, line in lines[1:]:
        f = line.split("\t")
        if len(f) != len(SPEAKERS_TSV_FIELDS):
            raise DataFormatError(path, n, f"expected {len(SPEAKERS_TSV_FIELDS)} tab-separated fields, got {len(f)}")
        try:
            out.append(SpeakerInfo(f[0], f[1], f[2], f[3], int(f[4]), float(f[5]), f[6]))
        except ValueError:
            raise DataFormatError(
                path, n, f"n_utts must be an integer and seconds a number, got {f[4]!r} {f[5]!r}"
            ) from None
    return out


# --------------------------------------------------------------------------- jobs (run in workers)
@dataclass(frozen=True)
class _Job:
    utt: str
    fmt: str  # wav | gsm | flite | perturb
    src: str  # source file, flite voice, or the base utterance's wav
    out: str
    text: str = ""
    effects: Tuple[str, ...] = ()
    noise_dbfs: Optional[float] = None


@dataclass(frozen=True)
class _Result:
    utt: str
    status: str  # created | reused | nonspeech | failed
    n_samples: int = 0
    digest: str = ""
    reason: str = ""


def _load(job: _Job) -> np.ndarray:
    """The job's audio at 8 kHz, int16 or float."""
    if job.fmt == "wav":
        x, sr = audio.read_wav_int16(job.src)
        return x if sr == SAMPLE_RATE else audio.sox_decode(job.src, sample_rate=SAMPLE_RATE)
    if job.fmt == "gsm":
        return audio.sox_decode(job.src, sample_rate=SAMPLE_RATE)
    if job.fmt == "perturb":
        x, _ = audio.read_wav_int16(job.src)
        return audio.sox_effects(x, SAMPLE_RATE, job.effects, what=job.src)
    if job.fmt == "flite":
        from math import gcd

        from scipy.signal import resample_poly

        out = Path(job.out)
        tmp = out.with_name(f".{out.stem}.flite.wav")
        try:
            audio.run_tool(
                [audio.require_tool("flite", package="flite"), "-voice", job.src, "-t", job.text, "-o", str(tmp)],
                what=f"flite voice {job.src}",
            )
            x, sr = audio.read_wav_int16(tmp)
        finally:
            tmp.unlink(missing_ok=True)
        if sr == SAMPLE_RATE:
            return x
        g = gcd(sr, SAMPLE_RATE)
        return resample_poly(audio.to_float(x), SAMPLE_RATE // g, sr // g)
    raise ValueError(f"unknown job format {job.fmt!r}")


def _digest(x: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(x, dtype="<i2").tobytes()).hexdigest()


def _run_job(job: _Job) -> _Result:
    out = Path(job.out)
    if out.exists():
        try:
            x, sr = audio.read_wav_int16(out)
            problem = "" if sr == SAMPLE_RATE and len(x) > 0 else f"sample rate {sr}, {len(x)} samples"
        except (RuntimeError, ValueError) as e:  # soundfile's errors are RuntimeError subclasses
            problem = str(e)
        if not problem:
            return _Result(job.utt, "reused", len(x), _digest(x))
        logger.warning("rebuilding %s (%s; expected a non-empty 8 kHz mono wav)", out, problem)
    try:
        x = _load(job)
    except (RuntimeError, ValueError, OSError) as e:
        return _Result(job.utt, "failed", reason=f"decoding failed: {e}")
    y = audio.remove_dc(x, SAMPLE_RATE)
    start, end = audio.speech_bounds(y, SAMPLE_RATE, noise_dbfs=job.noise_dbfs)
    if end <= start:
        return _Result(job.utt, "nonspeech", reason="no speech: nothing above the noise floor")
    y = y[start:end]
    ratio = audio.tone_ratio(y, SAMPLE_RATE)
    if ratio > MAX_TONE_RATIO:
        return _Result(job.utt, "nonspeech", reason=f"non-speech: a tone ({ratio:.0%} of the energy in one peak)")
    z = audio.to_int16(y)
    audio.write_wav_int16(out, z, SAMPLE_RATE)
    return _Result(job.utt, "created", len(z), _digest(z))


class _Runner:
    """Runs jobs inline (nj=1) or in a process pool."""

    def __init__(self, nj: int):
        self.nj = nj
        self.pool: Optional[ProcessPoolExecutor] = None

    def __call__(self, jobs: Sequence[_Job]) -> List[_Result]:
        if self.nj == 1 or len(jobs) < 2:
            return [_run_job(j) for j in jobs]
        if self.pool is None:
            self.pool = ProcessPoolExecutor(max_workers=self.nj)
        chunk = max(1, len(jobs) // (self.nj * 8))
        return list(self.pool.map(_run_job, jobs, chunksize=chunk))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


# --------------------------------------------------------------------------- planning
@dataclass
class _Speaker:
    """Selection state of one speaker."""

    speaker: str
    source: str
    language: str
    sex: str
    kind: str
    order: List[Tuple[_Job, str]]  # (job, reason to skip without processing, or "")
    pos: int = 0
    accepted: List[Tuple[_Job, int]] = field(default_factory=list)  # (job, n_samples)

    @property
    def seconds(self) -> float:
        return sum(n for _, n in self.accepted) / SAMPLE_RATE


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _utt_suffix(rel: Path) -> str:
    return _UNSAFE.sub("_", "_".join(rel.with_suffix("").parts))


def _prepare_speaker_dir(wav_dir: Path, config: Mapping[str, object]) -> Optional[dict]:
    """Create ``wav_dir``, drop leftovers of interrupted writes; rebuild when made from something else.

    Returns the stored config when it matches ``config`` (so cached values such as the noise floor
    are reused), else None after removing the old wav files.
    """
    wav_dir.mkdir(parents=True, exist_ok=True)
    for tmp in list(wav_dir.glob(".*.tmp")) + list(wav_dir.glob(".*.flite.wav")):
        tmp.unlink(missing_ok=True)
    cfg_path = wav_dir / ".config.json"
    if cfg_path.exists():
        try:
            stored = json.loads(cfg_path.read_text(encoding="utf-8"))
        except ValueError:
            stored = None
        if isinstance(stored, dict) and stored.get("key") == config:
            return stored
        old = list(wav_dir.glob("*.wav"))
        if old:
            logger.warning("%s was made from other settings: removing its %d wav files", wav_dir, len(old))
        for p in old:
            p.unlink()
    return None


def _write_config(wav_dir: Path, key: Mapping[str, object], **values: object) -> None:
    text = json.dumps({"key": key, **values}, indent=1, sort_keys=True) + "\n"
    _write_if_changed(wav_dir / ".config.json", text)


def _write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` atomically unless ``path`` already holds it; returns whether it wrote."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    atomic_write_text(path, text)
    return True


def _noise_floor(src: VoiceSource, files: Sequence[Path]) -> float:
    step = max(1, len(files) // _NOISE_FLOOR_FILES)
    signals = []
    for f in list(files)[::step][:_NOISE_FLOOR_FILES]:
        try:
            x = _load(_Job(utt="", fmt=src.fmt, src=str(f), out=""))
        except (RuntimeError, ValueError, OSError):
            continue
        signals.append(audio.remove_dc(x, SAMPLE_RATE))
    return audio.noise_floor_dbfs(signals, SAMPLE_RATE)


def _plan_source(
    src: VoiceSource, wav_root: Path, sounds_dir: Path, seed: int, flite_utts_per_voice: int
) -> Tuple[_Speaker, Dict[str, str]]:
    """The speaker's candidate jobs in visiting order, and the text of each utterance."""
    spk = src.speaker
    wav_dir = wav_root / spk
    text: Dict[str, str] = {}
    order: List[Tuple[_Job, str]] = []
    if src.fmt == "flite":
        key = {"version": FORMAT_VERSION, "source": asdict(src)}
        _prepare_speaker_dir(wav_dir, key)
        _write_config(wav_dir, key)
        for k, sentence in enumerate(flite_sentences(flite_utts_per_voice, voice=src.location)):
            utt = f"{spk}-s{k:04d}"
            text[utt] = sentence
            order.append((_Job(utt, "flite", src.location, str(wav_dir / f"{utt}.wav"), text=sentence), ""))
    else:
        root = sounds_dir / src.location
        files = _source_files(src, sounds_dir)
        key = {"version": FORMAT_VERSION, "source": asdict(src), "root": str(root)}
        stored = _prepare_speaker_dir(wav_dir, key)
        speech_files = []
        seen: Dict[str, Path] = {}
        for f in files:
            rel = f.relative_to(root)
            utt = f"{spk}-{_utt_suffix(rel)}"
            if utt in seen:
                raise ValueError(f"{f} and {seen[utt]} both map to utterance id {utt!r}; rename one")
            seen[utt] = f
            text[utt] = UNKNOWN_TEXT
            reason = ""
            if rel.parts[0] == "silence":
                reason = "non-speech: a silence/ prompt"
            elif rel.with_suffix("").name in NON_SPEECH_PROMPTS:
                reason = "non-speech: a tone or sound-effect prompt (by name)"
            else:
                speech_files.append(f)
            order.append((_Job(utt, src.fmt, str(f), str(wav_dir / f"{utt}.wav")), reason))
        if stored is not None and isinstance(stored.get("noise_dbfs"), (int, float)):
            noise = float(stored["noise_dbfs"])
        else:
            noise = _noise_floor(src, speech_files)
            logger.info("%s: noise floor %.1f dBFS", spk, noise)
        _write_config(wav_dir, key, noise_dbfs=noise)
        order = [(j if r else _with(j, noise_dbfs=noise), r) for j, r in order]
    random.Random(f"offline-speech:{seed}:{spk}").shuffle(order)
    return _Speaker(spk, src.package, src.language, src.sex, src.kind, order), text


def _with(job: _Job, **changes: object) -> _Job:
    d = asdict(job)
    d.update(changes)
    d["effects"] = tuple(d["effects"])
    return _Job(**d)


# --------------------------------------------------------------------------- main function
def prepare_offline_speech(
    out_dir: PathLike,
    *,
    sources: Optional[Sequence[str]] = None,
    max_utts_per_speaker: Optional[int] = None,
    max_seconds_per_speaker: Optional[float] = None,
    min_duration: float = 0.5,
    perturb: Sequence[Perturbation] = (),
    nj: int = 1,
    seed: int = 0,
    flite_utts_per_voice: int = 300,
    sounds_dir: Optional[PathLike] = None,
) -> OfflineSpeechReport:
    """Build (or complete) the offline speech corpus in ``out_dir``; see the module docstring.

    Args:
        out_dir: output folder (created).
        sources: base speaker ids from :data:`SOURCES`; None takes all, and raises
            :class:`MissingPackagesError` when any is not installed.
        max_utts_per_speaker: take at most this many utterances per base speaker (None: all).
        max_seconds_per_speaker: stop taking a speaker's utterances once they reach this many
            seconds (None: no limit). With both limits, the first reached stops.
        min_duration: utterances shorter than this (seconds, after trimming) are skipped.
        perturb: pseudo-speakers to add (an option; none by default).
        nj: parallel processes.
        seed: shuffles the order in which each speaker's prompts are taken.
        flite_utts_per_voice: sentences synthesised per flite voice (about 3 s each).
        sounds_dir: where the prompt packages are (default ``/usr/share/asterisk/sounds``).

    Raises:
        ValueError: bad arguments (unknown source names, limits < 1, ...).
        MissingPackagesError: a source asked for is not installed; the message names the
            Debian packages and the ``apt-get`` line.
    """
    t0 = time.perf_counter()
    names = list(SOURCES) if sources is None else list(sources)
    _check_names(names)
    if not names:
        raise ValueError("sources is empty; name at least one of " + ", ".join(SOURCES))
    if max_utts_per_speaker is not None and max_utts_per_speaker < 1:
        raise ValueError(f"max_utts_per_speaker must be >= 1 or None, got {max_utts_per_speaker}")
    if max_seconds_per_speaker is not None and not max_seconds_per_speaker > 0:
        raise ValueError(f"max_seconds_per_speaker must be > 0 or None, got {max_seconds_per_speaker}")
    if not (min_duration >= 0 and math.isfinite(min_duration)):
        raise ValueError(f"min_duration must be >= 0 seconds, got {min_duration}")
    if nj < 1:
        raise ValueError(f"nj must be >= 1, got {nj}")
    if flite_utts_per_voice < 1:
        raise ValueError(f"flite_utts_per_voice must be >= 1, got {flite_utts_per_voice}")
    perturb = tuple(perturb)
    for p in perturb:
        if not isinstance(p, Perturbation):
            raise ValueError(f"perturb must hold Perturbation objects, got {p!r}")
    pnames = [p.name for p in perturb]
    if len(set(pnames)) != len(pnames):
        raise ValueError(f"perturbation names must be unique, got {pnames}")
    sdir = Path(sounds_dir) if sounds_dir is not None else DEFAULT_SOUNDS_DIR

    missing = missing_sources(names, sounds_dir=sdir, need_sox=bool(perturb))
    if missing:
        packages = sorted({why.split(":")[0].split()[1] for why in missing.values()}, key=DEBIAN_PACKAGES.index)
        avail = [n for n in SOURCES if n not in missing_sources(sounds_dir=sdir)]
        raise MissingPackagesError(missing, packages, avail)

    out_dir = Path(out_dir).resolve()
    wav_root = out_dir / "wav"
    wav_root.mkdir(parents=True, exist_ok=True)
    min_samples = _min_samples(min_duration)

    speakers: Dict[str, _Speaker] = {}
    text: Dict[str, str] = {}
    for name in sorted(names, key=c_sort_key):
        st, t = _plan_source(SOURCES[name], wav_root, sdir, seed, flite_utts_per_voice)
        speakers[name] = st
        text.update(t)

    skipped: List[Skipped] = []
    counts = {"created": 0, "reused": 0}
    runner = _Runner(nj)
    try:
        _select(speakers, runner, min_duration, max_utts_per_speaker, max_seconds_per_speaker, skipped, counts)
        for p in perturb:
            for base in list(sorted(speakers, key=c_sort_key)):
                if base not in names:
                    continue
                pst, ptext = _perturbed(speakers[base], p, wav_root, text)
                text.update(ptext)
                results = runner([j for j, _ in pst.order])
                for (job, _), res in zip(pst.order, results, strict=True):
                    counts[res.status] = counts.get(res.status, 0) + 1
                    if res.status not in ("created", "reused"):
                        skipped.append(Skipped(job.utt, job.src, res.reason))
                    elif res.n_samples < min_samples:
                        skipped.append(Skipped(job.utt, job.src, _too_short(res.n_samples, min_duration)))
                    else:
                        pst.accepted.append((job, res.n_samples))
                speakers[pst.speaker] = pst
    finally:
        runner.close()

    data_dir = out_dir / "data"
    infos = _write_outputs(out_dir, data_dir, speakers, text, skipped)
    report = OfflineSpeechReport(
        out_dir=out_dir,
        data_dir=data_dir,
        speakers=tuple(infos),
        skipped=tuple(sorted(skipped, key=lambda s: c_sort_key(s.utt))),
        n_created=counts["created"],
        n_reused=counts["reused"],
        elapsed_s=time.perf_counter() - t0,
    )
    summary = report.summary().splitlines()
    logger.info("offline speech corpus: %s", "; ".join(summary[:3]))
    logger.debug("per speaker:\n%s", "\n".join(summary[3:]))
    return report


def _min_samples(min_duration: float) -> int:
    return int(math.ceil(min_duration * SAMPLE_RATE - 1e-9))


def _too_short(n: int, min_duration: float) -> str:
    return f"too short: {n / SAMPLE_RATE:.2f} s after trimming < min_duration {min_duration:g} s"


def _select(
    speakers: Dict[str, _Speaker],
    runner: _Runner,
    min_duration: float,
    max_utts: Optional[int],
    max_seconds: Optional[float],
    skipped: List[Skipped],
    counts: Dict[str, int],
) -> None:
    """Process each speaker's candidates in rounds until its limits are met or it runs out."""
    min_samples = _min_samples(min_duration)

    def satisfied(st: _Speaker) -> bool:
        return (max_utts is not None and len(st.accepted) >= max_utts) or (
            max_seconds is not None and st.seconds >= max_seconds
        )

    def want(st: _Speaker) -> int:
        k = len(st.order)
        if max_utts is not None:
            k = min(k, max_utts - len(st.accepted))
        if max_seconds is not None:
            # guess from the mean length taken so far; a first round of at most 16 probes it
            mean = st.seconds / len(st.accepted) if st.accepted else None
            guess = math.ceil((max_seconds - st.seconds) / (mean or 2.5))
            k = min(k, max(1, guess if mean else min(guess, 16)))
        return k

    owner: Dict[str, str] = {}  # digest -> utt
    by_len: Dict[int, List[str]] = {}  # n_samples -> accepted utts (near-duplicate check)
    out_path: Dict[str, str] = {}
    round_no = 0
    while True:
        batch: List[Tuple[_Speaker, _Job]] = []
        for name in sorted(speakers, key=c_sort_key):
            st = speakers[name]
            k = want(st) if not satisfied(st) else 0
            taken = 0
            while taken < k and st.pos < len(st.order):
                job, reason = st.order[st.pos]
                st.pos += 1
                if reason:
                    skipped.append(Skipped(job.utt, job.src, reason))
                else:
                    batch.append((st, job))
                    taken += 1
        if not batch:
            break
        round_no += 1
        results = runner([j for _, j in batch])
        for (st, job), res in zip(batch, results, strict=True):
            counts[res.status] = counts.get(res.status, 0) + 1
            if res.status not in ("created", "reused"):
                skipped.append(Skipped(job.utt, job.src, res.reason))
                continue
            if res.n_samples < min_samples:
                skipped.append(Skipped(job.utt, job.src, _too_short(res.n_samples, min_duration)))
                continue
            dup = owner.get(res.digest) or _near_duplicate(job.out, res.n_samples, by_len, out_path)
            if dup:
                skipped.append(Skipped(job.utt, job.src, f"duplicate: same audio as {dup}"))
                continue
            if satisfied(st):
                continue  # processed in the same round as the last needed one; cached, not taken
            st.accepted.append((job, res.n_samples))
            owner[res.digest] = job.utt
            by_len.setdefault(res.n_samples, []).append(job.utt)
            out_path[job.utt] = job.out
        logger.info(
            "selection round %d: %d processed, %s",
            round_no,
            len(batch),
            ", ".join(f"{s.speaker} {len(s.accepted)}" for s in speakers.values()),
        )


def _near_duplicate(path: str, n: int, by_len: Dict[int, List[str]], out_path: Dict[str, str]) -> Optional[str]:
    others = by_len.get(n)
    if not others:
        return None
    x = audio.read_wav_int16(path)[0].astype(np.int32)
    for utt in others:
        y = audio.read_wav_int16(out_path[utt])[0].astype(np.int32)
        if np.abs(x - y).max() <= DUPLICATE_TOLERANCE:
            return utt
    return None


def _perturbed(
    base: _Speaker, p: Perturbation, wav_root: Path, text: Mapping[str, str]
) -> Tuple[_Speaker, Dict[str, str]]:
    spk = p.speaker(base.speaker)
    wav_dir = wav_root / spk
    base_cfg = json.loads((wav_root / base.speaker / ".config.json").read_text(encoding="utf-8"))
    key = {"version": FORMAT_VERSION, "base": base_cfg["key"], "effects": list(p.effects)}
    _prepare_speaker_dir(wav_dir, key)
    _write_config(wav_dir, key)
    noise = base_cfg.get("noise_dbfs")
    order, ptext = [], {}
    for job, _ in base.accepted:
        utt = spk + job.utt[len(base.speaker) :]
        ptext[utt] = text[job.utt]
        pj = _Job(utt, "perturb", job.out, str(wav_dir / f"{utt}.wav"), effects=p.effects, noise_dbfs=noise)
        order.append((pj, ""))
    source = f"{base.source}+sox:{' '.join(p.effects)}"
    return _Speaker(spk, source, base.language, base.sex, "perturbed", order), ptext


def _write_outputs(
    out_dir: Path, data_dir: Path, speakers: Mapping[str, _Speaker], text: Mapping[str, str], skipped: Sequence[Skipped]
) -> List[SpeakerInfo]:
    """Write the Kaldi dir, speakers.tsv and skipped.tsv; files whose content is unchanged are left alone."""
    wav_scp: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    utt2dur: Dict[str, float] = {}
    utt_text: Dict[str, str] = {}
    infos = []
    for name in sorted(speakers, key=c_sort_key):
        st = speakers[name]
        for job, n in st.accepted:
            wav_scp[job.utt] = job.out
            utt2spk[job.utt] = name
            utt2dur[job.utt] = n / SAMPLE_RATE
            utt_text[job.utt] = text.get(job.utt, UNKNOWN_TEXT)
        if st.accepted:
            infos.append(SpeakerInfo(name, st.source, st.language, st.sex, len(st.accepted), st.seconds, st.kind))
    if not wav_scp:
        raise ValueError(f"no utterance was taken for {out_dir}: see the skipped list (min_duration too large?)")
    spk2gender = {i.speaker: i.sex for i in infos}

    stage = out_dir / ".data.tmp"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    write_scp(stage / "wav.scp", wav_scp)
    write_utt2spk(stage / "utt2spk", utt2spk)
    write_spk2utt(stage / "spk2utt", utt2spk_to_spk2utt(utt2spk))
    write_reco2dur(stage / "utt2dur", utt2dur)
    write_scp(stage / "text", utt_text)
    write_scp(stage / "spk2gender", spk2gender)
    rows = ["\t".join(SPEAKERS_TSV_FIELDS)]
    rows += [
        "\t".join([i.speaker, i.source, i.language, i.sex, str(i.n_utts), f"{i.seconds:.3f}", i.kind]) for i in infos
    ]
    (stage / "speakers.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    data_dir.mkdir(parents=True, exist_ok=True)
    for f in sorted(stage.iterdir()):
        _write_if_changed(data_dir / f.name, f.read_text(encoding="utf-8"))
    shutil.rmtree(stage)
    sk = sorted(skipped, key=lambda s: c_sort_key(s.utt))
    _write_if_changed(
        out_dir / "skipped.tsv", "utt\tsource\treason\n" + "".join(f"{s.utt}\t{s.source}\t{s.reason}\n" for s in sk)
    )
    return infos


# --------------------------------------------------------------------------- command line
def _perturbations(text: str) -> List[Perturbation]:
    try:
        return [Perturbation.parse(p) for p in str_list(text)]
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sources", type=str_list, default=[], help="base speaker ids (default: all; see the sources action)"
    )
    p.add_argument("--max_utts_per_speaker", type=int, default=None, help="at most N utterances per speaker")
    p.add_argument("--max_seconds_per_speaker", type=float, default=None, help="stop a speaker at this many seconds")
    p.add_argument("--min_duration", type=float, default=0.5, help="skip utterances shorter than this (s)")
    p.add_argument(
        "--perturb",
        type=_perturbations,
        default=[],
        help="pseudo-speakers <spk>_p<NAME> by sox pitch/tempo, 'NAME:CENTS:TEMPO ...', e.g. 'up:200:1.0'",
    )
    p.add_argument("--nj", type=int, default=1, help="parallel processes")
    p.add_argument("--seed", type=int, default=0, help="order in which each speaker's prompts are taken")
    p.add_argument("--flite_utts_per_voice", type=int, default=300, help="sentences per flite voice")
    p.add_argument("--sounds_dir", default=None, help="prompt folder (default /usr/share/asterisk/sounds)")


def _prepare(a: argparse.Namespace) -> Dict[str, str]:
    report = prepare_offline_speech(
        a.out_dir,
        sources=a.sources or None,
        max_utts_per_speaker=a.max_utts_per_speaker,
        max_seconds_per_speaker=a.max_seconds_per_speaker,
        min_duration=a.min_duration,
        perturb=a.perturb,
        nj=a.nj,
        seed=a.seed,
        flite_utts_per_voice=a.flite_utts_per_voice,
        sounds_dir=a.sounds_dir,
    )
    return {"data": report.summary()}


def _list_sources(a: argparse.Namespace) -> None:
    """Print each source: name, Debian package, language, sex, kind, and whether it can be built here."""
    missing = missing_sources(sounds_dir=a.sounds_dir)
    for name, src in SOURCES.items():
        state = "missing (" + missing[name] + ")" if name in missing else "available"
        print(f"{name}\t{src.package}\t{src.language}\t{src.sex}\t{src.kind}\t{state}")


CLI = CorpusCli(
    summary="offline speech: speaker-labelled 8 kHz speech from Debian packages, no download",
    add_arguments=_add_arguments,
    prepare=_prepare,
    data_dirs=lambda a: ["data"],
    validation=lambda a: {"expected_fs": SAMPLE_RATE, "global_speakers": True},
    needs_corpus_dir=False,
    out_dir_help="where the corpus is built: wav/ (the audio) and data/ (its data dir)",
    actions={"sources": _list_sources},
)
