"""The corpora on the command line: one name per corpus module that declares ``CLI``.

``python -m espnet2_tsdia.bin.prepare_corpus <name>`` runs the :class:`~espnet2_tsdia.corpora.cli.CorpusCli`
of ``espnet2_tsdia.corpora.<name>``. A new corpus adds its module (ending with ``CLI = CorpusCli(...)``)
and its name here.
"""

from __future__ import annotations

import importlib
from typing import Dict

from espnet2_tsdia.corpora.cli import CorpusCli

CORPORA = (
    "ami",
    "icsi",
    "aishell4",
    "voxconverse",
    "ava_avd",
    "msdwild",
    "chime6",
    "libricss",
    "tedlium",
    "voxceleb",
    "ego4d",
    "libriheavymix",
    "dihard3",
    "callhome",
    "librispeech",
    "offline_speech",
)


def corpus_cli(name: str) -> CorpusCli:
    """The declaration of corpus ``name``; ValueError for a name that is not registered."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; registered: {', '.join(CORPORA)}")
    spec = getattr(importlib.import_module(f"espnet2_tsdia.corpora.{name}"), "CLI", None)
    if not isinstance(spec, CorpusCli):
        raise TypeError(f"espnet2_tsdia.corpora.{name} has no CLI = CorpusCli(...) declaration")
    return spec


def all_corpus_clis() -> Dict[str, CorpusCli]:
    return {name: corpus_cli(name) for name in CORPORA}
