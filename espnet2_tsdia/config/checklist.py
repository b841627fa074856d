"""The researcher's checklist: every key of the nested config layout -> the ESPnet option it lands in.

A researcher writes a training config as nested sections (``model_type``, ``global_config``,
``encoder``, ``decoder``, ``training.*``, ``eval_knobs``, ``tuning``; docs/design.md, "Configs").
ESPnet reads one flat namespace of options (``max_epoch``, ``optim_conf``, ...), and the recipes
ship that layout only. :data:`KNOBS` is the one table between the two: each row names the
nested key, the ESPnet option (dotted into ``*_conf`` dicts) it lands in, its stage (train /
inference / tuning / meta) and the value that means "off". The code that reads each key is
named, as objects, in :mod:`espnet2_tsdia.config.consumers`; the conversion both ways is
:mod:`espnet2_tsdia.config.layout`.

Precedence where the layout names one thing twice (documented decision):

- ``training.batch_size`` wins over ``global_config.batch_size``;
- ``encoder.feature_redraw_interval`` / ``decoder.feature_redraw_interval`` win over
  ``training.feature_redraw_interval`` (a default for both stacks);
- ``training.checkpoint.snapshot_features`` wins over ``checkpoint.snapshot_features`` (the
  checklist's Performer section names the same switch).

A conversion applies the precedence; ``config check`` reports both keys as a conflict when
their values differ.

Extensions beyond the checklist: ``decoder.causal`` (the decoder is online, causal by default;
``causal: false`` allows ``attention_type: linear`` there), ``decoder.similarity`` (speaker-
similarity conditioning), ``training.loss.auxiliary.speaker_contrastive`` (its speaker loss),
``training.augmentation.mel_warp`` (VTLP of mixture and enrollment), the ``tuning`` section's keys beyond
``library`` and ``search_space`` (:mod:`espnet2_tsdia.config.tuning_section`), and an ``espnet:``
section whose options are passed to ESPnet verbatim (data, frontend, label scheme, ...), so a
config survives nested -> ESPnet -> nested unchanged.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

#: A key absent from a config (None is a value: "null").
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
#: Keys of the tuning section; ``library`` and ``search_space`` are the checklist's, the rest
#: are ours (their defaults and validation: :mod:`espnet2_tsdia.config.tuning_section`).
TUNING_KEYS = (
    "library",
    "search_space",
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
EVAL_KNOB_KEYS = ("batch_size", "beam_width", "sliding_window", "label_type", "max_duration")


class ConfigError(ValueError):
    """A config problem; ``issues`` lists every one found (each names the key)."""

    def __init__(self, issues: Sequence[str]):
        self.issues = list(issues)
        super().__init__("; ".join(self.issues))


@dataclass(frozen=True)
class Knob:
    """One row of the checklist.

    Args:
        key: the nested layout's dotted key.
        target: the ESPnet option (``name`` or ``name_conf.field``) it lands in; a
            ``{stacks}`` prefix means every stack the model type has.
        stage: train, inference, tuning or meta (stored, not read by code).
        inert: the value meaning "off"; a key set to it where nothing reads it is fine.
        note: one line for the table.
    """

    key: str
    target: str
    stage: str = "train"
    inert: Any = None
    note: str = ""

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"Knob {self.key}: stage must be one of {STAGES}, got {self.stage!r}")


def _k(key: str, target: str, *, stage: str = "train", inert: Any = None, note: str = "") -> Knob:
    return Knob(key=key, target=target, stage=stage, inert=inert, note=note)


def _stack_rows(section: str) -> List[Knob]:
    # auto_check_redraw: true is the stacks' default, so it changes nothing where no kernel reads it
    return [
        _k(f"{section}.{name}", f"{section}_conf.{name}", inert=True if name == "auto_check_redraw" else None)
        for name in STACK_KEYS
    ]


KNOBS: Tuple[Knob, ...] = (
    # --- top level
    _k("model_type", "model_type"),
    _k("name", "exp_name"),
    # --- global_config
    _k("global_config.dropout", "{stacks}_conf.dropout"),
    _k("global_config.batch_size", "batch_size", note="training.batch_size wins when both are set"),
    _k("global_config.d_ff", "{stacks}_conf.d_ff"),
    _k("global_config.device", "ngpu", note="cpu -> ngpu 0, cuda -> ngpu 1 (one GPU per process)"),
    # --- encoder / decoder
    *_stack_rows("encoder"),
    *_stack_rows("decoder"),
    _k("decoder.use_cross_attention", "decoder_conf.use_cross_attention"),
    _k("decoder.num_classes", "model_type_conf.num_classes", note="checked against the label scheme"),
    _k("decoder.causal", "decoder_conf.causal", note="extension (not in the checklist)"),
    _k(
        "decoder.similarity",
        "model_type_conf.similarity",
        note="extension: speaker-similarity conditioning of the mixture stack (SpeakerSimilarity keywords)",
    ),
    # --- training: basic
    _k("training.epochs", "max_epoch"),
    _k("training.batch_size", "batch_size"),
    _k("training.random_seed", "seed"),
    _k("training.max_steps", "max_steps"),
    # --- optimizer
    _k("training.optimizer.type", "optim"),
    _k("training.optimizer.lr", "optim_conf.lr"),
    _k("training.optimizer.weight_decay", "optim_conf.weight_decay"),
    _k("training.optimizer.betas", "optim_conf.betas"),
    _k("training.optimizer.epsilon", "optim_conf.eps"),
    _k("training.optimizer.amsgrad", "optim_conf.amsgrad", inert=False),
    _k("training.optimizer.momentum", "optim_conf.momentum"),
    _k("training.optimizer.nesterov", "optim_conf.nesterov", inert=False),
    # --- scheduler
    _k("training.scheduler.type", "scheduler_conf.type", note="scheduler: tsdia"),
    _k("training.scheduler.min_lr", "scheduler_conf.min_lr"),
    _k("training.scheduler.max_lr", "scheduler_conf.max_lr"),
    _k("training.scheduler.warmup_steps", "scheduler_conf.warmup_steps", inert=0),
    _k("training.scheduler.decay_steps", "scheduler_conf.decay_steps"),
    _k("training.scheduler.num_cycles", "scheduler_conf.num_cycles", inert=1),
    _k("training.scheduler.step_size", "scheduler_conf.step_size"),
    _k("training.scheduler.gamma", "scheduler_conf.gamma", inert=0.1),
    _k("training.scheduler.patience", "scheduler_conf.patience"),
    _k("training.scheduler.mode", "scheduler_conf.mode", inert="min"),
    # --- gradient management
    _k("training.gradient_clipping", "grad_clip", note="null = no clipping"),
    _k("training.gradient_accumulation_steps", "accum_grad"),
    # --- mixed precision
    _k("training.mixed_precision", "use_amp", inert=False),
    _k("training.amp_loss_scale", "amp_loss_scale", note="null = dynamic GradScaler"),
    # --- performer
    _k(
        "training.feature_redraw_interval",
        "{stacks}_conf.feature_redraw_interval",
        note="a default for both stacks; encoder./decoder. keys win",
    ),
    _k("training.fixed_projection", "{stacks}_conf.fixed_projection", inert=False),
    _k("checkpoint.snapshot_features", "snapshot_features", note="alias of training.checkpoint.snapshot_features"),
    # --- loss
    _k("training.loss.main", "loss_conf.main"),
    _k("training.loss.label_smoothing", "loss_conf.label_smoothing", inert=0.0),
    _k("training.loss.reduction", "loss_conf.reduction"),
    _k("training.loss.auxiliary.norm_reg", "loss_conf.norm_reg"),
    _k("training.loss.auxiliary.contrastive", "loss_conf.contrastive"),
    _k(
        "training.loss.auxiliary.speaker_contrastive",
        "loss_conf.speaker_contrastive",
        note="extension: InfoNCE on the similarity conditioning's speaker embeddings",
    ),
    _k("training.loss.focal_alpha", "loss_conf.focal_alpha"),
    _k("training.loss.focal_gamma", "loss_conf.focal_gamma"),
    # --- augmentation
    _k(
        "training.augmentation.mel_warp",
        "mel_warp_conf",
        note="extension: VTLP of mixture and enrollment with one factor per example (MelWarp keywords)",
    ),
    # --- validation
    _k("training.validation.interval", "valid_interval_steps"),
    _k("training.validation.batch_size", "valid_batch_size"),
    _k("training.validation.metric_for_best_model", "best_model_criterion"),
    _k("training.validation.greater_is_better", "best_model_criterion", inert=False),
    # --- early stopping
    _k("training.early_stopping.patience", "patience"),
    _k("training.early_stopping.metric", "early_stopping_criterion"),
    _k("training.early_stopping.min_delta", "early_stopping_min_delta", inert=0.0),
    _k("training.early_stopping.mode", "early_stopping_criterion", inert="min"),
    _k("training.early_stopping.restore_best_weights", "early_stopping_restore_best", inert=False),
    # --- checkpointing
    _k("training.checkpoint.save_dir", "output_dir"),
    _k("training.checkpoint.interval", "checkpoint_interval_steps"),
    _k("training.checkpoint.save_total_limit", "keep_nbest_models"),
    _k("training.checkpoint.resume", "resume_checkpoint", note="true = output_dir/checkpoint.pth, or a path"),
    _k("training.checkpoint.snapshot_optimizer", "snapshot_optimizer"),
    _k("training.checkpoint.snapshot_scheduler", "snapshot_scheduler"),
    _k("training.checkpoint.snapshot_features", "snapshot_features"),
    _k("training.checkpoint.save_best_only", "save_best_only", inert=False),
    _k("training.checkpoint.monitor_metric", "checkpoint_monitor"),
    # --- distributed
    _k("training.distributed.backend", "dist_backend"),
    _k("training.distributed.world_size", "dist_world_size"),
    _k("training.distributed.local_rank", "local_rank"),
    _k("training.distributed.sync_gradient_barrier", "sync_gradient_barrier", inert=False),
    _k("training.distributed.find_unused_parameters", "unused_parameters", inert=False),
    _k("training.distributed.gradient_as_bucket_view", "gradient_as_bucket_view"),
    _k("training.distributed.static_graph", "ddp_static_graph", inert=False),
    # --- logging
    _k("training.logging.interval", "log_interval"),
    _k("training.logging.tensorboard", "use_tensorboard"),
    _k("training.logging.wandb", "use_wandb", inert=False),
    _k("training.logging.wandb_project", "wandb_project"),
    _k("training.logging.wandb_entity", "wandb_entity"),
    _k("training.logging.log_model", "wandb_model_log_interval", inert=False),
    # --- performance / dataloader
    _k("training.performance.num_workers", "num_workers"),
    _k("training.performance.pin_memory", "pin_memory"),
    _k("training.performance.batch_shim", "batch_shim", inert=False),
    _k("training.performance.prefetch_factor", "prefetch_factor"),
    _k("training.performance.persistent_workers", "persistent_workers", inert=False),
    _k("training.performance.compile_model", "compile_model", inert=False),
    # --- callbacks / profiling
    _k("training.callbacks", "callbacks"),
    _k("training.profiling", "profiling", inert=False),
    # --- eval knobs (stored in config.yaml, read at inference time)
    *(_k(f"eval_knobs.{name}", f"eval_knobs.{name}", stage="inference") for name in EVAL_KNOB_KEYS),
    # --- tuning (stored in config.yaml, read at tuning time)
    *(
        _k(
            f"tuning.{name}",
            f"tuning.{name}",
            stage="tuning",
            note="" if name in ("library", "search_space") else "extension (not in the checklist)",
        )
        for name in TUNING_KEYS
    ),
)

KNOB_BY_KEY: Dict[str, Knob] = {k.key: k for k in KNOBS}
if len(KNOB_BY_KEY) != len(KNOBS):  # pragma: no cover - guards edits of the table
    raise RuntimeError("duplicate key in KNOBS")

#: Knobs whose value is a list or mapping (flattening stops there).
LEAF_CONTAINERS = (
    "decoder.similarity",
    "training.augmentation.mel_warp",
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

#: The section of the nested layout whose options go to ESPnet verbatim.
PASSTHROUGH = "espnet"

#: Short names a search space may use (``tuning.search_space``) -> the key.
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
    """Metric name -> ESPnet (phase, key): ``val_loss``/``valid_loss``/``valid.loss``/
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
    """ESPnet (phase, key) -> the checklist's name: (valid, loss) -> val_loss."""
    if phase not in ("valid", "train"):
        raise ValueError(f"a metric phase must be 'valid' or 'train', got {phase!r}")
    return f"{'val' if phase == 'valid' else 'train'}_{key}"


def stacks_of(model_type: str) -> Tuple[str, ...]:
    """The stacks a model type has: encoder -> (encoder,), decoder -> (decoder,), both."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type: unknown model type {model_type!r}; expected one of {list(MODEL_TYPES)}")
    return {"encoder": ("encoder",), "decoder": ("decoder",), "encoder_decoder": ("encoder", "decoder")}[model_type]


def is_inert(knob: Knob, value: Any) -> bool:
    """Whether ``value`` changes nothing (null, the knob's "off" value, no callbacks)."""
    return value is None or value == knob.inert or (knob.key == "training.callbacks" and value == [])
