#!/usr/bin/env python3
"""Prepare (or download) one diarization corpus as Kaldi-style data dirs.

Usage:
    python -m espnet2_tsdia.bin.prepare_corpus ami --corpus_dir /data/ami --out_dir data
    python -m espnet2_tsdia.bin.prepare_corpus ami --corpus_dir /data/ami --out_dir data --stream Array1-01
    python -m espnet2_tsdia.bin.prepare_corpus ami download --corpus_dir /data/ami --stream Array1-01
    python -m espnet2_tsdia.bin.prepare_corpus aishell4 dirs --out_dir data --parts test

Actions (after the corpus name): ``prepare`` (default) writes ``<out_dir>/<corpus>_<split>``
dirs and their ``prep_report.txt``; ``download`` fetches the corpus into ``--corpus_dir``
(resumable, checksummed where a checksum is published; for files behind Google Drive it says
what to fetch by hand and checks it); ``dirs`` prints the data dirs that ``prepare`` writes with
these options, one per line. Exit status 1 with a one-line message naming the file for a broken
corpus (missing audio, an annotation naming an unknown recording, a bad checksum).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

logger = logging.getLogger(__name__)

ACTIONS = ("prepare", "download", "dirs")


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _list(text: str) -> List[str]:
    return [t for t in text.replace(",", " ").split() if t]


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", default="prepare", choices=ACTIONS, help="what to do (default: prepare)")
    p.add_argument("--corpus_dir", default=None, help="the corpus root (the recipe's db.sh variable)")
    p.add_argument("--out_dir", default="data", help="where the data dirs go (default: data)")
    p.add_argument("--log_level", default="INFO", choices=["ERROR", "WARNING", "INFO", "DEBUG"])


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="corpus", required=True, metavar="corpus")

    p = sub.add_parser("ami", help="AMI: BUT Full-corpus-ASR split, only_words references")
    _add_common(p)
    p.add_argument("--stream", default="Mix-Headset", choices=["Mix-Headset", "Array1-01"])
    p.add_argument("--reference", default="only_words", choices=["only_words", "word_and_vocalsounds"])
    p.add_argument("--splits", type=_list, default=["train", "dev", "test"], help="e.g. 'dev test'")
    p.add_argument(
        "--setup_dir",
        default=None,
        help="BUT AMI-diarization-setup checkout (default <corpus_dir>/AMI-diarization-setup)",
    )
    p.add_argument(
        "--missing_ok", type=_bool, default=False, help="leave out meetings whose audio is missing (reported)"
    )

    p = sub.add_parser("icsi", help="ICSI: RTTM from the MRT transcripts, 70/2/3 split")
    _add_common(p)
    p.add_argument(
        "--mic", default="ihm-mix", help="ihm-mix (headset mix) or a SPHERE channel chan0..chanF (chanF = D2)"
    )
    p.add_argument("--splits", type=_list, default=["train", "dev", "test"])
    p.add_argument("--vocal_sounds", type=_bool, default=False, help="count <VocalSound>-only segments as speech")
    p.add_argument("--exclude", type=_list, default=[], help="meeting ids to leave out")

    p = sub.add_parser("aishell4", help="AISHELL-4: TextGrid to RTTM, one channel, held-out dev")
    _add_common(p)
    p.add_argument("--channel", default="1", help="'1'..'8' (default 1, as the official baseline) or 'downmix'")
    p.add_argument("--parts", type=_list, default=["train_L", "train_M", "train_S", "test"])
    p.add_argument("--num_dev", type=int, default=18, help="training sessions held out as dev (deterministic; 0: none)")
    p.add_argument("--dev_list", default=None, help="file of dev session ids (overrides --num_dev)")
    p.add_argument("--exclude", type=_list, default=[], help="session ids to leave out")

    p = sub.add_parser("voxconverse", help="VoxConverse v0.3: dev and test (test from the reference list)")
    _add_common(p)
    p.add_argument("--splits", type=_list, default=["dev", "test"])
    p.add_argument(
        "--rttm_dir", default=None, help="reference checkout with dev/ and test/ (default <corpus_dir>/voxconverse)"
    )
    p.add_argument("--exclude", type=_list, default=[], help="recording ids to leave out")

    p = sub.add_parser("ava_avd", help="AVA-AVD: clip audio cut from the movies with ffmpeg, offsets applied")
    _add_common(p)
    p.add_argument("--splits", type=_list, default=["train", "val", "test"])
    p.add_argument("--audio_dir", default=None, help="where derived clip wavs go (default <corpus_dir>/waves)")
    p.add_argument("--rttm_dir", default=None, help="the references (default <corpus_dir>/rttms)")
    p.add_argument("--sample_rate", type=int, default=16000)
    p.add_argument("--nj", type=int, default=1, help="ffmpeg processes at once")

    p = sub.add_parser("msdwild", help="MSDWild: few.train, few.val, many.val")
    _add_common(p)
    p.add_argument("--splits", type=_list, default=["few.train", "few.val", "many.val"])
    p.add_argument("--wav_dir", default=None, help="folder of <id>.wav (default: found under <corpus_dir>)")
    p.add_argument("--rttm_dir", default=None, help="folder of the split RTTMs (default <corpus_dir>/rttms)")
    p.add_argument("--exclude", type=_list, default=[], help="recording ids to leave out")
    return parser


def data_dirs(args: argparse.Namespace) -> List[str]:
    """Names of the data dirs ``prepare`` writes with these options."""
    from espnet2_tsdia.corpora.common import split_dir_name

    c = args.corpus
    if c == "ami":
        prefix = "ami" if args.stream == "Mix-Headset" else "ami_sdm"
        return [split_dir_name(prefix, s) for s in args.splits]
    if c == "icsi":
        prefix = "icsi" if args.mic == "ihm-mix" else f"icsi_{args.mic}"
        return [split_dir_name(prefix, s) for s in args.splits]
    if c == "aishell4":
        names = []
        if any(p.startswith("train") for p in args.parts):
            names.append("aishell4_train")
            if args.dev_list is not None or args.num_dev > 0:
                names.append("aishell4_dev")
        if "test" in args.parts:
            names.append("aishell4_test")
        return names
    return [split_dir_name(c, s) for s in args.splits]


def _read_dev_list(path: Optional[str]) -> Optional[Sequence[str]]:
    if path is None:
        return None
    from espnet2_tsdia.formats.kaldi import read_list

    return read_list(path)


def run(args: argparse.Namespace) -> List[str]:
    """Do the action; returns the data dirs written (prepare) or an empty list."""
    if args.corpus_dir is None:
        raise ValueError(f"--corpus_dir is required for {args.action} (the recipe's db.sh sets it)")
    corpus_dir = Path(args.corpus_dir)
    c = args.corpus
    if args.action == "download":
        downloads: Dict[str, Callable[[], None]] = {
            "ami": lambda: _mod("ami").download_ami(
                corpus_dir, stream=args.stream, splits=args.splits, missing_ok=args.missing_ok
            ),
            "icsi": lambda: _mod("icsi").download_icsi(corpus_dir, mic=args.mic),
            "aishell4": lambda: _mod("aishell4").download_aishell4(corpus_dir, parts=args.parts),
            "voxconverse": lambda: _mod("voxconverse").download_voxconverse(corpus_dir, splits=args.splits),
            "ava_avd": lambda: _mod("ava_avd").download_ava_avd(corpus_dir),
            "msdwild": lambda: _mod("msdwild").download_msdwild(corpus_dir),
        }
        downloads[c]()
        return []
    if not corpus_dir.is_dir():
        raise FileNotFoundError(
            f"{corpus_dir}: corpus root does not exist; download the corpus first (action 'download') or fix the path in db.sh"
        )
    out = Path(args.out_dir)
    if c == "ami":
        reports = _mod("ami").prepare_ami(
            corpus_dir,
            out,
            stream=args.stream,
            reference=args.reference,
            splits=args.splits,
            setup_dir=args.setup_dir,
            missing_ok=args.missing_ok,
        )
    elif c == "icsi":
        reports = _mod("icsi").prepare_icsi(
            corpus_dir, out, mic=args.mic, splits=args.splits, vocal_sounds=args.vocal_sounds, exclude=args.exclude
        )
    elif c == "aishell4":
        reports = _mod("aishell4").prepare_aishell4(
            corpus_dir,
            out,
            channel=args.channel,
            parts=args.parts,
            num_dev=args.num_dev,
            dev_sessions=_read_dev_list(args.dev_list),
            exclude=args.exclude,
        )
    elif c == "voxconverse":
        reports = _mod("voxconverse").prepare_voxconverse(
            corpus_dir, out, splits=args.splits, rttm_dir=args.rttm_dir, exclude=args.exclude
        )
    elif c == "ava_avd":
        reports = _mod("ava_avd").prepare_ava_avd(
            corpus_dir,
            out,
            splits=args.splits,
            audio_dir=args.audio_dir,
            rttm_dir=args.rttm_dir,
            sample_rate=args.sample_rate,
            nj=args.nj,
        )
    else:
        reports = _mod("msdwild").prepare_msdwild(
            corpus_dir, out, splits=args.splits, wav_dir=args.wav_dir, rttm_dir=args.rttm_dir, exclude=args.exclude
        )
    for name, report in reports.items():
        logger.info("%s: %s (details in %s)", out / name, report.text().splitlines()[0], out / name / "prep_report.txt")
    return [str(out / name) for name in reports]


def _mod(name: str):
    import importlib

    return importlib.import_module(f"espnet2_tsdia.corpora.{name}")


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    if args.action == "dirs":
        for d in data_dirs(args):
            print(str(Path(args.out_dir) / d))
        return 0
    try:
        run(args)
    except (OSError, ValueError, RuntimeError) as e:  # DataFormatError is a ValueError; network errors are OSErrors
        logger.error("%s: %s", type(e).__name__, e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
