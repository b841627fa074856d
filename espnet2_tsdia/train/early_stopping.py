"""Early stopping with min_delta and mode on ESPnet's per-round Reporter values."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

logger = logging.getLogger(__name__)


def improves(value: float, best: Optional[float], *, mode: str, min_delta: float) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` in direction ``mode``."""
    if best is None:
        return True
    if mode == "min":
        return value < best - min_delta
    return value > best + min_delta


def rounds_without_improvement(values: Sequence[float], *, mode: str, min_delta: float) -> int:
    """Rounds since the last improvement (0 when the last value improved).

    A value improves when it beats the best value *at its time* by more than ``min_delta``
    (Keras semantics): a run of tiny gains does not reset the count.
    """
    best, since = None, 0
    for v in values:
        if improves(v, best, mode=mode, min_delta=min_delta):
            best, since = v, 0
        else:
            since += 1
    return since


def best_round(rounds_and_values: Sequence[Tuple[int, float]], *, mode: str, min_delta: float = 0.0) -> int:
    """The round whose value was the last improvement (rounds in training order)."""
    best, best_r = None, None
    for r, v in rounds_and_values:
        if improves(v, best, mode=mode, min_delta=min_delta):
            best, best_r = v, r
    if best_r is None:
        raise ValueError("best_round: no values")
    return best_r


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``phase.key`` has not improved by more than ``min_delta`` for ``patience`` rounds.

    Args:
        patience: rounds (validations) without improvement before stopping; None = never.
        phase: valid or train (ESPnet reporter key).
        key: the metric (e.g. loss).
        mode: min or max.
        min_delta: the smallest change counted as an improvement (>= 0).
    """

    patience: Optional[int] = None
    phase: str = "valid"
    key: str = "loss"
    mode: str = "min"
    min_delta: float = 0.0

    def __post_init__(self):
        if self.patience is not None and self.patience < 0:
            raise ValueError(f"training.early_stopping.patience must be >= 0 or null, got {self.patience}")
        if self.mode not in ("min", "max"):
            raise ValueError(f"training.early_stopping.mode must be 'min' or 'max', got {self.mode!r}")
        if self.min_delta < 0:
            raise ValueError(f"training.early_stopping.min_delta must be >= 0, got {self.min_delta}")

    def history(self, reporter) -> list:
        """[(round, value)] in round order from an ESPnet Reporter."""
        out = []
        for r in sorted(reporter.stats):
            stats = reporter.stats[r].get(self.phase, {})
            if self.key in stats:
                out.append((r, float(stats[self.key])))
        return out

    def should_stop(self, reporter) -> bool:
        if self.patience is None:
            return False
        values = [v for _, v in self.history(reporter)]
        if not values:
            return False
        since = rounds_without_improvement(values, mode=self.mode, min_delta=self.min_delta)
        if since > self.patience:
            logger.info(
                "[early stopping] %s.%s has not improved by more than %g for %d rounds (patience %d)",
                self.phase,
                self.key,
                self.min_delta,
                since,
                self.patience,
            )
            return True
        return False

    def best(self, reporter) -> Optional[int]:
        hist = self.history(reporter)
        return best_round(hist, mode=self.mode, min_delta=self.min_delta) if hist else None
