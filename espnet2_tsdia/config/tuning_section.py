"""The schema of a training config's ``tuning`` section: its keys, their defaults, and every check.

The checklist names two keys, ``tuning.library`` (``optuna``, ``raytune`` or null) and
``tuning.search_space``; the other keys are ours, each with a default, so a config with only the
two tunes::

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

A search space maps a name (a training key such as ``training.optimizer.lr``, or a short alias
of :data:`~espnet2_tsdia.config.checklist.SEARCH_SPACE_ALIASES` such as ``lr``) to a range
``{low, high[, log | step]}`` or to ``{choices: [...]}``.

The section is read by :class:`espnet2_tsdia.config.tuning.TuningSettings`; this module holds
only what ``config check``, the layout conversion and the tuner all validate with.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Tuple

from espnet2_tsdia.config.checklist import KNOB_BY_KEY, KNOBS, SEARCH_SPACE_ALIASES, TUNING_KEYS, parse_metric, suggest

LIBRARIES = ("optuna", "raytune")
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
RANGE_FIELDS = ("low", "high", "log", "step", "choices")

#: Every key of the section (the checklist's :data:`TUNING_KEYS`, in its order) with its default.
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
if tuple(DEFAULTS) != TUNING_KEYS:  # pragma: no cover - guards edits of either table
    raise RuntimeError(f"tuning DEFAULTS {list(DEFAULTS)} differ from the checklist's TUNING_KEYS {list(TUNING_KEYS)}")


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def search_space_key(name: str) -> str:
    """The training key a search-space name stands for (``lr`` -> ``training.optimizer.lr``)."""
    return SEARCH_SPACE_ALIASES.get(name, name)


def _range_issues(where: str, spec: Mapping[str, Any]) -> List[str]:
    """Problems of one ``{low, high[, log | step]}`` or ``{choices: [...]}`` entry."""
    extra = set(spec) - set(RANGE_FIELDS)
    if extra:
        return [f"{where}: unknown range fields {sorted(extra)}; expected low, high, log, step or choices"]
    issues = [
        f"{where}.{f}: {spec[f]!r} is a string; YAML reads 1e-4 as text, write 1.0e-4"
        for f in ("low", "high", "step")
        if isinstance(spec.get(f), str) and _looks_numeric(spec[f])
    ]
    if "log" in spec and not isinstance(spec["log"], bool):
        issues.append(f"{where}.log: expected true or false, got {spec['log']!r}")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            return issues + [f"{where}.choices: expected a non-empty list, got {choices!r}"]
        if "step" in spec:
            issues.append(f"{where}: step applies to ranges, not to choices")
        if len({repr(c) for c in choices}) != len(choices):
            issues.append(f"{where}.choices: repeated values in {choices!r}")
        bad = [c for c in choices if not isinstance(c, (str, int, float, bool)) and c is not None]
        if bad:
            issues.append(f"{where}.choices: values must be numbers, strings, booleans or null, got {bad[0]!r}")
        return issues
    if not {"low", "high"} <= set(spec):
        return issues + [f"{where}: a range needs low and high, got {dict(spec)!r}"]
    low, high = spec["low"], spec["high"]
    if not (_number(low) and _number(high) and low < high):
        return issues + [f"{where}: expected numbers low < high, got low={low!r} high={high!r}"]
    if spec.get("log") and low <= 0:
        issues.append(f"{where}: a log range needs low > 0, got {low!r}")
    step = spec.get("step")
    if step is not None:
        if not _number(step) or step <= 0:
            issues.append(f"{where}.step: expected a number > 0, got {step!r}")
        elif spec.get("log"):
            issues.append(f"{where}: a range takes log or step, not both")
    return issues


def search_space_issues(space: Any) -> List[str]:
    """Every problem of a ``tuning.search_space`` (empty when it is valid): each name a training
    key of the checklist (or an alias such as ``lr``) with a valid range or list of choices."""
    if space is None or space == {}:
        return ["tuning.search_space: empty; give at least one key with a range or choices"]
    if not isinstance(space, dict):
        return [f"tuning.search_space: expected a mapping of key -> range, got {space!r}"]
    issues = []
    names = list(SEARCH_SPACE_ALIASES) + [k.key for k in KNOBS if k.stage == "train"]
    for name, spec in space.items():
        where = f"tuning.search_space.{name}"
        key = search_space_key(name)
        if key not in KNOB_BY_KEY or KNOB_BY_KEY[key].stage != "train":
            issues.append(f"{where}: not a training key of the checklist{suggest(str(name), names)}")
        elif not isinstance(spec, dict):
            issues.append(f"{where}: expected {{low, high[, log]}} or {{choices: [...]}}, got {spec!r}")
        else:
            issues += _range_issues(where, spec)
    return issues


def section_issues(section: Any) -> List[str]:
    """Every problem of a ``tuning`` section, each naming its key (empty when it is valid).
    The search space is checked only when it is given (a section may just set the library)."""
    if section is None:
        return []
    if not isinstance(section, dict):
        return [f"tuning: expected a mapping, got {section!r}"]
    issues = [
        f"tuning.{k}: unknown key{suggest(str(k), TUNING_KEYS)}; expected one of {list(TUNING_KEYS)}"
        for k in section
        if k not in DEFAULTS
    ]
    library = section.get("library")
    if library is not None and library not in LIBRARIES:
        issues.append(f"tuning.library: expected one of {list(LIBRARIES)} or null, got {library!r}")
    if section.get("search_space") is not None:
        issues += search_space_issues(section["search_space"])
    metric = section.get("metric")
    if metric is not None:
        try:
            phase, _ = parse_metric(metric)
        except ValueError as e:
            issues.append(f"tuning.metric: {e}")
        else:
            if phase != "valid":
                issues.append(f"tuning.metric: the objective must be a validation metric (val_...), got {metric!r}")
    for k, allowed in (("direction", DIRECTIONS), ("pruner", PRUNERS), ("sampler", SAMPLERS)):
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
    issues += _pruner_conf_issues(section.get("pruner") or DEFAULTS["pruner"], section.get("pruner_conf"))
    issues += _resources_issues(section.get("resources_per_trial"))
    return issues


def _pruner_conf_issues(pruner: str, conf: Any) -> List[str]:
    if conf is None:
        return []
    if not isinstance(conf, dict):
        return [f"tuning.pruner_conf: expected a mapping, got {conf!r}"]
    if pruner not in PRUNER_OPTIONS:
        return []  # the unknown pruner is reported on its own
    issues = []
    for k, v in conf.items():
        if k not in PRUNER_OPTIONS[pruner]:
            issues.append(
                f"tuning.pruner_conf.{k}: not an option of pruner {pruner!r}; expected one of "
                f"{list(PRUNER_OPTIONS[pruner])}{suggest(str(k), PRUNER_OPTIONS[pruner])}"
            )
        elif not _number(v) or v < 0:
            issues.append(f"tuning.pruner_conf.{k}: expected a number >= 0, got {v!r}")
    return issues


def _resources_issues(res: Any) -> List[str]:
    if res is None:
        return []
    if not isinstance(res, dict):
        return [f"tuning.resources_per_trial: expected a mapping like {{cpu: 1, gpu: 0}}, got {res!r}"]
    issues = []
    for k, v in res.items():
        if k not in RESOURCE_KEYS:
            issues.append(f"tuning.resources_per_trial.{k}: unknown resource; expected {list(RESOURCE_KEYS)}")
        elif not _number(v) or v < 0:
            issues.append(f"tuning.resources_per_trial.{k}: expected a number >= 0, got {v!r}")
    return issues
