#!/usr/bin/env python3
"""Check and convert training configs against the researcher's checklist.

Usage:
    python -m espnet2_tsdia.bin.config check conf/train_encoder_decoder_softmax.yaml
    python -m espnet2_tsdia.bin.config check plan.yaml --no_build
    python -m espnet2_tsdia.bin.config convert plan.yaml -o conf/train.yaml        # plan -> ESPnet
    python -m espnet2_tsdia.bin.config convert conf/train.yaml -o plan.yaml        # ESPnet -> plan
    python -m espnet2_tsdia.bin.config table                                       # the checklist (markdown)

``check`` prints every plan key with its resolved value, status and consumer, then every
other ESPnet option the config sets; it exits 1 naming each unknown, misspelled, conflicting
or unconsumed key. ``convert`` detects the layout of its input (nested sections such as
``training:``/``global_config:`` = the plan's layout) and writes the other one.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

import yaml

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="resolve a config and report every key")
    p.add_argument("config")
    p.add_argument("--no_build", action="store_true", help="skip building the model/optimizer/scheduler")
    p = sub.add_parser("convert", help="plan layout <-> ESPnet yaml")
    p.add_argument("config")
    p.add_argument("-o", "--output", default="-", help="output yaml ('-' = stdout)")
    p.add_argument("--to", choices=("espnet", "plan"), default=None, help="target layout (default: the other one)")
    sub.add_parser("table", help="print the checklist as a markdown table")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    if args.command == "table":
        from espnet2_tsdia.config.check import knob_table_markdown

        print(knob_table_markdown())
        return 0
    from espnet2_tsdia.config.check import load_yaml

    cfg = load_yaml(args.config)
    if args.command == "check":
        from espnet2_tsdia.config.check import check_config

        report = check_config(cfg, build=not args.no_build)
        print(report.render())
        return 0 if report.ok else 1
    from espnet2_tsdia.config.check import convert
    from espnet2_tsdia.config.checklist import ConfigError

    try:
        _, out = convert(cfg, to=args.to)
    except (ConfigError, ValueError) as e:
        for issue in getattr(e, "issues", [str(e)]):
            print(f"ERROR: {issue}", file=sys.stderr)
        return 1
    text = yaml.safe_dump(out, sort_keys=False, default_flow_style=False)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
