"""The ``tuning`` section read: the search space, applying a point to a config, and the study's settings.

:class:`TuningSettings` is the validated section (keys, defaults and checks:
:mod:`espnet2_tsdia.config.tuning_section`); :class:`SearchSpace` its ``search_space``. A point
(``{name: value}``) is applied to a training config through the checklist
(:func:`~espnet2_tsdia.config.layout.emit`), so a searched key lands in exactly the ESPnet option
that training reads, in either config layout::

    search_space:
      lr: {low: 1.0e-4, high: 1.0e-2, log: true}     # float, log scale
      batch_size: {choices: [4, 8, 16]}               # categorical
      encoder.num_layers: {low: 1, high: 4}           # integer (both bounds are integers)
      dropout: {low: 0.0, high: 0.3, step: 0.05}      # float on a grid

A trial's objective is the best value of ``metric`` over its validation rounds (the round that
``*.best.pth`` points at); each round's value is reported as the trial's intermediate result,
which the pruner compares across trials. Running a study is :mod:`espnet2_tsdia.tune`'s.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from espnet2_tsdia.config.checklist import DEFAULT_MODEL_TYPE, ConfigError, metric_name, parse_metric
from espnet2_tsdia.config.layout import emit, is_plan_layout, plan_to_espnet, set_dotted
from espnet2_tsdia.config.tuning_section import DEFAULTS, search_space_issues, search_space_key, section_issues

Number = Union[int, float]


# ----------------------------------------------------------------------------- search space
@dataclass(frozen=True)
class Param:
    """One searched parameter.

    Args:
        name: the name written in the search space (``lr``).
        key: the checklist key it stands for (``training.optimizer.lr``).
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
        issues = search_space_issues(space)
        if issues:
            raise ConfigError(issues)
        params = []
        for name, spec in space.items():
            key = search_space_key(name)
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
        """A copy of ``config`` (nested or ESPnet layout) with the values of ``point`` set."""
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


# ----------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class TuningSettings:
    """The validated ``tuning`` section (every field: :mod:`espnet2_tsdia.config.tuning_section`)."""

    space: SearchSpace
    library: str = "optuna"
    metric: str = "val_loss"
    direction: str = "minimize"
    n_trials: int = 10
    pruner: str = "median"
    pruner_conf: Dict[str, Any] = field(default_factory=dict)
    sampler: str = "tpe"
    seed: Optional[int] = 0
    storage: Optional[str] = None
    study_name: Optional[str] = None
    heartbeat_interval: Optional[int] = 60
    n_jobs: int = 1
    resources_per_trial: Dict[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0})
    ray_address: Optional[str] = None

    @property
    def phase_key(self) -> Tuple[str, str]:
        """The ESPnet reporter's (phase, key) of the metric: val_loss -> (valid, loss)."""
        return parse_metric(self.metric)

    @property
    def minimize(self) -> bool:
        return self.direction == "minimize"

    def better(self, a: float, b: float) -> bool:
        return a < b if self.minimize else a > b

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> "TuningSettings":
        """The settings of a training config's ``tuning`` section (either layout), with
        ``overrides`` (command-line values, None = not given) on top. :class:`ConfigError`
        lists every problem, each naming its key, before anything runs."""
        section = dict(config.get("tuning") or {})
        for k, v in overrides.items():
            if v is not None:
                section[k] = v
        issues = section_issues(section)
        if section.get("search_space") is None:
            issues += search_space_issues(None)
        if issues:
            raise ConfigError(issues)
        values = {**DEFAULTS, **section}
        space = SearchSpace.parse(values["search_space"])
        criterion = best_model_criterion(config)
        metric = values["metric"] or metric_name(criterion[0], criterion[1])
        direction = values["direction"]
        if direction is None:
            mode = criterion[2] if parse_metric(metric) == tuple(criterion[:2]) else "min"
            direction = "minimize" if mode == "min" else "maximize"
        return cls(
            space=space,
            library=values["library"] or "optuna",
            metric=metric,
            direction=direction,
            n_trials=values["n_trials"],
            pruner=values["pruner"],
            pruner_conf=dict(values["pruner_conf"] or {}),
            sampler=values["sampler"],
            seed=values["seed"],
            storage=values["storage"],
            study_name=values["study_name"],
            heartbeat_interval=values["heartbeat_interval"],
            n_jobs=values["n_jobs"],
            resources_per_trial={**DEFAULTS["resources_per_trial"], **(values["resources_per_trial"] or {})},
            ray_address=values["ray_address"],
        )


#: Checklist keys that change what the training loss measures: trials that differ in them
#: cannot be compared on the loss.
LOSS_SHAPING_KEYS = (
    "training.loss.main",
    "training.loss.label_smoothing",
    "training.loss.reduction",
    "training.loss.focal_alpha",
    "training.loss.focal_gamma",
    "training.loss.auxiliary.norm_reg",
    "training.loss.auxiliary.contrastive",
)


def comparability_warnings(settings: TuningSettings) -> List[str]:
    """Why the objective may not compare trials fairly (the loss as objective while the search
    changes the loss itself)."""
    if settings.phase_key[1] not in ("loss", "loss_main"):
        return []
    shaping = [p.name for p in settings.space.params if p.key in LOSS_SHAPING_KEYS]
    if not shaping:
        return []
    return [
        f"tuning.metric {settings.metric}: the search changes the loss itself ({', '.join(shaping)}), so trials "
        f"are not compared on the same scale; prefer a metric the loss settings do not change "
        f"(val_target_error, val_accuracy)"
    ]


def best_model_criterion(config: Mapping[str, Any]) -> Tuple[str, str, str]:
    """(phase, key, mode) of the config's first best_model_criterion (default valid loss min)."""
    cfg = dict(config)
    if is_plan_layout(cfg):
        cfg, _ = plan_to_espnet({k: v for k, v in cfg.items() if k != "tuning"}, strict=False)
    crit = cfg.get("best_model_criterion") or [["valid", "loss", "min"]]
    phase, key, mode = crit[0]
    return phase, key, mode
