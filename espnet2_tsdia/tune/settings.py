"""The ``tuning`` section of a training config: what to search, how, and where to keep the study.

The plan names two keys, ``tuning.library`` (``optuna``, ``raytune`` or null) and
``tuning.search_space`` (:mod:`espnet2_tsdia.tune.space`). The other keys are ours, each with a
default, so a config with only the plan's two keys tunes::

    tuning:
      library: optuna            # optuna (default; also for null) or raytune
      search_space: {lr: {low: 1.0e-4, high: 1.0e-2, log: true}, dropout: {low: 0.0, high: 0.3}}
      metric: val_loss           # the objective: a validation metric (default: best_model_criterion's)
      direction: minimize        # or maximize (default: the mode of best_model_criterion for it)
      n_trials: 20               # finished trials the study wants (over every worker and restart)
      pruner: median             # median, successive_halving, hyperband or none
      pruner_conf: {}            # options of the pruner (optuna's names; see PRUNER_OPTIONS)
      sampler: tpe               # tpe or random (optuna; Ray Tune samples at random)
      seed: 0                    # of the sampler
      storage: null              # null: sqlite:///<output_dir>/study.db; else any SQLAlchemy URL
      study_name: null           # null: the output dir's name
      heartbeat_interval: 60     # seconds; a trial silent for 2x this is failed and retried
      n_jobs: 1                  # trials at once on this machine (one per GPU with --gpus)
      resources_per_trial: {cpu: 1, gpu: 0}   # Ray Tune's resources of one trial
      ray_address: null          # null: a local Ray instance; "auto" or host:port: a cluster

A trial's objective is the best value of ``metric`` over its validation rounds (the round that
``*.best.pth`` points at); each round's value is reported as the trial's intermediate result,
which the pruner compares across trials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from espnet2_tsdia.config.checklist import (
    ConfigError,
    is_plan_layout,
    metric_name,
    parse_metric,
    plan_to_espnet,
    suggest,
    validate_tuning,
)
from espnet2_tsdia.tune.space import SearchSpace

DIRECTIONS = ("minimize", "maximize")
PRUNERS = ("median", "successive_halving", "hyperband", "none")
SAMPLERS = ("tpe", "random")
#: Options each pruner accepts in ``pruner_conf`` (Optuna's keyword names; the Ray Tune backend
#: maps the same names onto its ASHA / HyperBand schedulers).
PRUNER_OPTIONS: Dict[str, Tuple[str, ...]] = {
    "median": ("n_startup_trials", "n_warmup_steps", "interval_steps", "n_min_trials"),
    "successive_halving": ("min_resource", "reduction_factor", "min_early_stopping_rate"),
    "hyperband": ("min_resource", "max_resource", "reduction_factor"),
    "none": (),
}
RESOURCE_KEYS = ("cpu", "gpu")

#: Every key of the section, with its default (``library`` and ``search_space`` from the plan).
DEFAULTS: Dict[str, Any] = {
    "library": None,
    "search_space": None,
    "metric": None,
    "direction": None,
    "n_trials": 10,
    "pruner": "median",
    "pruner_conf": {},
    "sampler": "tpe",
    "seed": 0,
    "storage": None,
    "study_name": None,
    "heartbeat_interval": 60,
    "n_jobs": 1,
    "resources_per_trial": {"cpu": 1, "gpu": 0},
    "ray_address": None,
}
SECTION_KEYS = tuple(DEFAULTS)


@dataclass(frozen=True)
class TuningSettings:
    """The validated ``tuning`` section (see the module docstring for every field)."""

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


#: Plan keys that change what the training loss measures: trials that differ in them cannot be
#: compared on the loss.
LOSS_SHAPING_KEYS = (
    "training.loss.main",
    "training.loss.label_smoothing",
    "training.loss.reduction",
    "training.loss.focal_alpha",
    "training.loss.focal_gamma",
    "training.loss.auxiliary.norm_reg",
    "training.loss.auxiliary.contrastive",
)


def comparability_warnings(settings: "TuningSettings") -> List[str]:
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


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def section_issues(section: Any) -> List[str]:
    """Every problem of a ``tuning`` section, each naming its key (empty when it is valid).
    The search space is checked only when it is given (a section may just set the library)."""
    if section is None:
        return []
    if not isinstance(section, dict):
        return [f"tuning: expected a mapping, got {section!r}"]
    issues = []
    for k in section:
        if k not in DEFAULTS:
            issues.append(
                f"tuning.{k}: unknown key{suggest(k, list(SECTION_KEYS))}; expected one of {list(SECTION_KEYS)}"
            )
    issues += validate_tuning(section.get("library"), None)
    if section.get("search_space") is not None:
        try:
            SearchSpace.parse(section["search_space"])
        except ConfigError as e:
            issues += e.issues
    metric = section.get("metric")
    if metric is not None:
        try:
            phase, _ = parse_metric(metric)
        except ValueError as e:
            issues.append(f"tuning.metric: {e}")
        else:
            if phase != "valid":
                issues.append(f"tuning.metric: the objective must be a validation metric (val_...), got {metric!r}")
    choices = {"direction": DIRECTIONS, "pruner": PRUNERS, "sampler": SAMPLERS}
    for k, allowed in choices.items():
        v = section.get(k)
        if v is not None and v not in allowed:
            issues.append(f"tuning.{k}: expected one of {list(allowed)}, got {v!r}{suggest(str(v), allowed)}")
    for k in ("n_trials", "n_jobs"):
        if k in section and not _positive_int(section[k]):
            issues.append(f"tuning.{k}: expected an integer >= 1, got {section[k]!r}")
    hb = section.get("heartbeat_interval")
    if hb is not None and not _positive_int(hb):
        issues.append(f"tuning.heartbeat_interval: expected seconds (an integer >= 1) or null, got {hb!r}")
    seed = section.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        issues.append(f"tuning.seed: expected an integer or null, got {seed!r}")
    for k in ("storage", "study_name", "ray_address"):
        v = section.get(k)
        if v is not None and (not isinstance(v, str) or not v):
            issues.append(f"tuning.{k}: expected a non-empty string or null, got {v!r}")
    pruner = section.get("pruner") or DEFAULTS["pruner"]
    conf = section.get("pruner_conf")
    if conf is not None:
        if not isinstance(conf, dict):
            issues.append(f"tuning.pruner_conf: expected a mapping, got {conf!r}")
        elif pruner in PRUNER_OPTIONS:
            for k, v in conf.items():
                if k not in PRUNER_OPTIONS[pruner]:
                    issues.append(
                        f"tuning.pruner_conf.{k}: not an option of pruner {pruner!r}; expected one of "
                        f"{list(PRUNER_OPTIONS[pruner])}{suggest(k, PRUNER_OPTIONS[pruner])}"
                    )
                elif not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    issues.append(f"tuning.pruner_conf.{k}: expected a number >= 0, got {v!r}")
    res = section.get("resources_per_trial")
    if res is not None:
        if not isinstance(res, dict):
            issues.append(f"tuning.resources_per_trial: expected a mapping like {{cpu: 1, gpu: 0}}, got {res!r}")
        else:
            for k, v in res.items():
                if k not in RESOURCE_KEYS:
                    issues.append(f"tuning.resources_per_trial.{k}: unknown resource; expected {list(RESOURCE_KEYS)}")
                elif not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    issues.append(f"tuning.resources_per_trial.{k}: expected a number >= 0, got {v!r}")
    return issues
