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
import logging
import sys
from typing import List, Optional


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    import soundfile as sf

    from espnet2_tsdia.simulate.render import MixtureReader

    reader = MixtureReader(args.specs, fs=args.fs)
    if args.reco not in reader:
        print(f"error: recording {args.reco!r} is not in {args.specs}", file=sys.stderr)
        return 1
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
