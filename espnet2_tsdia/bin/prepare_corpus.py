#!/usr/bin/env python3
"""Prepare (or download) one corpus as Kaldi-style data dirs.

Usage:
    python -m espnet2_tsdia.bin.prepare_corpus ami --corpus_dir /data/ami --out_dir data
    python -m espnet2_tsdia.bin.prepare_corpus ami --corpus_dir /data/ami --out_dir data --stream Array1-01
    python -m espnet2_tsdia.bin.prepare_corpus ami download --corpus_dir /data/ami --stream Array1-01
    python -m espnet2_tsdia.bin.prepare_corpus aishell4 dirs --out_dir data --parts test
    python -m espnet2_tsdia.bin.prepare_corpus ami validate --out_dir data
    python -m espnet2_tsdia.bin.prepare_corpus chime6 --corpus_dir /data/chime6 --out_dir data --mic worn
    python -m espnet2_tsdia.bin.prepare_corpus libricss download --corpus_dir /data/libricss
    python -m espnet2_tsdia.bin.prepare_corpus ami --help      # the corpus's own options

Corpora: the names in :mod:`espnet2_tsdia.corpora.registry`; each corpus module declares its own
options and actions (:class:`espnet2_tsdia.corpora.cli.CorpusCli`).

Actions (after the corpus name):

- ``prepare`` (default): writes ``<out_dir>/<corpus>_<split>`` dirs and their ``prep_report.txt``
  from ``--corpus_dir``, and prints each dir it wrote, one per line.
- ``download``: fetches the corpus into ``--corpus_dir`` (resumable, checksummed where a checksum
  is published; for files behind Google Drive it says what to fetch by hand and checks it).
- ``dirs``: prints the data dirs that ``prepare`` writes with these options, one per line.
- ``validate``: checks each of those dirs with the corpus's rules (sample rate, global speaker
  ids); prints the errors and warnings and a summary per dir; exit status 1 if one is unusable.
- ``options``: prints the corpus's own options, one per line: name, default, help, separated by
  tabs (the recipes' ``local/data.sh`` reads it).

Errors are one line on stderr naming the file: exit status 2 for bad input (a bad option, a
broken corpus: missing audio, an annotation naming an unknown recording), 1 for a failed download
(network, bad checksum) or a corpus that cannot be built here (missing packages).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from espnet2_tsdia.corpora.cli import CorpusCli
from espnet2_tsdia.corpora.registry import all_corpus_clis, corpus_cli
from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)

ACTIONS = ("prepare", "download", "dirs", "validate", "options")


def actions_of(spec: CorpusCli) -> List[str]:
    names = [a for a in ACTIONS if a != "download" or spec.download is not None]
    return names + list(spec.actions)


def add_corpus_arguments(p: argparse.ArgumentParser, name: str, spec: CorpusCli) -> None:
    """The arguments of one corpus: the action, the shared options, then the corpus's own."""
    p.add_argument("action", nargs="?", default="prepare", choices=actions_of(spec), help="what to do")
    if spec.needs_corpus_dir:
        p.add_argument("--corpus_dir", default=None, help="the corpus root (the recipe's db.sh variable)")
    p.add_argument("--out_dir", default="data", help=spec.out_dir_help)
    cli.add_log_level(p)
    shared = list(p._actions)
    spec.add_arguments(p.add_argument_group(f"options of {name}"))
    p.set_defaults(corpus=name, prog=p.prog, own_options=[a for a in p._actions if a not in shared])


def corpus_parser(name: str, doc: Optional[str]) -> argparse.ArgumentParser:
    """A parser for one corpus alone (``prepare_librispeech``, ``prepare_offline_speech``)."""
    p = cli.get_parser(doc, prog=f"prepare_{name}")
    add_corpus_arguments(p, name, corpus_cli(name))
    return p


def get_parser() -> argparse.ArgumentParser:
    parser = cli.get_parser(__doc__, prog="prepare_corpus")
    sub = parser.add_subparsers(dest="corpus", required=True, metavar="corpus", parser_class=cli.ArgumentParser)
    for name, spec in all_corpus_clis().items():
        p = sub.add_parser(name, help=spec.summary, description=spec.summary, formatter_class=cli.HelpFormatter)
        add_corpus_arguments(p, name, spec)
    return parser


def data_dirs(args: argparse.Namespace) -> List[str]:
    """Names (under ``--out_dir``) of the data dirs ``prepare`` writes with these options."""
    return corpus_cli(args.corpus).data_dirs(args)


def print_options(args: argparse.Namespace) -> None:
    """The corpus's own options as ``name<TAB>default<TAB>help`` lines (defaults as a shell
    script gives them: lists space-separated, booleans true/false, None empty)."""
    for action in args.own_options:
        if not action.option_strings or action.nargs not in (None, "?") or action.const is not None:
            raise TypeError(f"{args.corpus}: option {action.dest} does not take exactly one value")
        print(f"{action.dest}\t{cli.shell_value(action.default)}\t{' '.join((action.help or '').split())}")


def validate(args: argparse.Namespace, spec: CorpusCli) -> int:
    from espnet2_tsdia.data.validate import validate_data_dir

    status = 0
    for name in spec.data_dirs(args):
        path = Path(args.out_dir) / name
        if not (path / "wav.scp").is_file():
            raise FileNotFoundError(f"{path}: no data dir (no wav.scp); run the prepare action first")
        logger.info("validating %s", path)
        report = validate_data_dir(path, **spec.validation(args))
        for problem in report.problems:
            if problem.severity != "info":
                print(problem)
        print(f"{path}: {report.summary()}")
        status = status or (0 if report.usable() else 1)
    return status


def run(args: argparse.Namespace) -> List[str]:
    """Prepare or download; returns the data dirs written (prepare) or an empty list."""
    spec = corpus_cli(args.corpus)
    if spec.needs_corpus_dir:
        if args.corpus_dir is None:
            raise ValueError(f"--corpus_dir is required for {args.action} (the recipe's db.sh sets it)")
        args.corpus_dir = Path(args.corpus_dir)
    args.out_dir = Path(args.out_dir)
    if args.action == "download":
        spec.download(args)
        return []
    if spec.needs_corpus_dir and not args.corpus_dir.is_dir():
        raise FileNotFoundError(
            f"{args.corpus_dir}: corpus root does not exist; download the corpus first (action 'download') or fix the path in db.sh"
        )
    written = []
    for name, summary in spec.prepare(args).items():
        logger.info("%s: %s", args.out_dir / name, summary)
        written.append(str(args.out_dir / name))
    return written


def act(args: argparse.Namespace) -> int:
    """Do ``args.action`` for ``args.corpus``; returns the exit status."""
    import urllib.error

    cli.setup_logging(args.log_level)
    spec = corpus_cli(args.corpus)

    def body() -> Optional[int]:
        if args.action == "options":
            return print_options(args)
        if args.action == "validate":
            return validate(args, spec)
        if args.action in spec.actions:
            return spec.actions[args.action](args)
        dirs = [str(Path(args.out_dir) / d) for d in spec.data_dirs(args)] if args.action == "dirs" else run(args)
        for d in dirs:
            print(d)
        return 0

    # a network error (URLError is an OSError) or a bad checksum (a RuntimeError) is a failed
    # download; the rest (DataFormatError is a ValueError, missing files are OSErrors) bad input
    return cli.run(body, prog=args.prog, failures=(urllib.error.URLError, RuntimeError))


def main(argv: Optional[List[str]] = None) -> int:
    return act(get_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
