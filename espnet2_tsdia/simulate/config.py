"""The simulation config: one frozen, validated object per simulated set.

A set is described by :class:`SimulationConfig`; its turn-taking model is one of
:data:`TURN_MODELS` (``eend_beta``: EEND's exponential silences; ``histogram``: Landini-style
pause/overlap histograms). Every field is checked in ``__post_init__`` and a bad value raises
``ValueError`` naming the field, the value and what was expected, so a set fails before any work.

Recipe yaml files hold the sets (``egs2/mini_librispeech/diar1/conf/simu/*.yaml``)::

    common:            # applied to every set (each set may override any key)
      fs: 8000
      turn_model: {type: eend_beta, sil_scale: 2.0}
    sets:
      - {name: train_ns2_ov10-20, source: train_clean_5, num_conversations: 500,
         speaker_counts: {2: 1.0}, overlap_range: [0.10, 0.20], seed: 1}

Decision on 1-speaker conversations: their overlap ratio is always 0, so an ``overlap_range``
with a minimum above 0 together with a ``speaker_counts`` that gives 1 speaker any probability is
a config error (put 1-speaker conversations into their own set with a range starting at 0).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

PathLike = Union[str, Path]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def _num(owner: str, name: str, value: Any) -> float:
    """A finite number from a yaml value (PyYAML reads ``5e-2`` as a string)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.{name}: expected a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{owner}.{name}: expected a finite number, got {value!r}")
    return x


def _int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{owner}.{name}: expected an integer, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- histograms
@dataclass(frozen=True)
class Histogram:
    """A histogram of durations in seconds: ``counts[i]`` values in ``[edges[i], edges[i+1])``.

    Sampling draws a bin with probability proportional to its count, then a value uniformly
    inside the bin (the inverse CDF of the piecewise-uniform density, :meth:`quantile`).
    """

    edges: Tuple[float, ...]
    counts: Tuple[float, ...]

    def __post_init__(self) -> None:
        edges = tuple(_num("Histogram", "edges", e) for e in self.edges)
        counts = tuple(_num("Histogram", "counts", c) for c in self.counts)
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "counts", counts)
        if len(edges) != len(counts) + 1 or not counts:
            raise ValueError(
                f"Histogram: expected len(edges) == len(counts) + 1 >= 2, got {len(edges)} edges and {len(counts)} counts"
            )
        if edges[0] < 0 or any(b <= a for a, b in itertools.pairwise(edges)):
            raise ValueError(f"Histogram.edges: expected increasing values >= 0, got {list(edges)}")
        if any(c < 0 for c in counts) or sum(counts) <= 0:
            raise ValueError(f"Histogram.counts: expected counts >= 0 with a positive sum, got {list(counts)}")

    @property
    def total(self) -> float:
        return float(sum(self.counts))

    @property
    def mean(self) -> float:
        e = np.asarray(self.edges)
        c = np.asarray(self.counts)
        return float(((e[:-1] + e[1:]) / 2 * c).sum() / c.sum())

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """Values for uniform draws ``u`` in [0, 1) (vectorised inverse CDF)."""
        c = np.asarray(self.counts, dtype=np.float64)
        e = np.asarray(self.edges, dtype=np.float64)
        cdf = np.concatenate([[0.0], np.cumsum(c) / c.sum()])
        return np.interp(u, cdf, e)

    @classmethod
    def from_values(cls, values: Sequence[float], edges: Sequence[float]) -> "Histogram":
        """Histogram of ``values`` over ``edges`` (values outside the edges are left out)."""
        counts, _ = np.histogram(np.asarray(values, dtype=np.float64), bins=np.asarray(edges, dtype=np.float64))
        return cls(edges=tuple(float(x) for x in edges), counts=tuple(float(x) for x in counts))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "Histogram") -> "Histogram":
        if not isinstance(d, Mapping) or set(d) != {"edges", "counts"}:
            raise ValueError(f"{where}: expected a mapping with keys 'edges' and 'counts', got {d!r}")
        return cls(edges=tuple(d["edges"]), counts=tuple(d["counts"]))

    def to_dict(self) -> Dict[str, List[float]]:
        return {"edges": list(self.edges), "counts": list(self.counts)}


# --------------------------------------------------------------------------- turn models
@dataclass(frozen=True)
class EendBetaModel:
    """EEND's model (Fujita et al. 2019): each speaker's utterances follow each other with an
    exponential silence of mean ``sil_scale`` seconds before each one; speakers are independent
    and all start at 0."""

    sil_scale: float = 2.0

    def __post_init__(self) -> None:
        x = _num("EendBetaModel", "sil_scale", self.sil_scale)
        if x <= 0:
            raise ValueError(f"EendBetaModel.sil_scale: expected > 0 seconds, got {self.sil_scale!r}")
        object.__setattr__(self, "sil_scale", x)

    def to_dict(self) -> Dict[str, Any]:
        return {"type": "eend_beta", "sil_scale": self.sil_scale}


@dataclass(frozen=True)
class HistogramModel:
    """Landini-style conversations (Landini et al. 2022): all utterances of all speakers in one
    shuffled sequence, each placed relative to the end of the previous one: after the same
    speaker a pause from ``pause_same``; after another speaker an overlap from ``overlap`` with
    probability ``overlap_probability``, else a pause from ``pause_diff``.

    ``overlap_probability`` defaults to ``overlap.total / (overlap.total + pause_diff.total)``
    (the histograms' raw counts, as Landini derives it from real RTTMs).
    """

    pause_same: Histogram
    pause_diff: Histogram
    overlap: Histogram
    overlap_probability: Optional[float] = None

    def __post_init__(self) -> None:
        for name in ("pause_same", "pause_diff", "overlap"):
            h = getattr(self, name)
            if isinstance(h, Mapping):
                object.__setattr__(self, name, Histogram.from_dict(h, f"HistogramModel.{name}"))
            elif not isinstance(h, Histogram):
                raise ValueError(f"HistogramModel.{name}: expected a Histogram or {{edges, counts}}, got {h!r}")
        if self.overlap_probability is not None:
            p = _num("HistogramModel", "overlap_probability", self.overlap_probability)
            if not 0 <= p <= 1:
                raise ValueError(
                    f"HistogramModel.overlap_probability: expected 0 <= p <= 1, got {self.overlap_probability!r}"
                )
            object.__setattr__(self, "overlap_probability", p)

    @classmethod
    def from_turns(
        cls,
        turns: Sequence[Any],
        *,
        pause_edges: Sequence[float] = tuple(np.round(np.arange(0, 5.01, 0.1), 2)),
        overlap_edges: Sequence[float] = tuple(np.round(np.arange(0, 3.01, 0.1), 2)),
    ) -> "HistogramModel":
        """Landini's statistics from real turns (``espnet2_tsdia.formats.rttm.Turn``, any recordings).

        Per recording, a speaker's overlapping turns are merged, then turns are taken in onset
        order and each is compared with the one before: same speaker -> ``pause_same``; another
        speaker starting after its end -> ``pause_diff``; before its end -> ``overlap`` (the time
        shared with it). Values outside the edges are left out (Landini drops very long gaps).
        """
        from espnet2_tsdia.formats.rttm import group_by_reco, merge_same_speaker

        same, diff, ov = [], [], []
        for group in group_by_reco(merge_same_speaker(list(turns))[0]).values():
            for prev, t in itertools.pairwise(group):
                gap = t.onset - prev.end
                if t.speaker == prev.speaker:
                    same.append(gap)
                elif gap >= 0:
                    diff.append(gap)
                else:
                    ov.append(min(-gap, t.duration))
        return cls(
            pause_same=Histogram.from_values(same, pause_edges),
            pause_diff=Histogram.from_values(diff, pause_edges),
            overlap=Histogram.from_values(ov, overlap_edges),
        )

    @property
    def p_overlap(self) -> float:
        if self.overlap_probability is not None:
            return self.overlap_probability
        return self.overlap.total / (self.overlap.total + self.pause_diff.total)

    def to_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"type": "histogram"}
        for name in ("pause_same", "pause_diff", "overlap"):
            d[name] = getattr(self, name).to_dict()
        if self.overlap_probability is not None:
            d["overlap_probability"] = self.overlap_probability
        return d


TurnModel = Union[EendBetaModel, HistogramModel]
#: turn-model registry: the ``type`` key in yaml -> class
TURN_MODELS: Dict[str, type] = {"eend_beta": EendBetaModel, "histogram": HistogramModel}


def turn_model_from_dict(d: Mapping[str, Any]) -> TurnModel:
    """Build a turn model from ``{type: <name>, ...}``; the error lists the valid types and keys."""
    if not isinstance(d, Mapping) or "type" not in d:
        raise ValueError(f"turn_model: expected a mapping with a 'type' key (one of {sorted(TURN_MODELS)}), got {d!r}")
    kind = d["type"]
    if kind not in TURN_MODELS:
        raise ValueError(f"turn_model.type: expected one of {sorted(TURN_MODELS)}, got {kind!r}")
    cls = TURN_MODELS[kind]
    valid = {f.name for f in fields(cls)}
    bad = sorted(set(d) - valid - {"type"})
    if bad:
        raise ValueError(f"turn_model ({kind}): unknown keys {bad}; valid keys are {sorted(valid)}")
    return cls(**{k: v for k, v in d.items() if k != "type"})


# --------------------------------------------------------------------------- the set config
OVERLAP_TARGETS = ("natural", "uniform")
_CONFIG = "SimulationConfig"  # the name in error messages
_UNIFORM_1_TO_5 = tuple((n, 0.2) for n in range(1, 6))


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that defines one simulated set; validated on construction.

    Args:
        name: the set name; also the prefix of every recording id (``<name>-<index:07d>``).
        source: the source data dir's name in the recipe (``data/source/<source>``); informative
            for the library, used by ``local/data.sh``.
        num_conversations: the number of conversations; exactly one of this and ``total_hours``.
        total_hours: generate conversations until their total duration reaches this many hours
            (the shortest prefix of the deterministic sequence that does).
        speaker_counts: ``((num_speakers, weight), ...)``, weights normalised; yaml accepts a
            mapping ``{2: 0.5, 3: 0.5}`` or a list of weights for 1, 2, ... speakers.
        overlap_range: ``(min, max)``: every conversation's overlap ratio (overlapped speech /
            speech) lands in ``[min, max]``.
        overlap_target: ``natural``: a conversation whose natural overlap is inside the range is
            kept as the turn model made it; ``uniform``: every conversation is moved towards a
            ratio drawn uniformly in the range, so the set covers the range evenly.
        max_silence_ratio: no conversation has more silence than this fraction of its duration
            (1: no limit). EEND's model reaches low overlap ratios with many speakers only with
            mostly silent conversations; this makes such a set fail instead.
        turn_model: :class:`EendBetaModel` or :class:`HistogramModel` (yaml: ``{type: ...}``).
        min_utts, max_utts: utterances per speaker, drawn uniformly in ``[min_utts, max_utts]``.
        noise_snrs: SNRs in dB, one drawn per noisy mixture; empty: no noise.
        noise_dir: noise audio (a Kaldi dir with wav.scp, or a folder of wav/flac files); None with
            ``noise_snrs`` set: white Gaussian noise from the mixture's seed.
        noise_probability: probability that a mixture gets noise.
        rir_dir: room impulse responses (Kaldi dir or folder); None: no reverberation.
        rir_probability: probability that a speaker of a mixture is reverberated (one RIR per
            speaker, as EEND does); only used with ``rir_dir``.
        gain_db: ``(min, max)``: each placed utterance is scaled by a gain drawn in this range.
        fs: the sampling rate in Hz, a multiple of 1000 (every boundary lies on a millisecond).
        seed: the set's seed; conversation ``i`` uses ``SeedSequence([seed, i])``, so the output
            does not depend on ``nj``.
        max_attempts: redraws of a conversation whose overlap ratio cannot be brought into the
            range before the set fails.
    """

    name: str
    source: Optional[str] = None
    num_conversations: Optional[int] = None
    total_hours: Optional[float] = None
    speaker_counts: Tuple[Tuple[int, float], ...] = _UNIFORM_1_TO_5
    overlap_range: Tuple[float, float] = (0.0, 1.0)
    max_silence_ratio: float = 1.0
    overlap_target: str = "natural"
    turn_model: TurnModel = field(default_factory=EendBetaModel)
    min_utts: int = 10
    max_utts: int = 20
    noise_snrs: Tuple[float, ...] = ()
    noise_dir: Optional[str] = None
    noise_probability: float = 1.0
    rir_dir: Optional[str] = None
    rir_probability: float = 0.5
    gain_db: Tuple[float, float] = (0.0, 0.0)
    fs: int = 8000
    seed: int = 0
    max_attempts: int = 20

    def __post_init__(self) -> None:
        # One check per field, in field order; normalised values (tuples, floats) are set back.
        self._check_set_size()
        self._check_overlap()
        self._check_turns()
        self._check_augmentation()
        self._check_run()

    def _set(self, key: str, value: Any) -> None:
        object.__setattr__(self, key, value)

    def _check_set_size(self) -> None:
        """name, and exactly one of num_conversations and total_hours."""
        o = _CONFIG
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"{o}.name: expected letters, digits and _.+- (no spaces or '/'), got {self.name!r}")
        if (self.num_conversations is None) == (self.total_hours is None):
            raise ValueError(
                f"{o} {self.name!r}: give exactly one of num_conversations and total_hours, "
                f"got num_conversations={self.num_conversations!r} total_hours={self.total_hours!r}"
            )
        if self.num_conversations is not None:
            n = _int(o, "num_conversations", self.num_conversations)
            if n < 1:
                raise ValueError(f"{o}.num_conversations: expected >= 1, got {self.num_conversations!r}")
            self._set("num_conversations", n)
        if self.total_hours is not None:
            h = _num(o, "total_hours", self.total_hours)
            if h <= 0:
                raise ValueError(f"{o}.total_hours: expected > 0, got {self.total_hours!r}")
            self._set("total_hours", h)

    def _check_overlap(self) -> None:
        """speaker_counts, overlap_range (reachable by the speaker counts), overlap_target, max_silence_ratio."""
        o = _CONFIG
        self._set("speaker_counts", _speaker_counts(self.speaker_counts))
        rng = tuple(self.overlap_range) if isinstance(self.overlap_range, (list, tuple)) else ()
        if len(rng) != 2:
            raise ValueError(f"{o}.overlap_range: expected [min, max], got {self.overlap_range!r}")
        lo, hi = _num(o, "overlap_range", rng[0]), _num(o, "overlap_range", rng[1])
        if not 0 <= lo <= hi <= 1:
            raise ValueError(
                f"{o}.overlap_range: expected 0 <= min <= max <= 1 (ratios, not percent), got {self.overlap_range!r}"
            )
        self._set("overlap_range", (lo, hi))
        p1 = dict(self.speaker_counts).get(1, 0.0)
        if lo > 0 and p1 > 0:
            raise ValueError(
                f"{o} {self.name!r}: overlap_range {list(self.overlap_range)} has min {lo} > 0, which no 1-speaker "
                f"conversation can reach (its overlap is always 0), but speaker_counts gives 1 speaker probability "
                f"{p1:.3g}; put 1-speaker conversations in a set whose overlap_range starts at 0"
            )
        if self.overlap_target not in OVERLAP_TARGETS:
            raise ValueError(
                f"{o}.overlap_target: expected one of {list(OVERLAP_TARGETS)}, got {self.overlap_target!r}"
            )
        ms = _num(o, "max_silence_ratio", self.max_silence_ratio)
        if not 0 < ms <= 1:
            raise ValueError(f"{o}.max_silence_ratio: expected 0 < ratio <= 1, got {self.max_silence_ratio!r}")
        self._set("max_silence_ratio", ms)

    def _check_turns(self) -> None:
        """turn_model (a dict from yaml is built) and min_utts/max_utts."""
        o = _CONFIG
        if isinstance(self.turn_model, Mapping):
            self._set("turn_model", turn_model_from_dict(self.turn_model))
        elif not isinstance(self.turn_model, tuple(TURN_MODELS.values())):
            raise ValueError(f"{o}.turn_model: expected one of {sorted(TURN_MODELS)}, got {self.turn_model!r}")
        mn, mx = _int(o, "min_utts", self.min_utts), _int(o, "max_utts", self.max_utts)
        if not 1 <= mn <= mx:
            raise ValueError(f"{o}.min_utts/max_utts: expected 1 <= min_utts <= max_utts, got {mn} and {mx}")
        self._set("min_utts", mn)
        self._set("max_utts", mx)

    def _check_augmentation(self) -> None:
        """noise, reverberation, source paths and gain."""
        o = _CONFIG
        snrs = self.noise_snrs if isinstance(self.noise_snrs, (list, tuple)) else (self.noise_snrs,)
        self._set("noise_snrs", tuple(_num(o, "noise_snrs", s) for s in snrs))
        for k in ("noise_probability", "rir_probability"):
            p = _num(o, k, getattr(self, k))
            if not 0 <= p <= 1:
                raise ValueError(f"{o}.{k}: expected 0 <= p <= 1, got {getattr(self, k)!r}")
            self._set(k, p)
        for k in ("noise_dir", "rir_dir", "source"):
            v = getattr(self, k)
            if v is not None and (not isinstance(v, (str, Path)) or not str(v)):
                raise ValueError(f"{o}.{k}: expected a path string or null, got {v!r}")
            if v is not None:
                self._set(k, str(v))
        if self.noise_dir is not None and not self.noise_snrs:
            raise ValueError(
                f"{o}.noise_dir is {self.noise_dir!r} but noise_snrs is empty: give the SNRs to mix the noise at"
            )
        g = tuple(self.gain_db) if isinstance(self.gain_db, (list, tuple)) else ()
        if len(g) != 2 or _num(o, "gain_db", g[0]) > _num(o, "gain_db", g[1]):
            raise ValueError(f"{o}.gain_db: expected [min, max] in dB with min <= max, got {self.gain_db!r}")
        self._set("gain_db", (float(g[0]), float(g[1])))

    def _check_run(self) -> None:
        """fs, seed, max_attempts."""
        o = _CONFIG
        fs = _int(o, "fs", self.fs)
        if fs <= 0 or fs % 1000:
            raise ValueError(
                f"{o}.fs: expected a positive multiple of 1000 Hz (boundaries lie on milliseconds), got {self.fs!r}"
            )
        self._set("fs", fs)
        seed = _int(o, "seed", self.seed)
        if seed < 0:
            raise ValueError(f"{o}.seed: expected >= 0, got {self.seed!r}")
        self._set("seed", seed)
        if _int(o, "max_attempts", self.max_attempts) < 1:
            raise ValueError(f"{o}.max_attempts: expected >= 1, got {self.max_attempts!r}")

    # ------------------------------------------------------------------ derived
    @property
    def max_speakers(self) -> int:
        return max(n for n, _ in self.speaker_counts)

    @property
    def speaker_probabilities(self) -> Tuple[np.ndarray, np.ndarray]:
        """``(counts, probabilities)`` as arrays, probabilities summing to 1."""
        n = np.array([k for k, _ in self.speaker_counts], dtype=np.int64)
        w = np.array([v for _, v in self.speaker_counts], dtype=np.float64)
        return n, w / w.sum()

    # ------------------------------------------------------------------ yaml
    def to_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "turn_model":
                v = v.to_dict()
            elif f.name == "speaker_counts":
                v = {k: p for k, p in v}
            elif isinstance(v, tuple):
                v = list(v)
            d[f.name] = v
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "") -> "SimulationConfig":
        """Build from a mapping (yaml); unknown keys raise, naming the valid ones."""
        if not isinstance(d, Mapping):
            raise ValueError(f"{where or 'SimulationConfig'}: expected a mapping, got {type(d).__name__}")
        valid = {f.name for f in fields(cls)}
        bad = sorted(set(d) - valid)
        if bad:
            raise ValueError(f"{where + ': ' if where else ''}unknown keys {bad}; valid keys are {sorted(valid)}")
        try:
            return cls(**dict(d))
        except ValueError as e:
            raise ValueError(f"{where}: {e}" if where else str(e)) from None

    @classmethod
    def from_yaml(cls, path: PathLike) -> "SimulationConfig":
        """Load one set from a yaml mapping (a file with ``common``/``sets`` must hold exactly one set)."""
        sets = load_set_configs(path)
        if len(sets) != 1:
            raise ValueError(
                f"{path}: holds {len(sets)} sets {[s.name for s in sets]}; use load_set_configs() or pick one"
            )
        return sets[0]

    def with_overrides(self, **kw: Any) -> "SimulationConfig":
        """A copy with some fields replaced (validated again). ``num_conversations`` given alone
        replaces ``total_hours`` and vice versa."""
        if kw.get("num_conversations") is not None:
            kw.setdefault("total_hours", None)
        if kw.get("total_hours") is not None:
            kw.setdefault("num_conversations", None)
        valid = {f.name for f in fields(self)}
        bad = sorted(set(kw) - valid)
        if bad:
            raise ValueError(f"unknown SimulationConfig keys {bad}; valid keys are {sorted(valid)}")
        return replace(self, **kw)


def _speaker_counts(value: Any) -> Tuple[Tuple[int, float], ...]:
    o = "SimulationConfig.speaker_counts"
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (list, tuple)) for v in value):
        items = [tuple(v) for v in value]
    elif isinstance(value, (list, tuple)) and value:
        items = [(i + 1, v) for i, v in enumerate(value)]
    else:
        raise ValueError(
            f"{o}: expected a mapping {{num_speakers: weight}} or a list of weights for 1, 2, ... speakers, got {value!r}"
        )
    out: Dict[int, float] = {}
    for item in items:
        if len(item) != 2:
            raise ValueError(f"{o}: expected (num_speakers, weight) pairs, got {item!r}")
        k = item[0]
        try:
            n = int(k)
        except (TypeError, ValueError):
            raise ValueError(f"{o}: speaker count must be an integer, got {k!r}") from None
        if n < 1 or str(n) != str(k).strip():
            raise ValueError(f"{o}: speaker count must be an integer >= 1, got {k!r}")
        w = _num(o, str(n), item[1])
        if w < 0:
            raise ValueError(f"{o}: weight of {n} speakers must be >= 0, got {item[1]!r}")
        if w > 0:
            out[n] = w
    if not out:
        raise ValueError(f"{o}: expected at least one positive weight, got {value!r}")
    total = sum(out.values())
    return tuple((n, out[n] / total) for n in sorted(out))


def load_set_configs(path: PathLike) -> List[SimulationConfig]:
    """Load the sets of a recipe yaml: either one set (a mapping with ``name``) or ``common`` +
    ``sets`` (each set overrides ``common``; ``turn_model`` is replaced as a whole).

    Raises:
        ValueError: a bad value, an unknown key or a duplicate set name; the message names the
            file and the set.
    """
    import yaml

    path = Path(path)
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, Mapping):
        raise ValueError(f"{path}: expected a yaml mapping (one set, or 'common' + 'sets'), got {type(doc).__name__}")
    if "sets" not in doc:
        return [SimulationConfig.from_dict(doc, where=f"{path}")]
    bad = sorted(set(doc) - {"common", "sets"})
    if bad:
        raise ValueError(f"{path}: unknown top-level keys {bad}; expected 'common' and 'sets'")
    common = doc.get("common") or {}
    if not isinstance(common, Mapping) or not isinstance(doc["sets"], list) or not doc["sets"]:
        raise ValueError(f"{path}: expected 'common' to be a mapping and 'sets' a non-empty list")
    out: List[SimulationConfig] = []
    for i, s in enumerate(doc["sets"]):
        if not isinstance(s, Mapping):
            raise ValueError(f"{path}: sets[{i}]: expected a mapping, got {s!r}")
        where = f"{path}: set {s.get('name', i)!r}"
        merged = {**common, **s}
        for a, b in (("num_conversations", "total_hours"), ("total_hours", "num_conversations")):
            if s.get(a) is not None and b not in s:
                merged.pop(b, None)  # a set giving its size replaces the size given in common
        out.append(SimulationConfig.from_dict(merged, where=where))
    names = [c.name for c in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{path}: duplicate set names {dup}")
    return out
