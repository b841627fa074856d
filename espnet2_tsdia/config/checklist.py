"""The researcher's checklist: every key of the plan -> the option that carries it -> its consumer.

The plan (``shared/plan/data-prep-plan.md``, "setup training experiments") writes a config
as nested sections (``model_type``, ``global_config``, ``encoder``, ``decoder``,
``training.*``, ``eval_knobs``, ``tuning``). ESPnet reads one flat namespace of options
(``max_epoch``, ``optim_conf``, ...). :data:`KNOBS` is the one table between them: each row
names the plan key, the ESPnet option (dotted into ``*_conf`` dicts) it lands in, the code
that consumes it, its stage (train / inference / tuning / meta) and the value that means
"off". The converters below and ``python -m espnet2_tsdia.bin.config`` are driven by it.

Precedence where the plan names one thing twice (documented decision):

- ``training.batch_size`` wins over ``global_config.batch_size``;
- ``encoder.feature_redraw_interval`` / ``decoder.feature_redraw_interval`` win over
  ``training.feature_redraw_interval`` (a default for both stacks);
- ``training.checkpoint.snapshot_features`` wins over ``checkpoint.snapshot_features`` (the
  plan's Performer section names the same switch).

A conversion applies the precedence; ``config check`` reports both keys as a conflict when
their values differ.

Extensions beyond the plan: ``decoder.causal`` (the plan's decoder is online, causal by
default; ``causal: false`` allows ``attention_type: linear`` there) and an ``espnet:``
section whose options are passed to ESPnet verbatim (data, frontend, label scheme, ...), so a
config survives plan -> ESPnet -> plan unchanged.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

logger = logging.getLogger(__name__)

MISSING = object()

STAGES = ("train", "inference", "tuning", "meta")
MODEL_TYPES = ("encoder", "decoder", "encoder_decoder")
#: The task's default ``model_type`` (used when a config does not say).
DEFAULT_MODEL_TYPE = "encoder_decoder"

STACK_KEYS = (
    "d_model",
    "num_layers",
    "num_heads",
    "attention_type",
    "nb_features",
    "activation",
    "use_rezero",
    "use_scalenorm",
    "feature_redraw_interval",
    "auto_check_redraw",
)
STACK = "espnet2_tsdia.stacks.transformer.TransformerStack"
TRAINER = "espnet2_tsdia.train.trainer.TSDiaTrainer"
ITER = "espnet2_tsdia.train.iterators.TSDiaIterFactory (DataLoader)"
LOSS = "espnet2_tsdia.losses.tsdia_loss.TSDiaLoss via build_loss"
OPTIM = "torch.optim.<optim> via espnet2 AbsTask.build_optimizers"
SCHED = "espnet2_tsdia.train.schedulers.build_tsdia_scheduler (scheduler: tsdia)"
CKPT = "espnet2_tsdia.train.checkpoint (TSDiaTrainer)"
INFER = "espnet2_tsdia.inference.speech2tsdia.resolve_options (EvalKnobs), from config.yaml eval_knobs"
TUNE = "espnet2_tsdia.bin.tune, from config.yaml tuning"


class ConfigError(ValueError):
    """A config problem; ``issues`` lists every one found (each names the key)."""

    def __init__(self, issues: Sequence[str]):
        self.issues = list(issues)
        super().__init__("; ".join(self.issues))


@dataclass(frozen=True)
class Knob:
    """One row of the checklist.

    Args:
        key: the plan's dotted key.
        target: the ESPnet option (``name`` or ``name_conf.field``) it lands in; a
            ``{stacks}`` prefix means every stack the model type has.
        consumer: the code that reads it.
        stage: train, inference, tuning or meta (stored, not read by code).
        inert: the value meaning "off"; a key set to it where nothing reads it is fine.
        note: one line for ``config check``.
    """

    key: str
    target: str
    consumer: str
    stage: str = "train"
    inert: Any = None
    note: str = ""

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"Knob {self.key}: stage must be one of {STAGES}, got {self.stage!r}")


#: Keys of the ``tuning`` section beyond the plan's two (defaults in espnet2_tsdia.tune.settings).
TUNING_EXTENSION_KEYS = (
    "metric",
    "direction",
    "n_trials",
    "pruner",
    "pruner_conf",
    "sampler",
    "seed",
    "storage",
    "study_name",
    "heartbeat_interval",
    "n_jobs",
    "resources_per_trial",
    "ray_address",
)


def _k(key, target, consumer, stage="train", inert=None, note=""):
    return Knob(key=key, target=target, consumer=consumer, stage=stage, inert=inert, note=note)


def _stack_rows(section: str) -> List[Knob]:
    return [_k(f"{section}.{name}", f"{section}_conf.{name}", f"{STACK}({name}=)") for name in STACK_KEYS]


KNOBS: Tuple[Knob, ...] = tuple(
    [
        # --- top level
        _k("model_type", "model_type", "TSDiarizationTask.build_model: networks.NETWORK_TYPES[model_type]"),
        _k("name", "exp_name", f"{TRAINER}: log prefix, tensorboard text, wandb run name"),
        # --- global_config
        _k(
            "global_config.dropout",
            "{stacks}_conf.dropout",
            "TransformerStack(dropout=)",
        ),
        _k(
            "global_config.batch_size",
            "batch_size",
            "espnet2 build_batch_sampler (training batches)",
            note="training.batch_size wins when both are set",
        ),
        _k("global_config.d_ff", "{stacks}_conf.d_ff", "TransformerStack(d_ff=)"),
        _k("global_config.device", "ngpu", "espnet2 AbsTask.main_worker (model.to(device)), TSDiaTrainer"),
        # --- encoder / decoder
        *_stack_rows("encoder"),
        *_stack_rows("decoder"),
        _k("decoder.use_cross_attention", "decoder_conf.use_cross_attention", f"{STACK}(use_cross_attention=)"),
        _k(
            "decoder.num_classes",
            "model_type_conf.num_classes",
            "TSDiarizationTask.build_model: the network head (checked against the label scheme)",
        ),
        _k("decoder.causal", "decoder_conf.causal", f"{STACK}(causal=)", note="extension (not in the plan)"),
        # --- training: basic
        _k("training.epochs", "max_epoch", f"{TRAINER}.run (data epochs)"),
        _k("training.batch_size", "batch_size", "espnet2 build_batch_sampler (training batches)"),
        _k(
            "training.random_seed", "seed", "espnet2 set_all_random_seed (main_worker, every epoch), iterator shuffling"
        ),
        _k("training.max_steps", "max_steps", f"{TRAINER}.run (stops after this many optimizer steps)"),
        # --- optimizer
        _k("training.optimizer.type", "optim", OPTIM),
        _k("training.optimizer.lr", "optim_conf.lr", OPTIM),
        _k("training.optimizer.weight_decay", "optim_conf.weight_decay", OPTIM),
        _k("training.optimizer.betas", "optim_conf.betas", OPTIM),
        _k("training.optimizer.epsilon", "optim_conf.eps", OPTIM),
        _k("training.optimizer.amsgrad", "optim_conf.amsgrad", OPTIM, inert=False),
        _k("training.optimizer.momentum", "optim_conf.momentum", OPTIM),
        _k("training.optimizer.nesterov", "optim_conf.nesterov", OPTIM, inert=False),
        # --- scheduler
        _k("training.scheduler.type", "scheduler_conf.type", SCHED, note="scheduler: tsdia"),
        _k("training.scheduler.min_lr", "scheduler_conf.min_lr", SCHED),
        _k("training.scheduler.max_lr", "scheduler_conf.max_lr", SCHED),
        _k("training.scheduler.warmup_steps", "scheduler_conf.warmup_steps", SCHED, inert=0),
        _k("training.scheduler.decay_steps", "scheduler_conf.decay_steps", SCHED),
        _k("training.scheduler.num_cycles", "scheduler_conf.num_cycles", SCHED, inert=1),
        _k("training.scheduler.step_size", "scheduler_conf.step_size", SCHED),
        _k("training.scheduler.gamma", "scheduler_conf.gamma", SCHED, inert=0.1),
        _k("training.scheduler.patience", "scheduler_conf.patience", SCHED),
        _k("training.scheduler.mode", "scheduler_conf.mode", SCHED, inert="min"),
        # --- gradient management
        _k("training.gradient_clipping", "grad_clip", f"{TRAINER}: clip_grad_norm_ (null = no clipping)"),
        _k("training.gradient_accumulation_steps", "accum_grad", f"{TRAINER}: optimizer step every N batches"),
        # --- mixed precision
        _k("training.mixed_precision", "use_amp", f"{TRAINER}: torch.autocast + grad scaler", inert=False),
        _k("training.amp_loss_scale", "amp_loss_scale", f"{TRAINER}: static loss scale (null = dynamic GradScaler)"),
        # --- performer
        _k(
            "training.feature_redraw_interval",
            "{stacks}_conf.feature_redraw_interval",
            "stacks' feature_redraw_interval (default for both; encoder./decoder. keys win)",
        ),
        _k(
            "training.fixed_projection",
            "{stacks}_conf.fixed_projection",
            "TransformerStack(fixed_projection=)",
            inert=False,
        ),
        _k(
            "checkpoint.snapshot_features",
            "snapshot_features",
            CKPT,
            note="alias of training.checkpoint.snapshot_features (the plan names it twice)",
        ),
        # --- loss
        _k("training.loss.main", "loss_conf.main", LOSS),
        _k("training.loss.label_smoothing", "loss_conf.label_smoothing", LOSS, inert=0.0),
        _k("training.loss.reduction", "loss_conf.reduction", LOSS),
        _k("training.loss.auxiliary.norm_reg", "loss_conf.norm_reg", LOSS),
        _k("training.loss.auxiliary.contrastive", "loss_conf.contrastive", LOSS),
        _k("training.loss.focal_alpha", "loss_conf.focal_alpha", LOSS),
        _k("training.loss.focal_gamma", "loss_conf.focal_gamma", LOSS),
        # --- validation
        _k("training.validation.interval", "valid_interval_steps", f"{TRAINER}: validate every N optimizer steps"),
        _k("training.validation.batch_size", "valid_batch_size", "espnet2 build_batch_sampler (validation batches)"),
        _k(
            "training.validation.metric_for_best_model",
            "best_model_criterion",
            f"{TRAINER}: *.best.pth link and n-best averaging (espnet2 average_nbest_models)",
        ),
        _k(
            "training.validation.greater_is_better",
            "best_model_criterion",
            f"{TRAINER}: direction of metric_for_best_model and monitor_metric",
            inert=False,
        ),
        # --- early stopping
        _k("training.early_stopping.patience", "patience", "espnet2_tsdia.train.early_stopping.EarlyStopping"),
        _k(
            "training.early_stopping.metric",
            "early_stopping_criterion",
            "espnet2_tsdia.train.early_stopping.EarlyStopping",
        ),
        _k(
            "training.early_stopping.min_delta",
            "early_stopping_min_delta",
            "espnet2_tsdia.train.early_stopping.EarlyStopping",
            inert=0.0,
        ),
        _k(
            "training.early_stopping.mode",
            "early_stopping_criterion",
            "espnet2_tsdia.train.early_stopping.EarlyStopping",
            inert="min",
        ),
        _k(
            "training.early_stopping.restore_best_weights",
            "early_stopping_restore_best",
            f"{TRAINER}: loads the best snapshot at the end",
            inert=False,
        ),
        # --- checkpointing
        _k("training.checkpoint.save_dir", "output_dir", "espnet2 AbsTask.main_worker / TSDiaTrainer (experiment dir)"),
        _k(
            "training.checkpoint.interval",
            "checkpoint_interval_steps",
            f"{CKPT}: checkpoint.pth every N optimizer steps",
        ),
        _k(
            "training.checkpoint.save_total_limit",
            "keep_nbest_models",
            f"{CKPT}: snapshots kept on disk (n best + latest)",
        ),
        _k(
            "training.checkpoint.resume",
            "resume_checkpoint",
            f"{CKPT}: resume (true = output_dir/checkpoint.pth, or a path)",
        ),
        _k("training.checkpoint.snapshot_optimizer", "snapshot_optimizer", CKPT),
        _k("training.checkpoint.snapshot_scheduler", "snapshot_scheduler", CKPT),
        _k("training.checkpoint.snapshot_features", "snapshot_features", CKPT),
        _k("training.checkpoint.save_best_only", "save_best_only", CKPT, inert=False),
        _k("training.checkpoint.monitor_metric", "checkpoint_monitor", f"{CKPT}: the metric save_best_only watches"),
        # --- distributed
        _k(
            "training.distributed.backend",
            "dist_backend",
            "torch.distributed.init_process_group (espnet2 DistributedOption)",
        ),
        _k(
            "training.distributed.world_size",
            "dist_world_size",
            "torch.distributed.init_process_group (espnet2 DistributedOption)",
        ),
        _k("training.distributed.local_rank", "local_rank", "espnet2 DistributedOption (device of this process)"),
        _k(
            "training.distributed.sync_gradient_barrier",
            "sync_gradient_barrier",
            f"{TRAINER}: torch.distributed.barrier() before each optimizer step",
            inert=False,
        ),
        _k(
            "training.distributed.find_unused_parameters",
            "unused_parameters",
            f"{TRAINER}: DistributedDataParallel(find_unused_parameters=)",
            inert=False,
        ),
        _k(
            "training.distributed.gradient_as_bucket_view",
            "gradient_as_bucket_view",
            f"{TRAINER}: DistributedDataParallel(gradient_as_bucket_view=)",
        ),
        _k(
            "training.distributed.static_graph",
            "ddp_static_graph",
            f"{TRAINER}: DistributedDataParallel(static_graph=)",
            inert=False,
        ),
        # --- logging
        _k("training.logging.interval", "log_interval", f"{TRAINER}: log/tensorboard/wandb every N batches"),
        _k("training.logging.tensorboard", "use_tensorboard", f"{TRAINER}: SummaryWriter(output_dir/tensorboard)"),
        _k(
            "training.logging.wandb",
            "use_wandb",
            "espnet2 main_worker wandb.init + TSDiaTrainer wandb.log",
            inert=False,
        ),
        _k("training.logging.wandb_project", "wandb_project", "wandb.init(project=)"),
        _k("training.logging.wandb_entity", "wandb_entity", "wandb.init(entity=)"),
        _k(
            "training.logging.log_model",
            "wandb_model_log_interval",
            f"{TRAINER}: wandb.log_artifact of each snapshot",
            inert=False,
        ),
        # --- performance / dataloader
        _k("training.performance.num_workers", "num_workers", f"{ITER}(num_workers=)"),
        _k("training.performance.pin_memory", "pin_memory", f"{ITER}(pin_memory=)"),
        _k(
            "training.performance.batch_shim",
            "batch_shim",
            "espnet2_tsdia.train.iterators.BatchShim (pads time axes to a multiple of 64)",
            inert=False,
        ),
        _k("training.performance.prefetch_factor", "prefetch_factor", f"{ITER}(prefetch_factor=)"),
        _k(
            "training.performance.persistent_workers", "persistent_workers", f"{ITER}(persistent_workers=)", inert=False
        ),
        _k("training.performance.compile_model", "compile_model", f"{TRAINER}: torch.compile", inert=False),
        # --- callbacks / profiling
        _k("training.callbacks", "callbacks", "espnet2_tsdia.train.callbacks.CALLBACKS (by name)"),
        _k("training.profiling", "profiling", f"{TRAINER}: torch.profiler trace of a few steps", inert=False),
        # --- eval knobs (consumed at inference time)
        _k("eval_knobs.batch_size", "eval_knobs.batch_size", INFER, stage="inference"),
        _k("eval_knobs.beam_width", "eval_knobs.beam_width", INFER, stage="inference"),
        _k("eval_knobs.sliding_window", "eval_knobs.sliding_window", INFER, stage="inference"),
        _k("eval_knobs.label_type", "eval_knobs.label_type", INFER, stage="inference"),
        _k("eval_knobs.max_duration", "eval_knobs.max_duration", INFER, stage="inference"),
        # --- tuning (consumed at tuning time)
        _k("tuning.library", "tuning.library", TUNE, stage="tuning"),
        _k("tuning.search_space", "tuning.search_space", TUNE, stage="tuning"),
        *[
            _k(f"tuning.{name}", f"tuning.{name}", TUNE, stage="tuning", note="extension (espnet2_tsdia.tune.settings)")
            for name in TUNING_EXTENSION_KEYS
        ],
    ]
)

KNOB_BY_KEY: Dict[str, Knob] = {k.key: k for k in KNOBS}
if len(KNOB_BY_KEY) != len(KNOBS):  # pragma: no cover - guards edits of the table
    raise RuntimeError("duplicate key in KNOBS")

#: Knobs whose value is a list or mapping (flattening stops there).
LEAF_CONTAINERS = (
    "training.optimizer.betas",
    "training.callbacks",
    "tuning.search_space",
    "tuning.pruner_conf",
    "tuning.resources_per_trial",
)

#: (winner, loser): both write the same ESPnet option; the winner's value is used.
PRECEDENCE = (
    ("training.batch_size", "global_config.batch_size"),
    ("encoder.feature_redraw_interval", "training.feature_redraw_interval"),
    ("decoder.feature_redraw_interval", "training.feature_redraw_interval"),
    ("training.checkpoint.snapshot_features", "checkpoint.snapshot_features"),
)

PLAN_SECTIONS = ("global_config", "encoder", "decoder", "training", "checkpoint", "eval_knobs", "tuning")
PASSTHROUGH = "espnet"

EVAL_LABEL_TYPES = ("binary", "speaker_id", "powerset", "custom")
TUNING_LIBRARIES = ("raytune", "optuna")
#: Short names the plan uses in tuning.search_space -> the plan key.
SEARCH_SPACE_ALIASES = {
    "lr": "training.optimizer.lr",
    "learning_rate": "training.optimizer.lr",
    "batch_size": "training.batch_size",
    "dropout": "global_config.dropout",
    "weight_decay": "training.optimizer.weight_decay",
    "gradient_clipping": "training.gradient_clipping",
    "label_smoothing": "training.loss.label_smoothing",
    "warmup_steps": "training.scheduler.warmup_steps",
}


# ----------------------------------------------------------------------------- helpers


def suggest(name: str, candidates: Sequence[str]) -> str:
    """' (did you mean X?)' for the closest candidate, or ''."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_metric(name: str) -> Tuple[str, str]:
    """Plan metric name -> ESPnet (phase, key): ``val_loss``/``valid_loss``/``valid.loss``/
    ``loss`` -> (valid, loss); ``train_loss``/``train.loss`` -> (train, loss)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a metric name must be a non-empty string like 'val_loss', got {name!r}")
    for prefix, phase in (
        ("valid.", "valid"),
        ("train.", "train"),
        ("valid_", "valid"),
        ("val_", "valid"),
        ("train_", "train"),
    ):
        if name.startswith(prefix) and len(name) > len(prefix):
            return phase, name[len(prefix) :]
    return "valid", name


def metric_name(phase: str, key: str) -> str:
    """ESPnet (phase, key) -> the plan's name: (valid, loss) -> val_loss."""
    if phase not in ("valid", "train"):
        raise ValueError(f"a metric phase must be 'valid' or 'train', got {phase!r}")
    return f"{'val' if phase == 'valid' else 'train'}_{key}"


def stacks_of(model_type: str) -> Tuple[str, ...]:
    """The stacks a model type has: encoder -> (encoder,), decoder -> (decoder,), both."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type: unknown model type {model_type!r}; expected one of {list(MODEL_TYPES)}")
    return {"encoder": ("encoder",), "decoder": ("decoder",), "encoder_decoder": ("encoder", "decoder")}[model_type]


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
    if section in ("encoder", "decoder") and key != "decoder.num_classes":
        if section not in stacks_of(model_type):
            return f"model_type {model_type!r} has no {section}"
    if key == "decoder.use_cross_attention" and model_type == "decoder":
        return "model_type 'decoder' has no encoder to attend to"
    if key.startswith("training.optimizer.") and key != "training.optimizer.type":
        from espnet2_tsdia.train.optimizers import PLAN_OPTIMIZERS, plan_keys_read_by

        name = str(flat.get("training.optimizer.type") or "adadelta").lower()
        if name in PLAN_OPTIMIZERS and key.rsplit(".", 1)[1] not in plan_keys_read_by(name):
            return f"optimizer {name!r} does not read it"
    if key.startswith("training.scheduler.") and key != "training.scheduler.type":
        from espnet2_tsdia.train.schedulers import SCHEDULE_KEYS

        stype = flat.get("training.scheduler.type")
        if stype is None:
            return "no scheduler (training.scheduler.type is null)"
        if stype in SCHEDULE_KEYS and key.rsplit(".", 1)[1] not in SCHEDULE_KEYS[stype]:
            return f"scheduler {stype!r} does not read it"
    if key == "training.amp_loss_scale" and not flat.get("training.mixed_precision"):
        return "training.mixed_precision is false"
    if key in ("training.loss.focal_alpha", "training.loss.focal_gamma"):
        from espnet2_tsdia.losses.frame_losses import FOCAL_CAPABLE

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


def _is_inert(knob: Knob, value: Any) -> bool:
    return value is None or value == knob.inert or (knob.key == "training.callbacks" and value == [])


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
    from espnet2_tsdia.tune.settings import section_issues

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


def validate_tuning(library: Any, space: Any) -> List[str]:
    """tuning.library in (raytune, optuna, null); every search_space key a plan key (or a short
    alias such as lr) with a range {low, high[, log]} or {choices: [...]}."""
    issues = []
    if library is not None and library not in TUNING_LIBRARIES:
        issues.append(f"tuning.library: expected one of {list(TUNING_LIBRARIES)} or null, got {library!r}")
    if space is None:
        return issues
    if not isinstance(space, dict):
        return issues + [f"tuning.search_space: expected a mapping of key -> range, got {space!r}"]
    for name, spec in space.items():
        key = SEARCH_SPACE_ALIASES.get(name, name)
        where = f"tuning.search_space.{name}"
        if key not in KNOB_BY_KEY or KNOB_BY_KEY[key].stage != "train":
            issues.append(
                f"{where}: not a training key of the plan{suggest(name, list(SEARCH_SPACE_ALIASES) + [k.key for k in KNOBS])}"
            )
            continue
        if not isinstance(spec, dict):
            issues.append(f"{where}: expected {{low, high[, log]}} or {{choices: [...]}}, got {spec!r}")
            continue
        extra = set(spec) - {"low", "high", "log", "choices", "step"}
        if extra:
            issues.append(f"{where}: unknown range fields {sorted(extra)}; expected low, high, log, step or choices")
        elif "choices" in spec:
            if not isinstance(spec["choices"], list) or not spec["choices"]:
                issues.append(f"{where}.choices: expected a non-empty list, got {spec['choices']!r}")
        elif not {"low", "high"} <= set(spec):
            issues.append(f"{where}: a range needs low and high, got {spec!r}")
        elif not (
            isinstance(spec["low"], (int, float))
            and isinstance(spec["high"], (int, float))
            and spec["low"] < spec["high"]
        ):
            issues.append(f"{where}: expected numbers low < high, got low={spec['low']!r} high={spec['high']!r}")
        elif spec.get("log") and spec["low"] <= 0:
            issues.append(f"{where}: a log range needs low > 0, got {spec['low']!r}")
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
        if reason and not _is_inert(knob, value):
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


def table_rows(stage: Optional[str] = None) -> List[Knob]:
    """The checklist rows (optionally of one stage), in the plan's order."""
    return [k for k in KNOBS if stage is None or k.stage == stage]


def describe_consumer(knob: Knob) -> str:
    if knob.stage == "inference":
        return f"consumed at inference time: {knob.consumer}"
    if knob.stage == "tuning":
        return f"consumed at tuning time: {knob.consumer}"
    return knob.consumer
