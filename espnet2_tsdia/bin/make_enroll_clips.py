#!/usr/bin/env python3
"""Cut a separate enrollment clip per (recording, speaker) of a test set, from utterances no
test conversation uses, for ``tsdia_inference --enrollment clips``.

Usage:
    python -m espnet2_tsdia.bin.make_enroll_clips data/source/test_enroll data/test/rttm \\
        data/test/enroll --seconds 3.0

    python -m espnet2_tsdia.bin.tsdia_inference --model_tag exp/model.zip --enrollment clips \\
        --data_path_and_name_and_type data/test/wav.scp,speech,sound \\
        --data_path_and_name_and_type data/test/enroll/enroll.scp,enroll,sound --output_dir exp/clips

Writes ``OUT_DIR/<reco>__<spk>.wav`` and ``OUT_DIR/enroll.scp``; see
:mod:`espnet2_tsdia.corpora.enroll_clips`. Exit status 2 with a message naming the file when a
speaker of the RTTM has no utterance in SOURCE_DIR.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet2_tsdia.corpora.enroll_clips import make_enroll_clips
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = cli.get_parser(__doc__, prog="make_enroll_clips")
    parser.add_argument("source_dir", help="Kaldi dir (wav.scp, utt2spk) of utterances the test set does not use")
    parser.add_argument("rttm", help="reference RTTM of the test set")
    parser.add_argument("out_dir", help="where the clips and enroll.scp are written")
    parser.add_argument("--seconds", type=float, default=3.0, help="clip length (s)")
    parser.add_argument("--fs", type=int, default=8000, help="sample rate of the clips")
    parser.add_argument("--seed", type=int, default=0, help="shuffles each speaker's utterances per recording")
    cli.add_log_level(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)
    try:
        report = make_enroll_clips(
            args.source_dir, args.rttm, args.out_dir, seconds=args.seconds, fs=args.fs, seed=args.seed
        )
    except (DataFormatError, ValueError, FileNotFoundError) as e:
        return cli.fail(parser.prog, e)
    logger.info(
        "%d clips in %s (%d shorter than %.2f s)", len(report.clips), report.scp, len(report.short), args.seconds
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
