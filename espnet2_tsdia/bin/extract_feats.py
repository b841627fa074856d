#!/usr/bin/env python3
"""Extract the standard 345-dim features of an example dir once, to kaldiio ark/scp.

Usage:
    python -m espnet2_tsdia.bin.extract_feats data/train/tsdia

    Split over 4 jobs, then join:
    python -m espnet2_tsdia.bin.extract_feats data/train/tsdia --num_parts 4 --part 0   # ... --part 3
    python -m espnet2_tsdia.bin.extract_feats data/train/tsdia --merge 4

    Only the per-recording means (for on-the-fly features of waveform chunks):
    python -m espnet2_tsdia.bin.extract_feats data/train/tsdia --mean_only

Writes ``feats.ark/.scp`` (float32 (T, 345) per recording, mean-normalised over the whole
recording) and ``mean.ark/.scp`` (the (23,) log-mel mean per recording) into the example dir
(the .ark files into ``--ark_dir`` if given). The data types ``tsdia_feats``,
``tsdia_enroll_feats`` and ``tsdia_mean`` read them. ``--frontend_conf`` takes a JSON object of
TSDiaFbankFrontend arguments (e.g. '{"n_mels": 40}'); its frame grid must be the example dir's.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import List, Optional

from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = cli.get_parser(__doc__, prog="extract_feats")
    parser.add_argument("example_dir", help="example dir made by make_tsdia_examples")
    parser.add_argument("--ark_dir", default=None, help="where the .ark files go (default: the example dir)")
    parser.add_argument("--frontend_conf", default="{}", help="JSON object of TSDiaFbankFrontend arguments")
    parser.add_argument("--num_parts", type=int, default=1, help="jobs the recordings are split over")
    parser.add_argument("--part", type=int, default=0, help="this job's part (0-based)")
    parser.add_argument("--merge", type=int, default=None, metavar="N", help="only join the scp files of N parts")
    parser.add_argument("--device", default="cpu", help="torch device")
    parser.add_argument("--mean_only", action="store_true", help="write only mean.ark/.scp (on-the-fly features)")
    cli.add_log_level(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)

    from espnet2_tsdia.examples.features import extract_example_dir, merge_parts
    from espnet2_tsdia.formats.errors import DataFormatError

    try:
        if args.merge is not None:
            files = merge_parts(args.example_dir, args.merge, what=("mean",) if args.mean_only else ("feats", "mean"))
            logger.info("joined %d parts -> %s", args.merge, ", ".join(files))
            return 0
        conf = json.loads(args.frontend_conf)
        if not isinstance(conf, dict):
            raise ValueError(f"--frontend_conf must be a JSON object, got {args.frontend_conf!r}")
        frontend = None
        if conf:
            from espnet2_tsdia.examples.example_dir import load_meta
            from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend

            grid = load_meta(args.example_dir).grid
            frontend = TSDiaFbankFrontend(
                **{"fs": grid["fs"], "hop_length": grid["hop_length"], "subsampling": grid["subsampling"], **conf}
            )
        report = extract_example_dir(
            args.example_dir,
            frontend=frontend,
            ark_dir=args.ark_dir,
            part=args.part,
            num_parts=args.num_parts,
            device=args.device,
            write_feats=not args.mean_only,
        )
    except (DataFormatError, FileNotFoundError, ValueError, TypeError) as e:  # TypeError: an unknown frontend key
        return cli.fail(parser.prog, e)
    logger.info("%d recordings, %d frames -> %s", report.recordings, report.frames, ", ".join(report.files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
