"""A trial of a study as every backend reports it, and the best of a study."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence

from espnet2_tsdia.tune.trial import COMPLETE

RUNNING = "running"


@dataclass
class TrialRecord:
    """One trial of a study, whatever the backend."""

    number: int
    state: str
    params: Dict[str, Any]
    value: Optional[float] = None
    best_round: Optional[int] = None
    rounds: Dict[int, float] = field(default_factory=dict)
    exp_dir: str = ""
    message: str = ""


def best_record(records: Sequence[TrialRecord], minimize: bool) -> Optional[TrialRecord]:
    done = [r for r in records if r.state == COMPLETE and r.value is not None]
    if not done:
        return None
    return min(done, key=lambda r: r.value) if minimize else max(done, key=lambda r: r.value)
