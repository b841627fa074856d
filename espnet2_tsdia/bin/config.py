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
``training:``/``global_config:`` = the plan's layout) and writes the other one; a file it
cannot read or convert is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

import yaml

from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = cli.get_parser(__doc__, prog="config")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=cli.ArgumentParser)
    p = sub.add_parser("check", help="resolve a config and report every key")
    p.add_argument("config")
    p.add_argument("--no_build", action="store_true", help="skip building the model/optimizer/scheduler")
    cli.add_log_level(p, "WARNING")
    p = sub.add_parser("convert", help="plan layout <-> ESPnet yaml")
    p.add_argument("config")
    p.add_argument("-o", "--output", default="-", help="output yaml ('-' = stdout)")
    p.add_argument("--to", choices=("espnet", "plan"), default=None, help="target layout (default: the other one)")
    cli.add_log_level(p, "WARNING")
    p = sub.add_parser("table", help="print the checklist as a markdown table")
    cli.add_log_level(p, "WARNING")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)
    if args.command == "table":
        from espnet2_tsdia.config.check import knob_table_markdown

        print(knob_table_markdown())
        return 0
    from espnet2_tsdia.config.check import load_yaml

    try:
        cfg = load_yaml(args.config)
    except (OSError, yaml.YAMLError) as e:
        return cli.fail(parser.prog, f"{args.config}: {e}")
    if args.command == "check":
        from espnet2_tsdia.config.check import check_config

        report = check_config(cfg, build=not args.no_build)
        print(report.render())
        return 0 if report.ok else 1
    from espnet2_tsdia.config.check import convert
    from espnet2_tsdia.config.checklist import ConfigError

    try:
        _, out = convert(cfg, to=args.to)
    except (ConfigError, ValueError) as e:  # a ConfigError's message lists every issue
        return cli.fail(parser.prog, f"{args.config}: {e}")
    text = yaml.safe_dump(out, sort_keys=False, default_flow_style=False)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
