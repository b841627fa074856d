#!/usr/bin/env python3
"""Check a Kaldi-style data dir (Kaldi's validate_data_dir.sh rules plus the rules of docs/formats.md).

Usage:
    python -m espnet2_tsdia.bin.validate_data_dir data/train
    python -m espnet2_tsdia.bin.validate_data_dir --expected_fs 8000 --global_speakers data/ami_train
    python -m espnet2_tsdia.bin.validate_data_dir --no_audio --strict data/dev

Prints every problem as ``file:line: severity: message`` and a summary line. Exit status 0: the
dir is usable (warnings and notes allowed, unless --strict); 1: errors (or warnings with
--strict); 2: bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from espnet2_tsdia.utils import cli


def _optional_int(text: str) -> Optional[int]:
    if text.lower() in ("none", "any"):
        return None
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'none', got {text!r}")
    return value


def get_parser() -> argparse.ArgumentParser:
    p = cli.get_parser(__doc__, prog="validate_data_dir")
    p.add_argument("data_dir", help="the data dir to check")
    p.add_argument(
        "--expected_fs",
        type=_optional_int,
        default=None,
        help="required sample rate in Hz ('none': not checked; default)",
    )
    p.add_argument(
        "--expected_channels",
        type=_optional_int,
        default=1,
        help="required channel count ('none': not checked; default 1)",
    )
    p.add_argument(
        "--global_speakers",
        action="store_true",
        help="speaker ids are global (AMI, ICSI): one speaker may appear in several recordings",
    )
    p.add_argument(
        "--tolerance", type=float, default=0.01, help="seconds a segment may end past the recording end (default 0.01)"
    )
    p.add_argument("--no_audio", action="store_true", help="do not open the audio files")
    p.add_argument(
        "--check_pipes", action="store_true", help="run 'cmd |' entries of wav.scp and read their WAV header"
    )
    p.add_argument("--strict", action="store_true", help="warnings make the dir unusable too")
    p.add_argument("--quiet", action="store_true", help="print errors and warnings only, not notes")
    cli.add_log_level(p, "WARNING")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)
    from espnet2_tsdia.data.validate import validate_data_dir

    try:
        report = validate_data_dir(
            args.data_dir,
            expected_fs=args.expected_fs,
            expected_channels=args.expected_channels,
            global_speakers=args.global_speakers,
            tolerance=args.tolerance,
            check_audio=not args.no_audio,
            check_pipes=args.check_pipes,
        )
    except ValueError as e:
        return cli.fail(parser.prog, e)
    for problem in report.problems:
        if not (args.quiet and problem.severity == "info"):
            print(problem)
    print(report.summary(strict=args.strict))
    return 0 if report.usable(strict=args.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
