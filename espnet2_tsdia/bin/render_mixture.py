#!/usr/bin/env python3
"""Render one simulated mixture as a WAV file on stdout (or to a file): the ``wav.scp`` pipe.

Usage:
    python -m espnet2_tsdia.bin.render_mixture data/sim_dev/specs.jsonl sim_dev-0000003 > mix.wav
    python -m espnet2_tsdia.bin.render_mixture --fs 16000 --subtype FLOAT --out mix.wav data/sim_dev/mixture.scp sim_dev-0000003

Simulated data dirs list mixtures in ``wav.scp`` as
``<reco> python -m espnet2_tsdia.bin.render_mixture <specs.jsonl> <reco> |`` so that tools that
only know wav.scp (Kaldi, lhotse, sox) can read them; ESPnet training reads the specs directly
through the ``tsdia_mixture`` data type instead. The samples are those of
:func:`espnet2_tsdia.simulate.render.render_mixture`; 16-bit output is clipped to [-1, 1).
"""

from __future__ import annotations

import argparse
import io
import sys
from typing import List, Optional

from espnet2_tsdia.utils import cli


def get_parser() -> argparse.ArgumentParser:
    p = cli.get_parser(__doc__, prog="render_mixture")
    p.add_argument("specs", help="specs.jsonl or mixture.scp of a simulated set")
    p.add_argument("reco", help="recording id")
    p.add_argument("--fs", type=int, default=None, help="output rate in Hz (default: the set's rate)")
    p.add_argument(
        "--subtype",
        default="PCM_16",
        choices=["PCM_16", "PCM_24", "PCM_32", "FLOAT"],
        help="WAV sample format (default PCM_16, what Kaldi reads)",
    )
    p.add_argument("--out", default="-", help="output file ('-': stdout, the default)")
    cli.add_log_level(p, "WARNING")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)
    import soundfile as sf

    from espnet2_tsdia.formats.errors import DataFormatError
    from espnet2_tsdia.simulate.render import MixtureReader

    try:
        reader = MixtureReader(args.specs, fs=args.fs)
    except (DataFormatError, FileNotFoundError, ValueError) as e:
        return cli.fail(parser.prog, e)
    if args.reco not in reader:
        return cli.fail(parser.prog, f"recording {args.reco!r} is not in {args.specs}")
    from espnet2_tsdia.simulate.materialize import clip_for

    x, _ = clip_for(reader[args.reco], args.subtype)
    fs = reader.fs_of(args.reco)
    if args.out == "-":
        buf = io.BytesIO()
        sf.write(buf, x, fs, format="WAV", subtype=args.subtype)
        sys.stdout.buffer.write(buf.getvalue())
        sys.stdout.buffer.flush()
    else:
        sf.write(args.out, x, fs, format="WAV", subtype=args.subtype)
    return 0


if __name__ == "__main__":
    sys.exit(main())
