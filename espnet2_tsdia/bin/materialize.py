#!/usr/bin/env python3
"""Write the mixtures of a simulated set as wav files, and optionally a data dir listing them.

Usage:
    python -m espnet2_tsdia.bin.materialize data/sim_dev wav/sim_dev --out_data_dir data/sim_dev_wav --nj 4
    python -m espnet2_tsdia.bin.materialize --subtype FLOAT --fs 16000 data/sim_dev wav/sim_dev_16k

The source audio and the specs are not modified; the wav files hold exactly the samples the
on-the-fly renderer gives (16-bit output is rounded and clipped; clipping is reported).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet2_tsdia.utils import cli


def get_parser() -> argparse.ArgumentParser:
    p = cli.get_parser(__doc__, prog="materialize")
    p.add_argument("data_dir", help="simulated set (with mixture.scp / specs.jsonl)")
    p.add_argument("wav_dir", help="output folder for <reco>.wav")
    p.add_argument("--out_data_dir", default=None, help="also write a Kaldi dir whose wav.scp lists the files")
    p.add_argument("--fs", type=int, default=None, help="output rate (default: the set's)")
    p.add_argument("--subtype", default="PCM_16", choices=["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
    p.add_argument("--nj", type=int, default=1, help="parallel processes")
    cli.add_log_level(p)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)
    from espnet2_tsdia.formats.errors import DataFormatError
    from espnet2_tsdia.simulate.materialize import materialize

    try:
        rep = materialize(
            args.data_dir, args.wav_dir, out_data_dir=args.out_data_dir, fs=args.fs, subtype=args.subtype, nj=args.nj
        )
    except (DataFormatError, FileNotFoundError, ValueError) as e:
        return cli.fail(parser.prog, e)
    logging.info(
        "wrote %d recordings (%.2f h) to %s; %d clipped samples",
        rep.recordings,
        rep.seconds / 3600,
        args.wav_dir,
        rep.clipped_samples,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
