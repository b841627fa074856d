#!/usr/bin/env python3
"""Score a diarization hypothesis: DER (miss, false alarm, confusion) and JER, per recording and overall.

Usage:
    python -m espnet2_tsdia.bin.tsdia_score \\
        --ref data/test/rttm --hyp exp/diar/test/hyp.rttm \\
        --uem data/test/uem --collar 0.25 --out_dir exp/diar/test/score

    Writes ``<out_dir>/RESULTS.md`` (ESPnet-style table whose header names the protocol) and
    ``<out_dir>/result.json`` (the numbers as fractions and seconds, for recipes and the tuner).

Protocol: ``--collar`` is seconds on EACH side of every reference boundary (md-eval ``-c``; 0.25
is pyannote ``collar=0.5``); overlapped speech is scored unless ``--skip_overlap``; without
``--uem`` each recording is scored from the earliest to the latest turn of reference and
hypothesis. Same-speaker overlapping turns are merged first. A recording missing from the
hypothesis counts as all miss; recordings only in the hypothesis are reported and ignored.
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
    parser = cli.get_parser(__doc__, prog="tsdia_score")
    parser.add_argument("--ref", required=True, help="reference RTTM")
    parser.add_argument("--hyp", required=True, help="hypothesis RTTM")
    parser.add_argument("--uem", default=None, help="UEM file restricting the scored region (default: no UEM)")
    parser.add_argument(
        "--collar", type=float, default=0.0, help="seconds removed on each side of reference boundaries (md-eval -c)"
    )
    parser.add_argument("--skip_overlap", action="store_true", help="do not score overlapped reference speech")
    parser.add_argument("--out_dir", required=True, help="where RESULTS.md and result.json are written")
    cli.add_log_level(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)

    from espnet2_tsdia.formats.errors import DataFormatError
    from espnet2_tsdia.formats.rttm import read_rttm
    from espnet2_tsdia.formats.uem import read_uem
    from espnet2_tsdia.scoring.der import score
    from espnet2_tsdia.scoring.results_md import ScoringProtocol, write_result_json, write_results_md

    for name in ("ref", "hyp", "uem"):
        p = getattr(args, name)
        if p is not None and not Path(p).is_file():
            parser.error(f"--{name}: no such file: {p}")
    try:
        protocol = ScoringProtocol(
            collar=args.collar, skip_overlap=args.skip_overlap, uem=args.uem, ref=args.ref, hyp=args.hyp
        )
        ref = read_rttm(args.ref)
        hyp = read_rttm(args.hyp)
        uem = read_uem(args.uem) if args.uem is not None else None
        if not ref:
            raise ValueError(f"{args.ref}: the reference has no SPEAKER line")
        result = score(ref, hyp, uem=uem, collar=args.collar, skip_overlap=args.skip_overlap)
    except (DataFormatError, ValueError) as e:
        parser.error(str(e))
    out_dir = Path(args.out_dir)
    write_results_md(out_dir / "RESULTS.md", result, protocol)
    write_result_json(out_dir / "result.json", result, protocol)
    t = result.total
    logger.info(
        "DER %.2f%% (miss %.2f%%, FA %.2f%%, confusion %.2f%%), JER %s over %d recordings, %.1f s scored speech -> %s",
        100 * (t.der or 0.0),
        100 * (t.miss_rate or 0.0),
        100 * (t.false_alarm_rate or 0.0),
        100 * (t.confusion_rate or 0.0),
        "-" if t.jer is None else f"{100 * t.jer:.2f}%",
        len(result.recordings),
        t.scored_speech,
        out_dir / "RESULTS.md",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
