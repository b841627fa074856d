"""The two layouts of a training config and the conversion between them.

The *nested* layout is the researcher's checklist (``model_type``, ``global_config``,
``encoder``, ``decoder``, ``training.*``, ``eval_knobs``, ``tuning``, plus ``espnet:`` for
options passed verbatim); the *ESPnet* layout is the flat namespace of
``python -m espnet2_tsdia.bin.tsdia_train`` (``max_epoch``, ``optim_conf``, ...), the only one
the recipes ship. Every conversion goes through the rows of
:data:`~espnet2_tsdia.config.checklist.KNOBS`:

- :func:`plan_to_espnet` / :func:`espnet_to_plan` convert a whole config (``config convert``);
- :func:`emit` / :func:`read_plan_value` convert one key (the tuner sets searched values with it);
- :func:`inactive_reason` says why nothing reads a key under a config (a ``momentum`` for
  adamw: an error when the key is set), :func:`attention_ignores` why the chosen attention
  ignores it (``nb_features`` with softmax attention: ``config check`` warns);
- :func:`espnet_config_argument` lets the training entry take a nested-layout ``--config``.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from espnet2_tsdia.config.checklist import (
    DEFAULT_MODEL_TYPE,
    KNOB_BY_KEY,
    KNOBS,
    LEAF_CONTAINERS,
    MISSING,
    MODEL_TYPES,
    PASSTHROUGH,
    PRECEDENCE,
    ConfigError,
    is_inert,
    metric_name,
    parse_metric,
    stacks_of,
    suggest,
)
from espnet2_tsdia.config.tuning_section import section_issues
from espnet2_tsdia.layers.attention import ATTENTION_TYPES, FavorKernel
from espnet2_tsdia.losses.frame_losses import FOCAL_CAPABLE
from espnet2_tsdia.networks.registry import stack_conf
from espnet2_tsdia.stacks.transformer import TransformerStack
from espnet2_tsdia.train.optimizers import PLAN_OPTIMIZERS, plan_keys_read_by
from espnet2_tsdia.train.schedulers import SCHEDULE_KEYS

logger = logging.getLogger(__name__)

STACK_ROLES = ("encoder", "decoder")
#: Stack keys that only the FAVOR+ kernels read (softmax attention ignores them).
FAVOR_STACK_KEYS = ("nb_features", "feature_redraw_interval", "auto_check_redraw")
#: Training keys that reach every stack and are read by FAVOR+ kernels only.
FAVOR_TRAINING_KEYS = ("training.feature_redraw_interval", "training.fixed_projection")


def flatten_plan(plan: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any], List[str]]:
    """Nested plan config -> ({dotted key: value}, espnet passthrough, issues for unknown keys)."""
    if not isinstance(plan, dict):
        raise ConfigError([f"a plan config must be a mapping, got {type(plan).__name__}"])
    flat: Dict[str, Any] = {}
    issues: List[str] = []
    passthrough = plan.get(PASSTHROUGH) or {}
    if not isinstance(passthrough, dict):
        issues.append(f"{PASSTHROUGH}: must be a mapping of ESPnet options, got {passthrough!r}")
        passthrough = {}

    def walk(prefix: str, node: Dict[str, Any]):
        for name, value in node.items():
            key = f"{prefix}{name}"
            if key == PASSTHROUGH:
                continue
            if key in KNOB_BY_KEY:
                if isinstance(value, dict) and key not in LEAF_CONTAINERS:
                    issues.append(f"{key}: expected a value, got a mapping {value!r}")
                else:
                    flat[key] = value
                continue
            children = [k.key for k in KNOBS if k.key.startswith(key + ".")]
            if children and isinstance(value, dict):
                walk(key + ".", value)
            elif children:
                issues.append(f"{key}: expected a section (mapping) with keys like {children[0]!r}, got {value!r}")
            else:
                issues.append(f"{key}: unknown key{suggest(key, list(KNOB_BY_KEY) + [PASSTHROUGH])}")

    walk("", {k: v for k, v in plan.items()})
    return flat, passthrough, issues


def nest(flat: Dict[str, Any]) -> Dict[str, Any]:
    """{dotted: value} -> nested dicts (in the table's order)."""
    out: Dict[str, Any] = {}
    order = {k.key: i for i, k in enumerate(KNOBS)}
    for key in sorted(flat, key=lambda k: order.get(k, len(order))):
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = flat[key]
    return out


def set_dotted(cfg: Dict[str, Any], dotted: str, value: Any) -> None:
    head, _, field = dotted.partition(".")
    if field:
        conf = cfg.setdefault(head, {})
        if conf is None:
            conf = cfg[head] = {}
        conf[field] = value
    else:
        cfg[head] = value


def get_dotted(cfg: Dict[str, Any], dotted: str) -> Any:
    head, _, field = dotted.partition(".")
    if head not in cfg:
        return MISSING
    if not field:
        return cfg[head]
    conf = cfg[head]
    if not isinstance(conf, dict) or field not in conf:
        return MISSING
    return conf[field]


# ----------------------------------------------------------------------------- plan -> ESPnet


def _model_type(flat: Dict[str, Any]) -> str:
    return flat.get("model_type") or DEFAULT_MODEL_TYPE


def emit(key: str, value: Any, flat: Dict[str, Any]) -> Dict[str, Any]:
    """ESPnet assignments {dotted option: value} for one plan key (``flat``: the whole config)."""
    knob = KNOB_BY_KEY[key]
    model_type = _model_type(flat)
    if knob.target.startswith("{stacks}"):
        field = knob.target.split(".", 1)[1]
        return {f"{s}_conf.{field}": value for s in stacks_of(model_type)}
    if key == "global_config.device":
        if value not in ("cpu", "cuda"):
            raise ValueError(f"global_config.device: expected 'cpu' or 'cuda', got {value!r}")
        return {"ngpu": 0 if value == "cpu" else 1}
    if key == "training.optimizer.type":
        return {"optim": str(value).lower()}
    if key == "training.optimizer.betas":
        return {"optim_conf.betas": None if value is None else [float(v) for v in value]}
    if key.startswith("training.scheduler."):
        out = {knob.target: value}
        if key == "training.scheduler.type":
            out = {"scheduler": None if value is None else "tsdia"}
            if value is not None:
                out["scheduler_conf.type"] = value
                if value == "plateau":
                    out["val_scheduler_criterion"] = list(
                        parse_metric(flat.get("training.validation.metric_for_best_model") or "val_loss")
                    )
        return out
    if key in ("training.validation.metric_for_best_model", "training.validation.greater_is_better"):
        metric = flat.get("training.validation.metric_for_best_model") or "val_loss"
        mode = "max" if flat.get("training.validation.greater_is_better") else "min"
        return {"best_model_criterion": [[*parse_metric(metric), mode]]}
    if key in ("training.early_stopping.metric", "training.early_stopping.mode"):
        metric = flat.get("training.early_stopping.metric") or "val_loss"
        mode = flat.get("training.early_stopping.mode") or "min"
        if mode not in ("min", "max"):
            raise ValueError(f"training.early_stopping.mode: expected 'min' or 'max', got {mode!r}")
        return {"early_stopping_criterion": [*parse_metric(metric), mode]}
    if key == "training.checkpoint.monitor_metric":
        if value is None:
            return {}
        mode = "max" if flat.get("training.validation.greater_is_better") else "min"
        return {"checkpoint_monitor": [*parse_metric(value), mode]}
    if key == "training.checkpoint.save_total_limit":
        return {"keep_nbest_models": None if value is None else [int(value)]}
    if key == "training.checkpoint.resume":
        if value is None or value is False:
            return {"resume": False}
        if value is True:
            return {"resume": True}
        return {"resume": True, "resume_checkpoint": str(value)}
    if key == "training.logging.log_model":
        return {"wandb_model_log_interval": 1 if value else -1}
    if key == "training.callbacks":
        names, confs = callbacks_to_espnet(value)
        out = {"callbacks": names}
        if confs:
            out["callback_conf"] = confs
        return out
    return {knob.target: value}


def callbacks_to_espnet(value: Any) -> Tuple[List[str], Dict[str, Dict[str, Any]]]:
    """Plan ``training.callbacks`` (names, or mappings with ``name`` plus options) ->
    ESPnet (``callbacks`` names, ``callback_conf`` {name: options})."""
    if value is None:
        return [], {}
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"training.callbacks: expected a list of names or mappings, got {value!r}")
    names, confs = [], {}
    for item in value:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            conf = {k: v for k, v in item.items() if k != "name"}
            names.append(item["name"])
            if conf:
                confs[item["name"]] = conf
        else:
            raise ValueError(f"training.callbacks: each item must be a name or a mapping with 'name', got {item!r}")
    return names, confs


def inactive_reason(key: str, flat: Dict[str, Any]) -> Optional[str]:
    """Why nothing reads ``key`` under this config, or None when something does."""
    model_type = _model_type(flat)
    if model_type not in MODEL_TYPES:
        return None
    section = key.split(".", 1)[0]
    # decoder.num_classes (the head) and decoder.similarity (the mixture stack's input) are the
    # network's, whatever its stacks
    if section in ("encoder", "decoder") and key not in ("decoder.num_classes", "decoder.similarity"):
        if section not in stacks_of(model_type):
            return f"model_type {model_type!r} has no {section}"
    if key == "decoder.use_cross_attention" and model_type == "decoder":
        return "model_type 'decoder' has no encoder to attend to"
    if key.startswith("training.optimizer.") and key != "training.optimizer.type":
        name = str(flat.get("training.optimizer.type") or "adadelta").lower()
        if name in PLAN_OPTIMIZERS and key.rsplit(".", 1)[1] not in plan_keys_read_by(name):
            return f"optimizer {name!r} does not read it"
    if key.startswith("training.scheduler.") and key != "training.scheduler.type":
        stype = flat.get("training.scheduler.type")
        if stype is None:
            return "no scheduler (training.scheduler.type is null)"
        if stype in SCHEDULE_KEYS and key.rsplit(".", 1)[1] not in SCHEDULE_KEYS[stype]:
            return f"scheduler {stype!r} does not read it"
    if key == "training.amp_loss_scale" and not flat.get("training.mixed_precision"):
        return "training.mixed_precision is false"
    if key == "training.loss.auxiliary.speaker_contrastive" and not flat.get("decoder.similarity"):
        return "decoder.similarity is not set (the loss needs its speaker embeddings)"
    if key in ("training.loss.focal_alpha", "training.loss.focal_gamma"):
        main = flat.get("training.loss.main") or "cross_entropy"
        if main not in FOCAL_CAPABLE:
            return f"loss {main!r} takes no focal terms"
    if key in ("training.early_stopping.metric", "training.early_stopping.mode"):
        if flat.get("training.early_stopping.patience") is None and not flat.get(
            "training.early_stopping.restore_best_weights"
        ):
            return "early_stopping.patience is null and restore_best_weights is false"
    if key == "training.early_stopping.min_delta" and flat.get("training.early_stopping.patience") is None:
        return "early_stopping.patience is null"
    if key == "training.checkpoint.monitor_metric" and not flat.get("training.checkpoint.save_best_only"):
        return "training.checkpoint.save_best_only is false"
    if key in ("training.performance.prefetch_factor", "training.performance.persistent_workers"):
        if not flat.get("training.performance.num_workers"):
            return "training.performance.num_workers is 0 (no worker processes)"
    if key in ("training.logging.wandb_project", "training.logging.wandb_entity", "training.logging.log_model"):
        if not flat.get("training.logging.wandb"):
            return "training.logging.wandb is false"
    return None


def stack_attention(stack: str, flat: Dict[str, Any]) -> str:
    """The ``attention_type`` of ``stack`` under this config (the role's default when unset)."""
    value = flat.get(f"{stack}.attention_type")
    if value is None:
        value = stack_conf(_model_type(flat), stack).get(
            "attention_type", inspect.signature(TransformerStack).parameters["attention_type"].default
        )
    return value


def reads_favor_settings(attention_type: str) -> bool:
    """Whether the kernel of ``attention_type`` is a FAVOR+ kernel (the only ones that read
    nb_features, the redraw settings and fixed_projection); unknown types count as reading."""
    kernel = ATTENTION_TYPES.get(attention_type)
    return kernel is None or issubclass(kernel, FavorKernel)


def _favor_types() -> List[str]:
    return [name for name, kernel in ATTENTION_TYPES.items() if issubclass(kernel, FavorKernel)]


def attention_ignores(key: str, flat: Dict[str, Any]) -> Optional[str]:
    """Why the chosen attention ignores ``key`` (a FAVOR+ setting of a stack with softmax
    attention), or None. Keys of a stack the model type lacks are :func:`inactive_reason`'s."""
    model_type = _model_type(flat)
    if model_type not in MODEL_TYPES:
        return None
    section, _, name = key.partition(".")
    if section in STACK_ROLES and name in FAVOR_STACK_KEYS:
        if section not in stacks_of(model_type):
            return None
        kind = stack_attention(section, flat)
        if reads_favor_settings(kind):
            return None
        return f"{section}.attention_type is {kind!r}; only {_favor_types()} attention reads it"
    if key in FAVOR_TRAINING_KEYS:
        kinds = {s: stack_attention(s, flat) for s in stacks_of(model_type)}
        favor = [s for s, kind in kinds.items() if reads_favor_settings(kind)]
        if not favor:
            said = " and ".join(f"{s}.attention_type is {kind!r}" for s, kind in kinds.items())
            return f"{said}; only {_favor_types()} attention reads it"
        if key == "training.feature_redraw_interval" and all(
            flat.get(f"{s}.feature_redraw_interval") is not None for s in favor
        ):
            own = " and ".join(f"{s}.feature_redraw_interval" for s in favor)
            return f"{own} set: a stack's own key wins"
    return None


def validate_plan_values(flat: Dict[str, Any]) -> List[str]:
    """Issues for values that are of the wrong kind, independent of ESPnet."""
    issues = []
    mt = flat.get("model_type")
    if mt is not None and mt not in MODEL_TYPES:
        issues.append(
            f"model_type: unknown model type {mt!r}; expected one of {list(MODEL_TYPES)}{suggest(str(mt), MODEL_TYPES)}"
        )
    for key in ("eval_knobs.batch_size", "eval_knobs.beam_width", "eval_knobs.sliding_window"):
        v = flat.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            issues.append(f"{key}: expected an integer >= 1 or null, got {v!r}")
    v = flat.get("eval_knobs.max_duration")
    if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0):
        issues.append(f"eval_knobs.max_duration: expected a number > 0 or null, got {v!r}")
    issues += section_issues({k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith("tuning.")})
    for key in (
        "training.validation.metric_for_best_model",
        "training.early_stopping.metric",
        "training.checkpoint.monitor_metric",
    ):
        v = flat.get(key)
        if v is not None:
            try:
                parse_metric(v)
            except ValueError as e:
                issues.append(f"{key}: {e}")
    for key in ("training.early_stopping.mode", "training.scheduler.mode"):
        v = flat.get(key)
        if v is not None and v not in ("min", "max"):
            issues.append(f"{key}: expected 'min' or 'max', got {v!r}")
    return issues


def plan_to_espnet(plan: Dict[str, Any], *, strict: bool = True) -> Tuple[Dict[str, Any], List[str]]:
    """Plan layout -> ESPnet yaml dict.

    Returns (espnet config, issues). With ``strict`` a non-empty issue list raises
    :class:`ConfigError`; otherwise conflicts are resolved by :data:`PRECEDENCE` and
    returned as issues together with unknown and not-consumed keys.
    """
    flat, passthrough, issues = flatten_plan(plan)
    issues += validate_plan_values(flat)
    for key, value in flat.items():
        knob = KNOB_BY_KEY[key]
        reason = inactive_reason(key, flat)
        if reason and not is_inert(knob, value):
            issues.append(f"{key}={value!r} is not consumed: {reason}")

    assigned: Dict[str, Tuple[str, Any]] = {}
    espnet: Dict[str, Any] = {}
    for key, value in flat.items():
        if inactive_reason(key, flat):
            continue
        try:
            assignments = emit(key, value, flat)
        except ValueError as e:
            issues.append(str(e))
            continue
        for dotted, v in assignments.items():
            if dotted in assigned and assigned[dotted][0] != key:
                other, other_v = assigned[dotted]
                same_option = {other, key} in [
                    {"training.validation.metric_for_best_model", "training.validation.greater_is_better"},
                    {"training.early_stopping.metric", "training.early_stopping.mode"},
                ]
                if same_option:
                    continue
                if other_v != v:
                    issues.append(
                        f"conflict: {key}={value!r} and {other}={flat[other]!r} both set {dotted}; "
                        f"{_winner(key, other)} wins (documented precedence)"
                    )
                if _winner(key, other) == other:
                    continue
            assigned[dotted] = (key, v)
    for dotted, (_, v) in assigned.items():
        set_dotted(espnet, dotted, v)
    for name, value in passthrough.items():
        if isinstance(value, dict) and isinstance(espnet.get(name), dict):
            for field, v in value.items():
                if field in espnet[name] and espnet[name][field] != v:
                    issues.append(
                        f"conflict: {PASSTHROUGH}.{name}.{field}={v!r} and the plan key that sets {name}.{field}"
                    )
                espnet[name].setdefault(field, v)
        elif name in espnet and espnet[name] != value:
            issues.append(
                f"conflict: {PASSTHROUGH}.{name}={value!r} and the plan key that sets {name}={espnet[name]!r}"
            )
        else:
            espnet[name] = value
    if strict and issues:
        raise ConfigError(issues)
    return espnet, issues


def _winner(a: str, b: str) -> str:
    for winner, loser in PRECEDENCE:
        if {a, b} == {winner, loser}:
            return winner
    return a


# ----------------------------------------------------------------------------- ESPnet -> plan


def read_plan_value(key: str, cfg: Dict[str, Any]) -> Any:
    """The plan value of ``key`` in an ESPnet config dict, or MISSING. Raises ValueError when the
    ESPnet config holds something the plan cannot express."""
    knob = KNOB_BY_KEY[key]
    model_type = cfg.get("model_type") or DEFAULT_MODEL_TYPE
    if knob.target.startswith("{stacks}"):
        field = knob.target.split(".", 1)[1]
        if key == "training.feature_redraw_interval":
            return MISSING  # written back per stack (encoder./decoder. keys)
        values = {s: get_dotted(cfg, f"{s}_conf.{field}") for s in stacks_of(model_type)}
        present = {s: v for s, v in values.items() if v is not MISSING}
        if not present:
            return MISSING
        if len(set(map(repr, present.values()))) > 1 or len(present) != len(values):
            raise ValueError(
                f"{key}: the plan has one value for every stack, but the ESPnet config has "
                + ", ".join(f"{s}_conf.{field}={v!r}" for s, v in values.items() if v is not MISSING)
                + ("" if len(present) == len(values) else " (and none for the other stack)")
            )
        return next(iter(present.values()))
    if key in ("global_config.batch_size", "checkpoint.snapshot_features"):
        return MISSING  # the winning key carries it back
    if key == "global_config.device":
        ngpu = cfg.get("ngpu", MISSING)
        if ngpu is MISSING:
            return MISSING
        if ngpu not in (0, 1):
            raise ValueError(f"ngpu={ngpu}: the plan's global_config.device says cpu or cuda (one GPU per process)")
        return "cpu" if ngpu == 0 else "cuda"
    if key.startswith("training.scheduler."):
        if cfg.get("scheduler") is None and "scheduler" in cfg:
            return None if key == "training.scheduler.type" else MISSING
        if "scheduler" in cfg and str(cfg["scheduler"]).lower() != "tsdia":
            raise ValueError(
                f"scheduler={cfg['scheduler']!r}: the plan's training.scheduler describes 'scheduler: tsdia' only"
            )
        return get_dotted(cfg, knob.target)
    if key == "training.optimizer.type":
        return cfg.get("optim", MISSING)
    if key == "training.validation.metric_for_best_model" or key == "training.validation.greater_is_better":
        crit = cfg.get("best_model_criterion", MISSING)
        if crit is MISSING:
            return MISSING
        if len(crit) != 1:
            raise ValueError(f"best_model_criterion={crit!r}: the plan has one metric_for_best_model")
        phase, name, mode = crit[0]
        return metric_name(phase, name) if key.endswith("metric_for_best_model") else mode == "max"
    if key in ("training.early_stopping.metric", "training.early_stopping.mode"):
        crit = cfg.get("early_stopping_criterion", MISSING)
        if crit is MISSING:
            return MISSING
        phase, name, mode = crit
        return metric_name(phase, name) if key.endswith("metric") else mode
    if key == "training.checkpoint.monitor_metric":
        crit = cfg.get("checkpoint_monitor", MISSING)
        return MISSING if crit is MISSING or crit is None else metric_name(crit[0], crit[1])
    if key == "training.checkpoint.save_total_limit":
        keep = cfg.get("keep_nbest_models", MISSING)
        if keep is MISSING or keep is None:
            return keep
        keep = [keep] if isinstance(keep, int) else list(keep)
        if len(keep) != 1:
            raise ValueError(f"keep_nbest_models={keep!r}: the plan's save_total_limit is one number")
        return keep[0]
    if key == "training.checkpoint.resume":
        path = cfg.get("resume_checkpoint")
        if path:
            return path
        resume = cfg.get("resume", MISSING)
        return MISSING if resume is MISSING else (True if resume else None)
    if key == "training.logging.log_model":
        v = cfg.get("wandb_model_log_interval", MISSING)
        return MISSING if v is MISSING else v > 0
    if key == "training.callbacks":
        names = cfg.get("callbacks", MISSING)
        if names is MISSING:
            return MISSING
        confs = cfg.get("callback_conf") or {}
        return [dict(name=n, **confs[n]) if confs.get(n) else n for n in names]
    return get_dotted(cfg, knob.target)


#: ESPnet options (or ``option.field``) that plan keys carry; the rest go to ``espnet:``.
def covered_options(cfg: Dict[str, Any]) -> set:
    model_type = cfg.get("model_type") or DEFAULT_MODEL_TYPE
    covered = {
        "scheduler",
        "val_scheduler_criterion",
        "resume",
        "callback_conf",
        "best_model_criterion",
        "early_stopping_criterion",
    }
    for knob in KNOBS:
        if knob.target.startswith("{stacks}"):
            field = knob.target.split(".", 1)[1]
            covered |= {f"{s}_conf.{field}" for s in stacks_of(model_type)}
        else:
            covered.add(knob.target)
    return covered


def espnet_to_plan(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """ESPnet yaml dict -> plan layout (nested), with options the plan lacks under ``espnet:``.

    Raises :class:`ConfigError` listing every option the plan cannot express.
    """
    flat: Dict[str, Any] = {}
    issues: List[str] = []
    for knob in KNOBS:
        try:
            v = read_plan_value(knob.key, cfg)
        except ValueError as e:
            issues.append(str(e))
            continue
        if v is not MISSING:
            flat[knob.key] = v
    if issues:
        raise ConfigError(issues)
    covered = covered_options(cfg)
    rest: Dict[str, Any] = {}
    for name, value in cfg.items():
        if name in covered:
            continue
        if isinstance(value, dict):
            left = {f: v for f, v in value.items() if f"{name}.{f}" not in covered}
            if left or not any(c.startswith(name + ".") for c in covered):
                rest[name] = left if any(c.startswith(name + ".") for c in covered) else value
        else:
            rest[name] = value
    plan = nest(flat)
    if rest:
        plan[PASSTHROUGH] = rest
    return plan


def is_plan_layout(cfg: Dict[str, Any]) -> bool:
    """Whether a loaded yaml is in the plan's nested layout (vs ESPnet's flat one)."""
    if not isinstance(cfg, dict):
        return False
    if any(isinstance(cfg.get(s), dict) for s in ("global_config", "training", "checkpoint")):
        return True
    if isinstance(cfg.get("encoder"), dict) or isinstance(cfg.get("decoder"), dict):
        return True
    return "name" in cfg or PASSTHROUGH in cfg


def espnet_config_argument(cmd: Sequence[str], workdir: Path) -> List[str]:
    """``cmd`` for ESPnet's parser: when ``--config X`` names a nested-layout yaml, its ESPnet
    form is written to ``workdir`` and ``--config`` points there (ESPnet reads the file while it
    parses the command line). Raises :class:`ConfigError` naming the file and every problem."""
    out = list(cmd)
    for i, token in enumerate(out):
        if token == "--config" and i + 1 < len(out):
            path, j, prefix = out[i + 1], i + 1, ""
        elif token.startswith("--config="):
            path, j, prefix = token.split("=", 1)[1], i, "--config="
        else:
            continue
        with open(path, encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
        if not is_plan_layout(cfg):
            return out
        try:
            espnet, _ = plan_to_espnet(cfg, strict=True)
        except ConfigError as e:
            raise ConfigError([f"{path}: {issue}" for issue in e.issues]) from None
        converted = Path(workdir) / f"{Path(path).stem}.espnet.yaml"
        converted.write_text(yaml.safe_dump(espnet, sort_keys=False), encoding="utf-8")
        logger.info("converted the nested-layout config %s to %s", path, converted)
        out[j] = prefix + str(converted)
        return out
    return out
