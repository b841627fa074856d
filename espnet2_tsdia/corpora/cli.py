"""How a corpus module declares its command line.

Every corpus module ends with ``CLI = CorpusCli(...)``: its own options (``add_arguments``) and
what each action does with the parsed options. ``python -m espnet2_tsdia.bin.prepare_corpus
<corpus> [action] [options]`` builds one sub-command per registered corpus
(:mod:`espnet2_tsdia.corpora.registry`) and adds the options every corpus shares (``--corpus_dir``,
``--out_dir``, ``--log_level``); a recipe's ``local/data.sh`` (the template's
``utils/corpus_data.sh``) takes the corpus's options from the ``options`` action.

Corpus options are single values that a shell script can pass on (lists as ``'a b c'`` with
:func:`espnet2_tsdia.utils.cli.str_list`, booleans as ``true``/``false`` with
:func:`espnet2_tsdia.utils.cli.str2bool`); an empty default (None or an empty list) means "not
given".
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

from espnet2_tsdia.corpora.common import split_dir_name
from espnet2_tsdia.data.datadir import PrepReport

Args = argparse.Namespace


@dataclass(frozen=True)
class CorpusCli:
    """A corpus on the command line.

    Attributes:
        summary: one line for ``prepare_corpus --help``.
        add_arguments: adds the corpus's own options to its sub-command's parser.
        prepare: writes the data dirs under ``args.out_dir`` from ``args.corpus_dir`` (both
            :class:`~pathlib.Path`); returns ``{data dir name: one-line summary}``.
        data_dirs: the names (under ``--out_dir``) of the data dirs ``prepare`` writes with
            these options, without reading the corpus.
        download: fetches the corpus into ``args.corpus_dir`` (resumable, checked), or says what
            to fetch by hand; None: the corpus has no download.
        validation: keyword arguments of :func:`espnet2_tsdia.data.validate.validate_data_dir`
            for this corpus's dirs (sample rate, global speaker ids) with these options.
        needs_corpus_dir: ``prepare`` reads a corpus root (False: it builds its corpus itself).
        out_dir_help: what ``--out_dir`` holds.
        actions: further actions, ``name -> function(args)``.
    """

    summary: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    prepare: Callable[[Args], Mapping[str, str]]
    data_dirs: Callable[[Args], List[str]]
    download: Optional[Callable[[Args], None]] = None
    validation: Callable[[Args], Dict[str, Any]] = lambda args: {}
    needs_corpus_dir: bool = True
    out_dir_help: str = "where the data dirs go"
    actions: Mapping[str, Callable[[Args], Optional[int]]] = field(default_factory=dict)


def split_dirs(prefix: str) -> Callable[[Args], List[str]]:
    """``data_dirs`` of a corpus with a ``--splits`` option: ``<prefix>_<split>`` per split."""
    return lambda args: [split_dir_name(prefix, s) for s in args.splits]


def summarize(reports: Mapping[str, PrepReport]) -> Dict[str, str]:
    """``prepare``'s return value from the corpus functions' ``{dir name: PrepReport}``."""
    return {name: f"{r.text().splitlines()[0]} (details in {name}/prep_report.txt)" for name, r in reports.items()}


def path_or_none(value: Optional[str]) -> Optional[Path]:
    return Path(value) if value else None
