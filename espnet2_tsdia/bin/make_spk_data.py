#!/usr/bin/env python3
"""Data files of ESPnet's speaker task (``espnet2.bin.spk_train``) from a Kaldi-style dir.

Usage:
    # training speakers: wav.scp, utt2spk, spk2utt, category2utt and speech_shape
    python -m espnet2_tsdia.bin.make_spk_data data/source/train dump/spk/train --fs 8000
    # validation speakers: verification trials (trial.scp, trial2.scp, trial_label, speech_shape)
    python -m espnet2_tsdia.bin.make_spk_data data/source/dev dump/spk/dev --fs 8000 --trials 400

Train with ``iterator_type: category`` and ``batch_type: catbel`` (speaker-balanced batches,
``category2utt``): ESPnet's ``unsorted`` batches keep the file order, so with utterance ids that
start with the speaker a batch holds one or two speakers and the classifier does not learn.

The source dir needs ``wav.scp`` (one file per utterance: ESPnet's ``sound`` reader takes no
segments) and ``utt2spk``. Every file must be at ``--fs`` (the speaker task's ``sound`` reader
does not resample); a file at another rate, a missing file, an utterance without a speaker or a
speaker with one utterance in trial mode stops the tool with the file and line.

Trials (``--trials N``): N pairs, half of the same speaker (label 1) and half of two different
speakers (label 0), drawn with ``--seed``; keys ``<utt1>*<utt2>`` as ESPnet's trainer expects
(its validation computes the equal error rate over them).
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import c_sort_key, iter_lines
from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)


def read_dir(src: Path, fs: int) -> Tuple[Dict[str, str], Dict[str, str], Dict[str, int]]:
    """wav.scp, utt2spk and the sample count of every utterance (checked: file, rate)."""
    import soundfile

    wavs: Dict[str, str] = {}
    lines: Dict[str, int] = {}
    for n, line in iter_lines(src / "wav.scp"):
        parts = line.split(maxsplit=1)
        if len(parts) != 2:
            raise DataFormatError(src / "wav.scp", n, f"expected '<utt> <audio file>', got {line!r}")
        if parts[1].rstrip().endswith("|"):
            raise DataFormatError(src / "wav.scp", n, "a command pipe; the speaker task reads files only")
        wavs[parts[0]] = parts[1].strip()
        lines[parts[0]] = n
    utt2spk: Dict[str, str] = {}
    for n, line in iter_lines(src / "utt2spk"):
        parts = line.split()
        if len(parts) != 2:
            raise DataFormatError(src / "utt2spk", n, f"expected '<utt> <speaker>', got {line!r}")
        if parts[0] not in wavs:
            raise DataFormatError(src / "utt2spk", n, f"utterance {parts[0]!r} is not in wav.scp")
        utt2spk[parts[0]] = parts[1]
    shapes: Dict[str, int] = {}
    for utt, path in wavs.items():
        if utt not in utt2spk:
            raise DataFormatError(src / "wav.scp", lines[utt], f"utterance {utt!r} has no speaker in utt2spk")
        try:
            info = soundfile.info(path)
        except Exception as e:
            raise DataFormatError(src / "wav.scp", lines[utt], f"{path}: not a readable audio file ({e})") from None
        if info.samplerate != fs:
            raise DataFormatError(
                src / "wav.scp", lines[utt], f"{path} is at {info.samplerate} Hz; the speaker model reads {fs} Hz"
            )
        shapes[utt] = int(info.frames)
    return wavs, utt2spk, shapes


def make_trials(utt2spk: Dict[str, str], num: int, seed: int) -> List[Tuple[str, str, int]]:
    """``num`` (utt1, utt2, same speaker) pairs, half targets, half non-targets, no repeats."""
    by_spk: Dict[str, List[str]] = {}
    for utt, spk in sorted(utt2spk.items()):
        by_spk.setdefault(spk, []).append(utt)
    if len(by_spk) < 2:
        raise ValueError(f"trials need two speakers or more, got {sorted(by_spk)}")
    lonely = [s for s, u in by_spk.items() if len(u) < 2]
    if lonely:
        raise ValueError(f"speakers with one utterance cannot form target trials: {lonely}")
    rng = random.Random(seed)
    speakers = sorted(by_spk)
    out, seen = [], set()
    attempts = 0
    while len(out) < num and attempts < 100 * num:
        attempts += 1
        target = len(out) % 2 == 0
        if target:
            s = rng.choice(speakers)
            a, b = rng.sample(by_spk[s], 2)
        else:
            s, t = rng.sample(speakers, 2)
            a, b = rng.choice(by_spk[s]), rng.choice(by_spk[t])
        if (a, b) in seen or (b, a) in seen:
            continue
        seen.add((a, b))
        out.append((a, b, int(target)))
    return out


def write_lines(path: Path, rows) -> None:
    path.write_text("".join(" ".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")


def get_parser() -> argparse.ArgumentParser:
    parser = cli.get_parser(__doc__, prog="make_spk_data")
    parser.add_argument("src", type=Path, help="dir with wav.scp and utt2spk")
    parser.add_argument("out", type=Path, help="dir to write")
    parser.add_argument("--fs", type=int, required=True, help="sample rate every file must have")
    parser.add_argument("--trials", type=int, default=0, help="> 0: write this many verification trials instead")
    parser.add_argument("--seed", type=int, default=0, help="seed of the trial draw")
    cli.add_log_level(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)
    try:
        wavs, utt2spk, shapes = read_dir(args.src, args.fs)
        args.out.mkdir(parents=True, exist_ok=True)
        if args.trials > 0:
            trials = make_trials(utt2spk, args.trials, args.seed)
            keys = [f"{a}*{b}" for a, b, _ in trials]
            write_lines(args.out / "trial.scp", [(k, wavs[a]) for k, (a, _, _) in zip(keys, trials, strict=True)])
            write_lines(args.out / "trial2.scp", [(k, wavs[b]) for k, (_, b, _) in zip(keys, trials, strict=True)])
            write_lines(args.out / "trial_label", [(k, lab) for k, (_, _, lab) in zip(keys, trials, strict=True)])
            write_lines(args.out / "speech_shape", [(k, shapes[a]) for k, (a, _, _) in zip(keys, trials, strict=True)])
            logger.info("%s: %d trials (%d target) -> %s", args.src, len(trials), sum(t[2] for t in trials), args.out)
        else:
            utts = sorted(wavs, key=c_sort_key)
            write_lines(args.out / "wav.scp", [(u, wavs[u]) for u in utts])
            write_lines(args.out / "utt2spk", [(u, utt2spk[u]) for u in utts])
            write_lines(args.out / "speech_shape", [(u, shapes[u]) for u in utts])
            spk2utt: Dict[str, List[str]] = {}
            for u in utts:
                spk2utt.setdefault(utt2spk[u], []).append(u)
            rows = [(s, *spk2utt[s]) for s in sorted(spk2utt, key=c_sort_key)]
            write_lines(args.out / "spk2utt", rows)
            # the speaker-balanced sampler (iterator_type category, batch_type catbel) reads this
            write_lines(args.out / "category2utt", rows)
            logger.info("%s: %d utterances of %d speakers -> %s", args.src, len(utts), len(spk2utt), args.out)
    except (DataFormatError, ValueError, OSError) as e:
        return cli.fail(parser.prog, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
