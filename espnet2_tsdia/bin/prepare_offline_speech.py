#!/usr/bin/env python3
"""Build the offline speech corpus (speaker-labelled 8 kHz utterances from Debian speech packages:
recorded prompts, flite, festival and espeak-ng voices).

Usage:
    python -m espnet2_tsdia.bin.prepare_offline_speech OUT_DIR \\
        [--sources en_allison fr_june ...] [--max_utts_per_speaker N] \\
        [--max_seconds_per_speaker S] [--min_duration 0.5] [--nj N] [--seed 0] \\
        [--perturb name:cents:tempo ...] [--sounds_dir /usr/share/asterisk/sounds]

    # every voice, about 3 minutes each
    python -m espnet2_tsdia.bin.prepare_offline_speech data/offline_speech \\
        --max_seconds_per_speaker 180 --nj 2

    # the festival voices of one family only
    python -m espnet2_tsdia.bin.prepare_offline_speech data/festival --family festival \\
        --max_seconds_per_speaker 60

    # what can be built here, and which Debian package each source needs
    python -m espnet2_tsdia.bin.prepare_offline_speech --list_sources

Writes ``OUT_DIR/wav/<spk>/<utt>.wav`` and the Kaldi dir ``OUT_DIR/data`` (wav.scp, utt2spk,
spk2utt, utt2dur, text, spk2gender, speakers.tsv), and ``OUT_DIR/skipped.tsv``. A second run
reuses every finished file; see :mod:`espnet2_tsdia.corpora.offline_speech`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Build the offline speech corpus from Debian prompt packages and flite voices.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("out_dir", nargs="?", help="output folder (required unless --list_sources)")
    parser.add_argument("--sources", nargs="+", default=None, help="base speaker ids (default: all)")
    parser.add_argument(
        "--family",
        nargs="+",
        default=None,
        choices=["prompt", "flite", "festival", "espeak"],
        help="add every speaker of these voice families to --sources",
    )
    parser.add_argument("--max_utts_per_speaker", type=int, default=None, help="at most N utterances per speaker")
    parser.add_argument(
        "--max_seconds_per_speaker", type=float, default=None, help="stop a speaker once it has this many seconds"
    )
    parser.add_argument("--min_duration", type=float, default=0.5, help="skip utterances shorter than this (s)")
    parser.add_argument(
        "--perturb",
        nargs="+",
        default=[],
        metavar="NAME:CENTS:TEMPO",
        help="add a pseudo-speaker <spk>_p<NAME> per speaker by sox pitch/tempo, e.g. up:200:1.0",
    )
    parser.add_argument("--nj", type=int, default=1, help="parallel processes")
    parser.add_argument("--seed", type=int, default=0, help="order in which each speaker's prompts are taken")
    parser.add_argument(
        "--synthetic_utts_per_voice",
        "--flite_utts_per_voice",  # its old name (flite was the only synthesiser)
        dest="synthetic_utts_per_voice",
        type=int,
        default=300,
        help="sentences planned per synthetic voice",
    )
    parser.add_argument("--sounds_dir", default=None, help="prompt folder (default /usr/share/asterisk/sounds)")
    parser.add_argument("--list_sources", action="store_true", help="list the sources and whether each is installed")
    parser.add_argument("--log_level", default="INFO", choices=["ERROR", "WARNING", "INFO", "DEBUG"])
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")

    from espnet2_tsdia.corpora.offline_speech import (
        SOURCES,
        MissingPackagesError,
        Perturbation,
        missing_sources,
        prepare_offline_speech,
        sources_of_family,
    )

    if args.list_sources:
        missing = missing_sources(sounds_dir=args.sounds_dir)
        for name, src in SOURCES.items():
            state = "missing (" + missing[name] + ")" if name in missing else "available"
            print(f"{name}\t{src.package}\t{src.language}\t{src.sex}\t{src.kind}\t{src.family}\t{state}")
        return 0
    if args.out_dir is None:
        parser.error("OUT_DIR is required")
    try:
        perturb = [Perturbation.parse(p) for p in args.perturb]
    except ValueError as e:
        parser.error(f"--perturb: {e}")
    sources = args.sources
    if args.family:
        sources = list(dict.fromkeys((sources or []) + [s for f in args.family for s in sources_of_family(f)]))
    try:
        report = prepare_offline_speech(
            args.out_dir,
            sources=sources,
            max_utts_per_speaker=args.max_utts_per_speaker,
            max_seconds_per_speaker=args.max_seconds_per_speaker,
            min_duration=args.min_duration,
            perturb=perturb,
            nj=args.nj,
            seed=args.seed,
            synthetic_utts_per_voice=args.synthetic_utts_per_voice,
            sounds_dir=args.sounds_dir,
        )
    except (MissingPackagesError, ValueError) as e:
        logger.error("%s", e)
        return 1
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
