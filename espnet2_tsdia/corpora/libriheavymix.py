"""LibriheavyMix (Jin et al., Interspeech 2024): simulated far-field mixtures of 1-4 Libriheavy speakers.

Published on the HuggingFace hub as one dataset repo per part (``zrjin/LibriheavyMix-dev``,
``-test``, ``-small``, ``-medium``, ``-large``). Each holds lhotse cut manifests
(``lsheavymix_cuts_<set>[_<variant>].jsonl.gz``: at the top, in ``<part>-lhotse/`` and, for the
turn-taking mixtures, ``<part>-mtt-lhotse/``; variants such as ``_snr_aug_mono_rir``) and, per
set, a folder with the rendered mixtures (``audio.tar.gz``, ``audio_anechoic.tar.gz``), the clean
sources (``src.tar.gz``) and Kaldi-style lists (``wav.scp``, ``text``, ``spk<k>.scp``, ...).
Sets: ``dev_{2,3,4}spk``, ``test-clean_{2,3,4}spk``, ``test-other_{2,3,4}spk`` and the training
parts ``small``, ``medium``, ``large``. Layout under ``corpus_dir`` (the recipe's
``$LIBRIHEAVYMIX``; one ``hf download --repo-type dataset zrjin/LibriheavyMix-<part>
--local-dir LibriheavyMix-<part>`` per part, then the audio archives extracted in place)::

    LibriheavyMix-<part>/lsheavymix_cuts_<set>.jsonl.gz         (or in <part>-lhotse/, <part>-mtt-lhotse/)
    LibriheavyMix-<part>/<set>/audio/.../<cut id>.{flac,wav}     the mixtures (audio.tar.gz extracted)
    LibriheavyMix-<part>/<set>/audio_anechoic/.../<cut id>.*     without reverberation (``condition="anechoic"``)
    LibriheavyMix-<part>/audio/.../<cut id>.*                    the training parts (no <set> folder)

Speaker labels come from the manifest through lhotse: ``cut.supervisions`` gives every
supervision of a cut in cut time, with the mixing offsets of a ``MixedCut``'s tracks applied
(one track per speaker), so a turn is ``(cut id, start, end, supervision.speaker)``. Speaker ids
are Libriheavy's (LibriVox readers), global across mixtures. The recording of a cut is its
rendered mixture: the audio file named after the cut id, or (a ``MonoCut``) after its
recording's source file, found anywhere under the set's audio folder. Supervisions are whole
Libriheavy utterances, so a speaker's pauses inside an utterance count as speech.

What public code did not pin down (checked here against lhotse's own manifest classes, not the
release files): the folder names inside ``audio.tar.gz`` (hence the search by file name), whether
every variant's cuts are ``MixedCut`` (tracks with offsets) or ``MonoCut`` (recording + supervisions;
both are read), and the paper's scoring collar (the recipe scores with collar 0, overlap
scored). Data dirs ``libriheavymix_<set>`` (``-`` becomes ``_``).
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from espnet2_tsdia.corpora.cli import CorpusCli, summarize
from espnet2_tsdia.corpora.common import (
    MissingAudioError,
    audio_header,
    clip_to_windows,
    wav_entry,
    whole_file_uem,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.formats.uem import UemSegment
from espnet2_tsdia.utils.cli import str2bool, str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

EVAL_SETS = tuple(f"{p}_{n}spk" for p in ("dev", "test-clean", "test-other") for n in (2, 3, 4))
TRAIN_SETS = ("small", "medium", "large")
#: what the recipe prepares by default: the 100-hour training part and every dev/test set
DEFAULT_SETS = ("small",) + EVAL_SETS
CONDITIONS = ("reverberant", "anechoic")
AUDIO_SUFFIXES = (".flac", ".wav")
_SET = re.compile(r"^(?P<part>dev|test-clean|test-other)_(?P<n>[1-4])spk$")


def part_of(set_name: str) -> str:
    """The hub repo part of a set: ``test-clean_2spk`` -> ``test``; ``small`` -> ``small``."""
    if set_name in TRAIN_SETS:
        return set_name
    m = _SET.match(set_name)
    if m is None:
        raise ValueError(f"unknown LibriheavyMix set {set_name!r}; expected one of {', '.join(TRAIN_SETS + EVAL_SETS)}")
    return m.group("part").split("-")[0]


def dir_name(set_name: str) -> str:
    """``libriheavymix_test_clean_2spk`` for ``test-clean_2spk``."""
    return "libriheavymix_" + set_name.replace("-", "_")


def repo_dir(corpus_dir: Path, set_name: str) -> Path:
    """``corpus_dir/LibriheavyMix-<part>``, or ``corpus_dir`` itself (one part downloaded there)."""
    d = corpus_dir / f"LibriheavyMix-{part_of(set_name)}"
    return d if d.is_dir() else corpus_dir


def find_manifest(repo: Path, set_name: str, *, variant: str = "", manifest_dir: Optional[str] = None) -> Path:
    """The cuts manifest of a set: at the top of the part's folder, else in ``<part>-lhotse/``,
    else in ``<part>-mtt-lhotse/`` (or only in ``manifest_dir`` when given).

    Raises:
        FileNotFoundError: none found (the message lists where it looked).
    """
    name = f"lsheavymix_cuts_{set_name}{variant}.jsonl.gz"
    part = part_of(set_name)
    places = [repo / manifest_dir] if manifest_dir else [repo, repo / f"{part}-lhotse", repo / f"{part}-mtt-lhotse"]
    for d in places:
        if (d / name).is_file():
            return d / name
    raise FileNotFoundError(
        f"{name}: LibriheavyMix manifest not found in {', '.join(str(d) for d in places)}; download "
        f"zrjin/LibriheavyMix-{part} from the HuggingFace hub into {repo}"
    )


def audio_root(repo: Path, set_name: str, condition: str) -> Path:
    """Where a set's mixtures are searched: ``<set>/audio`` (``audio_anechoic``), else ``<set>``,
    else the part folder's ``audio`` (the training parts)."""
    sub = "audio" if condition == "reverberant" else "audio_anechoic"
    for d in (repo / set_name / sub, repo / set_name, repo / sub):
        if d.is_dir():
            return d
    return repo / set_name / sub


def index_audio(root: Path) -> Dict[str, Path]:
    """``file stem -> path`` of the flac/wav files under ``root`` (any depth).

    Raises:
        DataFormatError: two files with the same stem (the mixture would be ambiguous).
    """
    found: Dict[str, Path] = {}
    if not root.is_dir():
        return found
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file():
            if p.stem in found:
                raise DataFormatError(
                    p, None, f"mixture {p.stem!r} exists twice (also {found[p.stem]}); keep one condition per folder"
                )
            found[p.stem] = p
    return found


def _cuts(manifest: Path):
    try:  # deferred: lhotse is only needed for this corpus (tools/install.sh installs it with the test extra)
        from lhotse import CutSet
    except ImportError:
        raise RuntimeError("reading LibriheavyMix manifests needs lhotse: pip install lhotse") from None
    return CutSet.from_file(manifest)


def mixture_turns(cut, manifest: Path) -> Tuple[List[Turn], float]:
    """Speaker turns of a cut in cut time, and its duration.

    Raises:
        DataFormatError: a supervision without a speaker.
    """
    turns = []
    for s in cut.supervisions:
        if not s.speaker:
            raise DataFormatError(manifest, None, f"cut {cut.id!r}: supervision {s.id!r} has no speaker")
        turns.append(Turn(reco=cut.id, onset=float(s.start), duration=float(s.duration), speaker=str(s.speaker)))
    return turns, float(cut.duration)


def _source_stem(cut) -> Optional[str]:
    recording = getattr(cut, "recording", None)
    if recording is None or not recording.sources:
        return None
    return Path(str(recording.sources[0].source)).stem


def prepare_libriheavymix(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    sets: Sequence[str] = DEFAULT_SETS,
    variant: str = "",
    manifest_dir: Optional[str] = None,
    condition: str = "reverberant",
    missing_ok: bool = False,
) -> Dict[str, PrepReport]:
    """Write ``<out_dir>/libriheavymix_<set>`` per set (layout and rules in the module docstring).

    Args:
        corpus_dir: the LibriheavyMix root (``LibriheavyMix-<part>/`` folders) or one part's folder.
        out_dir: where the data dirs go.
        sets: set names (``dev_2spk``, ``test-clean_3spk``, ``small``, ...).
        variant: manifest name suffix, e.g. ``_snr_aug_mono_rir`` (default: the plain manifest).
        manifest_dir: read the manifest only from this sub-folder of the part's folder.
        condition: ``reverberant`` (``audio``) or ``anechoic`` (``audio_anechoic``) mixtures.
        missing_ok: leave out (and report) cuts without audio instead of stopping.

    Raises:
        FileNotFoundError: no manifest.
        MissingAudioError: a cut has no mixture file (unless ``missing_ok``).
        DataFormatError: a supervision without a speaker, two mixtures with one name, a cut id
            with whitespace.
        RuntimeError: lhotse is not installed.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; expected one of {', '.join(CONDITIONS)}")
    for s in sets:
        part_of(s)
    corpus_dir = Path(corpus_dir).absolute()
    out: Dict[str, PrepReport] = {}
    for set_name in sets:
        repo = repo_dir(corpus_dir, set_name)
        manifest = find_manifest(repo, set_name, variant=variant, manifest_dir=manifest_dir)
        root = audio_root(repo, set_name, condition)
        files = index_audio(root)
        notes = PrepReport()
        wav_scp: Dict[str, str] = {}
        reco2dur: Dict[str, float] = {}
        windows: Dict[str, Tuple[float, float]] = {}
        uem: Dict[str, List[UemSegment]] = {}
        turns: List[Turn] = []
        for cut in _cuts(manifest):
            if any(c.isspace() for c in cut.id):
                raise DataFormatError(
                    manifest, None, f"cut id {cut.id!r} contains whitespace; it cannot be a recording id"
                )
            path, offset = files.get(cut.id), 0.0
            if path is None and _source_stem(cut) in files:  # a MonoCut: the file is its recording
                path, offset = files[_source_stem(cut)], float(cut.start)
            if path is None:
                msg = f"{root}: no mixture {cut.id}.flac/.wav for cut {cut.id!r} of {manifest}"
                if not missing_ok:
                    raise MissingAudioError(f"{msg}; extract the set's audio archive there, or pass --missing_ok true")
                notes.dropped.append(f"{cut.id}: {msg}; left out (missing_ok)")
                continue
            cut_turns, duration = mixture_turns(cut, manifest)
            header = audio_header(path)
            if offset == 0.0 and abs(header.duration - duration) > 0.05:
                notes.changed.append(
                    f"{cut.id}: {path} lasts {header.duration:.3f}s, the cut {duration:.3f}s; turns are clipped to the audio"
                )
            wav_scp[cut.id] = wav_entry(path)
            reco2dur[cut.id] = header.duration
            if offset:
                windows[cut.id] = (offset, offset + duration)
                uem[cut.id] = [UemSegment(cut.id, offset, min(offset + duration, header.duration))]
            turns += [
                Turn(reco=t.reco, onset=t.onset + offset, duration=t.duration, speaker=t.speaker) for t in cut_turns
            ]
        turns = clip_to_windows(turns, windows, what="cut", notes=notes)
        if not wav_scp:
            raise FileNotFoundError(f"{manifest}: no cut of {set_name} has audio under {root}")
        whole = whole_file_uem({r: d for r, d in reco2dur.items() if r not in uem})
        name = dir_name(set_name)
        out[name] = write_split(
            Path(out_dir) / name, wav_scp=wav_scp, turns=turns, reco2dur=reco2dur, uem={**whole, **uem}, notes=notes
        )
    return out


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sets", type=str_list, default=list(DEFAULT_SETS), help="e.g. 'small dev_2spk test-clean_2spk'")
    p.add_argument(
        "--variant", default="", help="manifest suffix, e.g. _snr_aug_mono_rir (default: the plain manifest)"
    )
    p.add_argument("--manifest_dir", default=None, help="read manifests only from this sub-folder, e.g. dev-mtt-lhotse")
    p.add_argument(
        "--condition", default="reverberant", choices=list(CONDITIONS), help="audio (reverberant) or audio_anechoic"
    )
    p.add_argument("--missing_ok", type=str2bool, default=False, help="leave out cuts without audio (reported)")


def check_libriheavymix(
    corpus_dir: PathLike,
    *,
    sets: Sequence[str] = DEFAULT_SETS,
    variant: str = "",
    manifest_dir: Optional[str] = None,
    condition: str = "reverberant",
) -> None:
    """The download action: check that every set has its manifest and extracted audio; if not,
    say how to fetch it (the hub publishes no checksums; its client checks each file's hash).

    Raises:
        FileNotFoundError: what is missing, and the commands that fetch it.
    """
    corpus_dir = Path(corpus_dir)
    missing = []
    for s in sets:
        repo = repo_dir(corpus_dir, s)
        try:
            find_manifest(repo, s, variant=variant, manifest_dir=manifest_dir)
        except FileNotFoundError as e:
            missing.append((s, str(e).split(":", 1)[0]))
            continue
        root = audio_root(repo, s, condition)
        if not index_audio(root):
            missing.append((s, f"audio under {root}"))
    if not missing:
        logger.info("%s: manifests and audio of %s present", corpus_dir, " ".join(sets))
        return
    parts = sorted({part_of(s) for s, _ in missing})
    raise FileNotFoundError(
        f"{corpus_dir}: LibriheavyMix files missing: "
        + ", ".join(f"{s} ({what})" for s, what in missing)
        + ". Fetch each part from the HuggingFace hub: "
        + "; ".join(
            f"hf download zrjin/LibriheavyMix-{p} --repo-type dataset --local-dir {corpus_dir}/LibriheavyMix-{p}"
            for p in parts
        )
        + "; then extract the audio archives of the sets in place (cat audio.tar.gz* | tar xz) and run this again"
    )


CLI = CorpusCli(
    summary="LibriheavyMix: simulated far-field 1-4 speaker mixtures from lhotse manifests",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_libriheavymix(
            a.corpus_dir,
            a.out_dir,
            sets=a.sets,
            variant=a.variant,
            manifest_dir=a.manifest_dir,
            condition=a.condition,
            missing_ok=a.missing_ok,
        )
    ),
    data_dirs=lambda a: [dir_name(s) for s in a.sets],
    download=lambda a: check_libriheavymix(
        a.corpus_dir, sets=a.sets, variant=a.variant, manifest_dir=a.manifest_dir, condition=a.condition
    ),
    validation=lambda a: {"global_speakers": True},
)
