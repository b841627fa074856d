#!/usr/bin/env python3
"""Repair a Kaldi-style data dir: sort, de-duplicate, clip or drop segments past the recording end,
merge same-speaker overlaps, rebuild spk2utt, drop what cannot be kept, and report every line
dropped, changed or added in ``fix_report.txt``.

Usage:
    python -m espnet2_tsdia.bin.fix_data_dir data/train
    python -m espnet2_tsdia.bin.fix_data_dir --out_dir data/train_fixed data/train
    python -m espnet2_tsdia.bin.fix_data_dir --global_speakers --min_turn 0.02 data/ami_train

In place, the original files are kept in ``DIR/.backup/``. The fixed dir is then validated
(audio not opened); what the fixer cannot repair is printed. Exit status 0: the fixed dir has no
errors; 1: errors remain; 2: bad arguments or not a data dir.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from espnet2_tsdia.utils import cli


def get_parser() -> argparse.ArgumentParser:
    p = cli.get_parser(__doc__, prog="fix_data_dir")
    p.add_argument("data_dir", help="the data dir to repair")
    p.add_argument("--out_dir", default=None, help="write the fixed dir here instead of in place")
    p.add_argument(
        "--global_speakers",
        action="store_true",
        help="speaker ids are global (AMI, ICSI): one speaker may appear in several recordings",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=0.01,
        help="ends up to this many seconds past the recording end are kept as they are (default 0.01)",
    )
    p.add_argument(
        "--min_turn",
        type=float,
        default=0.01,
        help="drop segments shorter than this many seconds after clipping (default 0.01)",
    )
    p.add_argument("--verbose", action="store_true", help="print every report line, not only the summary")
    cli.add_log_level(p)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)
    from espnet2_tsdia.data.fix import REPORT_NAME, fix_data_dir

    try:
        report = fix_data_dir(
            args.data_dir,
            out_dir=args.out_dir,
            global_speakers=args.global_speakers,
            tolerance=args.tolerance,
            min_turn=args.min_turn,
        )
    except (ValueError, FileNotFoundError) as e:
        return cli.fail(parser.prog, e)
    if args.verbose:
        for entry in report.entries:
            print(entry)
    print(report.summary())
    if report.changed:
        print(f"report: {report.path}/{REPORT_NAME}" + (f"; originals in {report.backup}" if report.backup else ""))
    assert report.validation is not None
    remaining = [p for p in report.validation.problems if p.severity != "info"]
    for problem in remaining:
        print(problem)
    print(report.validation.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
