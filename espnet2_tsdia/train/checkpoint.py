"""Atomic checkpoint writing and the training position stored with it.

ESPnet's trainer writes ``checkpoint.pth`` with a plain ``torch.save``: a kill during the
write leaves a truncated file and the run cannot resume. :func:`atomic_save` writes to a
temporary file in the same directory, fsyncs it and renames it over the target (rename is
atomic on POSIX), so the previous checkpoint stays loadable until the new one is complete.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence, Union

import numpy as np
import torch
from espnet2.train.reporter import Reporter

from espnet2_tsdia.utils.atomic import atomic_write

logger = logging.getLogger(__name__)

#: Substrings of state-dict keys holding FAVOR+ random projections (``snapshot_features``).
PROJECTION_SUFFIXES = (".projection",)


def atomic_save(obj: Any, path: Union[str, Path]) -> None:
    """``torch.save`` to ``path`` atomically (temp file + fsync + rename)."""
    atomic_write(path, lambda f: torch.save(obj, f))


@dataclass
class TrainPosition:
    """Where training stands: enough to continue exactly from a mid-epoch checkpoint.

    Args:
        round: finished validation rounds (ESPnet's reporter "epoch").
        step: optimizer steps taken.
        data_epoch: the data epoch in progress (1-based).
        batch_in_epoch: batches of ``data_epoch`` already consumed.
        round_steps: optimizer steps taken in the unfinished round.
        batch_in_round: batches consumed in the unfinished round.
    """

    round: int = 0
    step: int = 0
    data_epoch: int = 1
    batch_in_epoch: int = 0
    round_steps: int = 0
    batch_in_round: int = 0

    def state_dict(self) -> Dict[str, int]:
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: Dict[str, int]) -> "TrainPosition":
        return cls(**state)


def rng_state() -> Dict[str, Any]:
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "random": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["random"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def strip_projections(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The state dict without FAVOR+ projection buffers (``snapshot_features: false``)."""
    return {k: v for k, v in state_dict.items() if not k.endswith(PROJECTION_SUFFIXES)}


def projection_keys(keys: Iterable[str]) -> list:
    return [k for k in keys if k.endswith(PROJECTION_SUFFIXES)]


def relink(path: Union[str, Path], target: str) -> None:
    """Point the symlink ``path`` at ``target`` (relative to its directory), replacing what is there."""
    path = Path(path)
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(target)


def average_states(states: Sequence[Dict[str, torch.Tensor]]) -> Dict[str, torch.Tensor]:
    """The mean of the floating-point tensors of ``states``; FAVOR+ projections and non-float
    tensors are those of ``states[0]`` (the best).

    A mean of projections drawn at different redraws is not a draw of orthogonal random
    features (its rows shrink and lose orthogonality) and would bias the softmax estimate;
    where the projection never changed, the mean would differ from it by rounding.
    """
    best = states[0]
    return {
        k: v
        if k.endswith(PROJECTION_SUFFIXES) or not torch.is_floating_point(v)
        else torch.stack([s[k] for s in states]).mean(dim=0)
        for k, v in best.items()
    }


def average_nbest(
    output_dir: Union[str, Path],
    reporter: Reporter,
    criteria: Sequence[Sequence[str]],
    nbest: Sequence[int],
    suffix: Optional[str] = None,
) -> None:
    """Average the n best round snapshots per criterion, with the files and links of ESPnet's
    ``average_nbest_models``: ``<phase>.<key>.ave_<n>best.[<suffix>.]pth`` (n = 1: a link to
    the best ``<round>epoch.pth``) and ``<phase>.<key>.ave.[<suffix>.]pth`` linking the largest n.

    Our own because ESPnet's (202511) has two defects here: it averages the FAVOR+ projections
    (see :func:`average_states`), and with several n (``keep_nbest_models: [2, 3]``) it starts
    each larger average from the smaller one (it sums into its cache of loaded snapshots).

    Args:
        output_dir: the experiment dir with the ``<round>epoch.pth`` snapshots.
        reporter: ranks the rounds (only rounds with a snapshot on disk).
        criteria: (phase, key, min|max) triples.
        nbest: the n to average; those above the number of ranked rounds are skipped (all
            skipped -> n = 1).
        suffix: inserted before ``pth`` (``till<r>epoch`` for intermediate averages).
    """
    output_dir = Path(output_dir)
    tail = "" if suffix is None else f"{suffix}."
    loaded: Dict[int, Dict[str, torch.Tensor]] = {}

    def snapshot(r: int) -> Dict[str, torch.Tensor]:
        if r not in loaded:
            loaded[r] = torch.load(output_dir / f"{r}epoch.pth", map_location="cpu", weights_only=False)
        return loaded[r]

    for phase, key, mode in criteria:
        if not reporter.has(phase, key):
            continue
        rounds = reporter.sort_epochs(phase, key, mode)
        ns = sorted({n for n in nbest if 1 <= n <= len(rounds)}) or [1]
        for n in ns:
            path = output_dir / f"{phase}.{key}.ave_{n}best.{tail}pth"
            if n == 1:
                relink(path, f"{rounds[0]}epoch.pth")
            else:
                logger.info("averaging the %d best rounds by %s.%s into %s", n, phase, key, path.name)
                atomic_save(average_states([snapshot(r) for r in rounds[:n]]), path)
        relink(output_dir / f"{phase}.{key}.ave.{tail}pth", f"{phase}.{key}.ave_{max(ns)}best.{tail}pth")
