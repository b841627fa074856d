#!/usr/bin/env python3
"""Describe data dirs: a markdown and a LaTeX table (one row per set), a csv per recording, plots.

Usage:
    python -m espnet2_tsdia.bin.describe data/train data/dev data/test \\
        --out_dir exp/data_description --name ami

    Writes in ``--out_dir``: ``<name>.md``, ``<name>.tex`` (booktabs), ``<name>.json``, and per set
    ``<set>_recordings.csv``, ``<set>_speakers.png``, ``<set>_overlap.png``, ``<set>_turns.png``.
    A set is named after its dir (``data/train`` -> ``train``); ``--set_names`` overrides that.

Columns: recordings, hours, speakers per recording (min/mean/max), overlap ratio (overlapped speech
/ speech, %), silence ratio (non-speech / duration, %), mean turn length (s). Durations come from
``reco2dur``, falling back to the UEM end or the last turn end (reported under the table).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = cli.get_parser(__doc__, prog="describe")
    parser.add_argument("data_dirs", nargs="+", help="data dirs (wav.scp plus rttm, or segments + utt2spk)")
    parser.add_argument("--out_dir", required=True, help="where the tables, csv files and plots are written")
    parser.add_argument(
        "--name",
        default=None,
        help="name of the description (file stem and caption); default: the set name for one set, else 'datasets'",
    )
    parser.add_argument("--set_names", nargs="+", default=None, help="one name per data dir (default: the dirs' names)")
    parser.add_argument("--no_plots", action="store_true", help="write the tables and csv files only")
    cli.add_log_level(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)

    from espnet2_tsdia.data.describe import describe_data_dir, write_description
    from espnet2_tsdia.formats.errors import DataFormatError

    if args.set_names is not None and len(args.set_names) != len(args.data_dirs):
        parser.error(f"--set_names has {len(args.set_names)} names for {len(args.data_dirs)} data dirs")
    for d in args.data_dirs:
        if not Path(d).is_dir():
            parser.error(f"no such data dir: {d}")
        if not (Path(d) / "wav.scp").is_file():
            parser.error(f"{d}: not a data dir (no wav.scp)")
    names = args.set_names or [Path(d).name or d for d in args.data_dirs]
    name = args.name or (names[0] if len(names) == 1 else "datasets")
    try:
        descs = [describe_data_dir(d, name=n) for d, n in zip(args.data_dirs, names, strict=True)]
        written = write_description(descs, args.out_dir, name=name, plots=not args.no_plots)
    except (DataFormatError, ValueError, FileNotFoundError) as e:
        parser.error(str(e))
    for d in descs:
        s = d.stats
        logger.info(
            "%s: %d recordings, %.2f h, %d-%d speakers, overlap %.1f%%, silence %.1f%%",
            d.name,
            s.recordings,
            s.hours,
            s.speakers_min,
            s.speakers_max,
            100 * s.overlap_ratio,
            100 * s.silence_ratio,
        )
    logger.info("wrote %d files to %s", len(written), args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
