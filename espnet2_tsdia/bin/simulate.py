#!/usr/bin/env python3
"""Simulate conversations: mixture specs, RTTM, a Kaldi dir and statistics for one set of a yaml.

Usage:
    python -m espnet2_tsdia.bin.simulate --list conf/simu/mini_librispeech.yaml
    python -m espnet2_tsdia.bin.simulate --set dev_ns2_ov10-20 --source_dir data/source/dev_clean_2 \
        --out_dir data/dev_ns2_ov10-20 --nj 4 conf/simu/mini_librispeech.yaml
    python -m espnet2_tsdia.bin.simulate --verify data/dev_ns2_ov10-20

``--list`` prints ``<set name> <source name>`` per set (what ``local/data.sh`` loops over).
``--num_conversations``/``--total_hours``/``--noise_dir``/``--rir_dir`` override the yaml (tests
and recipes use them for tiny sets or optional noise). ``--verify`` recomputes a finished set's
statistics from its rttm and checks them against its config.yaml. Exit status: 0 done, 1 a bad
config, missing audio or a set that missed its targets (the message says which), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from espnet2_tsdia.utils import cli


def get_parser() -> argparse.ArgumentParser:
    p = cli.get_parser(__doc__, prog="simulate")
    p.add_argument("config", nargs="?", help="yaml with one set, or 'common' + 'sets'")
    p.add_argument("--list", action="store_true", help="print '<set> <source>' per set and exit")
    p.add_argument("--set", default=None, help="which set of the yaml (required when it holds several)")
    p.add_argument("--source_dir", default=None, help="Kaldi source dir (wav.scp, utt2spk [, segments])")
    p.add_argument("--out_dir", default=None, help="output data dir (default data/<set>)")
    p.add_argument("--nj", type=int, default=1, help="parallel jobs (the output does not depend on it)")
    p.add_argument("--num_conversations", type=int, default=None, help="override the set's size")
    p.add_argument("--total_hours", type=float, default=None, help="override the set's size in hours")
    p.add_argument("--noise_dir", default=None, help="override noise_dir")
    p.add_argument("--rir_dir", default=None, help="override rir_dir")
    p.add_argument("--python", default="python", help="interpreter written into wav.scp's render pipes")
    p.add_argument("--verify", default=None, metavar="DATA_DIR", help="check a finished set and exit")
    cli.add_log_level(p)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)
    from espnet2_tsdia.formats.errors import DataFormatError
    from espnet2_tsdia.simulate.config import load_set_configs
    from espnet2_tsdia.simulate.generate import SimulationError, generate_set, verify_set_dir

    try:
        if args.verify:
            st = verify_set_dir(args.verify)
            print(f"{args.verify}: OK: {st.recordings} recordings, {st.hours:.3f} h, overlap {st.overlap_ratio:.4f} "
                  f"(per recording {st.overlap_ratio_min:.4f}-{st.overlap_ratio_max:.4f})")  # fmt: skip
            return 0
        if not args.config:
            parser.error("a config yaml is required (or --verify DATA_DIR)")
        sets = load_set_configs(args.config)
        if args.list:
            for c in sets:
                print(c.name, c.source or "-")
            return 0
        if args.set is None and len(sets) > 1:
            parser.error(
                f"{args.config} holds {len(sets)} sets; choose one with --set ({', '.join(c.name for c in sets)})"
            )
        chosen = [c for c in sets if args.set in (None, c.name)]
        if not chosen:
            parser.error(f"no set {args.set!r} in {args.config}; sets: {', '.join(c.name for c in sets)}")
        cfg = chosen[0]
        over = {}
        if args.num_conversations is not None:
            over["num_conversations"] = args.num_conversations
        if args.total_hours is not None:
            over["total_hours"] = args.total_hours
        if args.noise_dir is not None:
            over["noise_dir"] = args.noise_dir
        if args.rir_dir is not None:
            over["rir_dir"] = args.rir_dir
        if over:
            cfg = cfg.with_overrides(**over)
        if args.source_dir is None:
            parser.error("--source_dir is required")
        generate_set(cfg, args.source_dir, args.out_dir or f"data/{cfg.name}", nj=args.nj, python=args.python)
    except (ValueError, SimulationError, DataFormatError, FileNotFoundError, FileExistsError) as e:
        return cli.fail(parser.prog, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
