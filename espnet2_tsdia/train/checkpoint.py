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
from typing import Any, Dict, Iterable, Union

import numpy as np
import torch

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
