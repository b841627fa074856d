"""The search space of ``tuning.search_space``: parameters, their validation, and applying a point.

A search space maps a name (a plan key such as ``training.optimizer.lr``, or one of the short
aliases of :data:`~espnet2_tsdia.config.checklist.SEARCH_SPACE_ALIASES` such as ``lr``) to a
range or a list of choices::

    search_space:
      lr: {low: 1.0e-4, high: 1.0e-2, log: true}     # float, log scale
      batch_size: {choices: [4, 8, 16]}               # categorical
      encoder.num_layers: {low: 1, high: 4}           # integer (both bounds are integers)
      dropout: {low: 0.0, high: 0.3, step: 0.05}      # float on a grid

A point (``{name: value}``) is applied to a training config through the checklist
(:func:`~espnet2_tsdia.config.checklist.emit`), so a plan key lands in exactly the ESPnet
option that training reads, in either config layout.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from espnet2_tsdia.config.checklist import (
    DEFAULT_MODEL_TYPE,
    SEARCH_SPACE_ALIASES,
    ConfigError,
    emit,
    is_plan_layout,
    set_dotted,
    validate_tuning,
)

Number = Union[int, float]


@dataclass(frozen=True)
class Param:
    """One searched parameter.

    Args:
        name: the name written in the search space (``lr``).
        key: the plan key it stands for (``training.optimizer.lr``).
        low, high: the range (numbers), or None for choices.
        log: sample the range on a log scale.
        step: grid step of the range (None: continuous floats / every integer).
        choices: the values of a categorical parameter.
    """

    name: str
    key: str
    low: Optional[Number] = None
    high: Optional[Number] = None
    log: bool = False
    step: Optional[Number] = None
    choices: Optional[Tuple[Any, ...]] = None

    @property
    def kind(self) -> str:
        """``choice``, ``int`` (both bounds integers) or ``float``."""
        if self.choices is not None:
            return "choice"
        if _is_int(self.low) and _is_int(self.high) and (self.step is None or _is_int(self.step)):
            return "int"
        return "float"

    def corners(self) -> Tuple[Any, Any]:
        """The two extreme values (first and last choice, or low and high)."""
        if self.choices is not None:
            return self.choices[0], self.choices[-1]
        return self.low, self.high

    def describe(self) -> str:
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        scale = ", log" if self.log else ""
        step = f", step {self.step}" if self.step is not None else ""
        return f"{self.kind} in [{self.low}, {self.high}]{scale}{step}"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class SearchSpace:
    """The parsed ``tuning.search_space`` (parameters in the order written)."""

    params: Tuple[Param, ...]

    @classmethod
    def parse(cls, space: Any) -> "SearchSpace":
        """Validate and parse; :class:`ConfigError` lists every problem, each naming its key."""
        if space is None or space == {}:
            raise ConfigError(["tuning.search_space: empty; give at least one key with a range or choices"])
        issues = validate_tuning(None, space) + _extra_issues(space)
        if issues:
            raise ConfigError(issues)
        params = []
        for name, spec in space.items():
            key = SEARCH_SPACE_ALIASES.get(name, name)
            if "choices" in spec:
                params.append(Param(name=name, key=key, choices=tuple(spec["choices"])))
            else:
                params.append(
                    Param(
                        name=name,
                        key=key,
                        low=spec["low"],
                        high=spec["high"],
                        log=bool(spec.get("log", False)),
                        step=spec.get("step"),
                    )
                )
        return cls(tuple(params))

    @property
    def names(self) -> List[str]:
        return [p.name for p in self.params]

    def corner_points(self) -> List[Dict[str, Any]]:
        """The all-low and the all-high point (checked before any trial starts)."""
        return [{p.name: p.corners()[i] for p in self.params} for i in (0, 1)]

    def apply(self, config: Mapping[str, Any], point: Mapping[str, Any]) -> Dict[str, Any]:
        """A copy of ``config`` (plan or ESPnet layout) with the values of ``point`` set."""
        out = copy.deepcopy(dict(config))
        by_name = {p.name: p for p in self.params}
        unknown = set(point) - set(by_name)
        if unknown:
            raise ValueError(f"values for names outside the search space: {sorted(unknown)}")
        if is_plan_layout(out):
            for name, value in point.items():
                _set_nested(out, by_name[name].key, value)
            return out
        context = {"model_type": out.get("model_type") or DEFAULT_MODEL_TYPE}
        for name, value in point.items():
            for dotted, v in emit(by_name[name].key, value, context).items():
                set_dotted(out, dotted, v)
        return out

    def espnet_options(self, config: Mapping[str, Any]) -> Dict[str, str]:
        """ESPnet option (top-level name) -> the search-space name that writes it."""
        out = {}
        point = self.corner_points()[0]
        context = {"model_type": config.get("model_type") or DEFAULT_MODEL_TYPE}
        for p in self.params:
            for dotted in emit(p.key, point[p.name], context):
                out[dotted.split(".", 1)[0]] = p.name
        return out


def _extra_issues(space: Mapping[str, Any]) -> List[str]:
    """What :func:`validate_tuning` leaves out: steps, int-valued log ranges, YAML's 1e-4."""
    issues = []
    for name, spec in space.items():
        where = f"tuning.search_space.{name}"
        if not isinstance(spec, dict):
            continue
        for field in ("low", "high", "step"):
            v = spec.get(field)
            if isinstance(v, str) and _looks_numeric(v):
                issues.append(f"{where}.{field}: {v!r} is a string; YAML reads 1e-4 as text, write 1.0e-4")
        step = spec.get("step")
        if step is not None:
            if "choices" in spec:
                issues.append(f"{where}: step applies to ranges, not to choices")
            elif not isinstance(step, (int, float)) or isinstance(step, bool) or step <= 0:
                issues.append(f"{where}.step: expected a number > 0, got {step!r}")
            elif spec.get("log"):
                issues.append(f"{where}: a range takes log or step, not both")
        if "log" in spec and not isinstance(spec["log"], bool):
            issues.append(f"{where}.log: expected true or false, got {spec['log']!r}")
        if "choices" in spec and isinstance(spec["choices"], list):
            if len({repr(c) for c in spec["choices"]}) != len(spec["choices"]):
                issues.append(f"{where}.choices: repeated values in {spec['choices']!r}")
            bad = [c for c in spec["choices"] if not isinstance(c, (str, int, float, bool)) and c is not None]
            if bad:
                issues.append(f"{where}.choices: values must be numbers, strings, booleans or null, got {bad[0]!r}")
    return issues


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _set_nested(cfg: Dict[str, Any], key: str, value: Any) -> None:
    node = cfg
    parts = key.split(".")
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[parts[-1]] = value


def format_point(point: Mapping[str, Any], names: Sequence[str]) -> str:
    """``lr=0.001 batch_size=8`` in the search space's order (for logs)."""
    return " ".join(f"{n}={_fmt(point[n])}" for n in names if n in point)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
