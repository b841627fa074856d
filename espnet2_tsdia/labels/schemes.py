"""The label-scheme registry: frame activity + target speaker -> class labels.

A scheme is an ``encode(activity, target, max_speakers) -> labels`` function, where
``activity`` is the (S, T) boolean speaker activity of one recording (rows in a canonical
speaker order) and ``target`` the row of the target speaker, plus the inverse
``target_activity(labels) -> (T,) bool`` used for round trips and scoring.

Built in:

- ``powerset`` (default, C = 4): class = target + 2 * [any other speaker active]: 0 silence,
  1 target only, 2 others only, 3 target overlapped. Labels (T,) in {0, 1, 2, 3}.
- ``binary`` (C = 2): target active or not. Labels (T,) in {0, 1}.
- ``speaker_id`` (C = max_speakers, multi-label): column 0 the target, then the other speakers
  in row order, up to ``max_speakers`` columns (speakers past it are dropped: the caller reports
  it); labels (T, C) multi-hot.

Register your own with :func:`register_scheme`. Labels are returned as ``int8`` (what is stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Union

import numpy as np

Encoder = Callable[[np.ndarray, int, int], np.ndarray]
Decoder = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class LabelScheme:
    """A registered scheme.

    Attributes:
        name: registry key.
        encode: ``(activity (S, T) bool, target, max_speakers) -> (T,) or (T, C) int8``.
        target_activity: ``labels -> (T,) bool`` (where the target talks).
        classes: C, or a function of ``max_speakers`` giving C.
        multi_label: labels are (T, C) multi-hot (sigmoid outputs) rather than (T,) class ids.
        description: one line for help texts.
    """

    name: str
    encode: Encoder
    target_activity: Decoder
    classes: Union[int, Callable[[int], int]]
    multi_label: bool = False
    description: str = ""

    def num_classes(self, max_speakers: int) -> int:
        return self.classes(max_speakers) if callable(self.classes) else int(self.classes)

    def __call__(self, activity: np.ndarray, target: int, max_speakers: int) -> np.ndarray:
        """Validate the inputs and the encoder's output shape, then return int8 labels."""
        activity = np.asarray(activity)
        if activity.ndim != 2 or activity.dtype != bool:
            raise ValueError(f"activity must be a (S, T) bool array, got {activity.dtype} {activity.shape}")
        if not 0 <= target < activity.shape[0]:
            raise ValueError(f"target row must be in [0, {activity.shape[0]}), got {target}")
        labels = np.asarray(self.encode(activity, target, max_speakers))
        t = activity.shape[1]
        c = self.num_classes(max_speakers)
        want = (t, c) if self.multi_label else (t,)
        if labels.shape != want:
            raise ValueError(f"scheme {self.name!r} returned shape {labels.shape}, expected {want}")
        if labels.size and (labels.min() < 0 or labels.max() >= (2 if self.multi_label else c)):
            raise ValueError(f"scheme {self.name!r} returned values outside [0, {c}): {np.unique(labels)}")
        return labels.astype(np.int8)


SCHEMES: Dict[str, LabelScheme] = {}


def register_scheme(
    name: str,
    *,
    encode: Encoder,
    target_activity: Decoder,
    classes: Union[int, Callable[[int], int]],
    multi_label: bool = False,
    description: str = "",
    overwrite: bool = False,
) -> LabelScheme:
    """Add a scheme to the registry (``overwrite=False``: a taken name raises ValueError)."""
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"scheme names are letters, digits and '_', got {name!r}")
    if name in SCHEMES and not overwrite:
        raise ValueError(f"label scheme {name!r} is already registered (pass overwrite=True to replace it)")
    scheme = LabelScheme(name, encode, target_activity, classes, multi_label, description)
    SCHEMES[name] = scheme
    return scheme


def get_scheme(name: str) -> LabelScheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown label scheme {name!r}; registered: {sorted(SCHEMES)}") from None


def scheme_names() -> List[str]:
    return sorted(SCHEMES)


# ----------------------------------------------------------------------------- built-ins
def _others(activity: np.ndarray, target: int) -> np.ndarray:
    return np.delete(activity, target, axis=0)


def _powerset(activity: np.ndarray, target: int, max_speakers: int) -> np.ndarray:
    return activity[target].astype(np.int8) + 2 * _others(activity, target).any(axis=0).astype(np.int8)


def _binary(activity: np.ndarray, target: int, max_speakers: int) -> np.ndarray:
    return activity[target].astype(np.int8)


def _speaker_id(activity: np.ndarray, target: int, max_speakers: int) -> np.ndarray:
    rows = np.concatenate([activity[target : target + 1], _others(activity, target)])[:max_speakers]
    out = np.zeros((activity.shape[1], max_speakers), dtype=np.int8)
    out[:, : rows.shape[0]] = rows.T
    return out


register_scheme(
    "powerset",
    encode=_powerset,
    target_activity=lambda y: (np.asarray(y) == 1) | (np.asarray(y) == 3),
    classes=4,
    description="0 silence, 1 target only, 2 others only, 3 target overlapped",
)
register_scheme(
    "binary",
    encode=_binary,
    target_activity=lambda y: np.asarray(y) == 1,
    classes=2,
    description="1 where the target talks",
)
register_scheme(
    "speaker_id",
    encode=_speaker_id,
    target_activity=lambda y: np.asarray(y)[:, 0] > 0,
    classes=lambda max_speakers: max_speakers,
    multi_label=True,
    description="multi-hot over [target, other speakers...] up to max_speakers",
)
