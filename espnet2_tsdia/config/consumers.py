"""The code that reads each key of the checklist, as objects (classes, functions, methods).

:data:`CONSUMERS` maps every key of :data:`~espnet2_tsdia.config.checklist.KNOBS` to the objects
that read its ESPnet option: each of them takes the option's last name (``optim_conf.lr`` ->
``lr``, ``max_epoch``) as a parameter, or reads it by that name in its code.
``test/config/test_consumers.py`` checks both for every row, so a renamed or removed consumer
fails an import or that test instead of leaving a stale description; ``config check`` and
``config table`` print these objects' names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import torch
from espnet2.optimizers.sgd import SGD
from espnet2.samplers.build_batch_sampler import build_batch_sampler
from espnet2.tasks.abs_task import AbsTask
from espnet2.torch_utils.set_all_random_seed import set_all_random_seed
from espnet2.train.distributed_utils import DistributedOption

from espnet2_tsdia.config.checklist import KNOB_BY_KEY, KNOBS, STACK_KEYS, Knob
from espnet2_tsdia.config.tuning import TuningSettings
from espnet2_tsdia.inference.speech2tsdia import EvalKnobs
from espnet2_tsdia.losses.tsdia_loss import build_loss
from espnet2_tsdia.networks.encoder_decoder import EncoderDecoderNetwork
from espnet2_tsdia.networks.joint import JointStackNetwork
from espnet2_tsdia.stacks.transformer import TransformerStack
from espnet2_tsdia.tasks.tsdia import TSDiarizationTask
from espnet2_tsdia.train.early_stopping import EarlyStopping
from espnet2_tsdia.train.iterators import TSDiaIterFactory
from espnet2_tsdia.train.schedulers import build_tsdia_scheduler
from espnet2_tsdia.train.trainer import _Loop, build_grad_scaler


@dataclass(frozen=True)
class Consumer:
    """The objects that read one checklist key, and how (one line for the tables).

    Args:
        objects: classes, functions or methods; each reads :func:`option_name` of the key.
        how: what the value does there (empty when the name says it).
    """

    objects: Tuple[Callable, ...]
    how: str = ""

    def __post_init__(self):
        if not self.objects or not all(callable(o) for o in self.objects):
            raise TypeError(f"Consumer.objects must be classes or functions, got {self.objects!r}")

    def names(self, *, full: bool = False) -> str:
        return ", ".join(f"{o.__module__}.{o.__qualname__}" if full else o.__qualname__ for o in self.objects)

    def describe(self, *, full: bool = False) -> str:
        return self.names(full=full) + (f": {self.how}" if self.how else "")


def option_name(knob: Knob) -> str:
    """The name the consumers read a key by: the last part of its ESPnet option
    (``{stacks}_conf.dropout`` -> ``dropout``, ``optim_conf.eps`` -> ``eps``, ``max_epoch``)."""
    return knob.target.rsplit(".", 1)[-1]


STACKS = (TransformerStack,)  # one class in both roles (networks.registry.MODEL_STACKS)
#: The classes ESPnet builds for the six optimizers of the checklist (train.optimizers.PLAN_OPTIMIZERS).
ALL_OPTIMIZERS = (
    torch.optim.AdamW,
    torch.optim.Adam,
    SGD,
    torch.optim.Adagrad,
    torch.optim.RMSprop,
    torch.optim.Adadelta,
)
SCHEDULER = "scheduler: tsdia"
EARLY = "EarlyStopping(phase, key, mode) built from it"
DDP = "DistributedDataParallel option"
WANDB = "wandb.init(...) when use_wandb"


def _rows() -> Dict[str, Consumer]:
    c = Consumer
    rows: Dict[str, Consumer] = {
        "model_type": c((TSDiarizationTask.build_model,), "networks.NETWORK_TYPES[model_type]"),
        "name": c((_Loop.run, _Loop.open_writers, TSDiarizationTask.main_worker), "log prefix, tensorboard, wandb run"),
        "global_config.dropout": c(STACKS),
        "global_config.batch_size": c((build_batch_sampler,), "training batches; training.batch_size wins"),
        "global_config.d_ff": c(STACKS),
        "global_config.device": c((AbsTask.main_worker, _Loop.__init__), "model.to(device)"),
        "decoder.use_cross_attention": c(STACKS),
        "decoder.num_classes": c(
            (TSDiarizationTask.build_model,), "the network head, checked against the label scheme"
        ),
        "decoder.causal": c(STACKS),
        "decoder.similarity": c(
            (EncoderDecoderNetwork, JointStackNetwork), "SpeakerSimilarity conditioning of the mixture stack's input"
        ),
        "training.augmentation.mel_warp": c(
            (TSDiarizationTask.build_model,), "MelWarp(**mel_warp_conf): VTLP in TSDiarizationModel.forward"
        ),
        "training.epochs": c((_Loop.finished, _Loop.train_batches), "data epochs"),
        "training.batch_size": c((build_batch_sampler,), "training batches"),
        "training.random_seed": c((set_all_random_seed, TSDiaIterFactory), "every epoch's seed, batch shuffling"),
        "training.max_steps": c((_Loop.finished,), "stops after this many optimizer steps"),
        "training.optimizer.type": c((AbsTask.build_optimizers,), "optim_classes[optim]"),
        "training.optimizer.lr": c(ALL_OPTIMIZERS),
        "training.optimizer.weight_decay": c(ALL_OPTIMIZERS),
        "training.optimizer.betas": c((torch.optim.AdamW, torch.optim.Adam)),
        "training.optimizer.epsilon": c(tuple(o for o in ALL_OPTIMIZERS if o is not SGD)),
        "training.optimizer.amsgrad": c((torch.optim.AdamW, torch.optim.Adam)),
        "training.optimizer.momentum": c((SGD, torch.optim.RMSprop)),
        "training.optimizer.nesterov": c((SGD,)),
        "training.gradient_clipping": c((_Loop.optimizer_step,), "clip_grad_norm_ (null = no clipping)"),
        "training.gradient_accumulation_steps": c((_Loop.train_batch,), "an optimizer step every N batches"),
        "training.mixed_precision": c((_Loop.autocast, build_grad_scaler), "torch.autocast + grad scaler"),
        "training.amp_loss_scale": c((build_grad_scaler,), "static loss scale (null = dynamic GradScaler)"),
        "training.feature_redraw_interval": c(STACKS, "default of both stacks (encoder./decoder. keys win)"),
        "training.fixed_projection": c(STACKS),
        "checkpoint.snapshot_features": c((_Loop.checkpoint_state,), "FAVOR+ projections in checkpoint.pth"),
        "training.validation.interval": c((_Loop.train_round,), "validate every N optimizer steps"),
        "training.validation.batch_size": c((AbsTask.build_iter_options,), "validation batches"),
        "training.validation.metric_for_best_model": c((_Loop.__init__,), "*.best.pth link and n-best averaging"),
        "training.validation.greater_is_better": c((_Loop.__init__,), "the mode of best_model_criterion"),
        "training.early_stopping.patience": c((EarlyStopping,)),
        "training.early_stopping.metric": c((_Loop.__init__,), EARLY),
        "training.early_stopping.min_delta": c((_Loop.__init__,), "EarlyStopping(min_delta=)"),
        "training.early_stopping.mode": c((_Loop.__init__,), EARLY),
        "training.early_stopping.restore_best_weights": c((_Loop.finish,), "loads the best snapshot at the end"),
        "training.checkpoint.save_dir": c((AbsTask.main_worker, _Loop.__init__), "the experiment dir"),
        "training.checkpoint.interval": c((_Loop.train_round,), "checkpoint.pth every N optimizer steps"),
        "training.checkpoint.save_total_limit": c((_Loop.__init__,), "snapshots kept (n best + latest)"),
        "training.checkpoint.resume": c((_Loop.resume,), "true = output_dir/checkpoint.pth, or a path"),
        "training.checkpoint.snapshot_optimizer": c((_Loop.checkpoint_state,)),
        "training.checkpoint.snapshot_scheduler": c((_Loop.checkpoint_state,)),
        "training.checkpoint.snapshot_features": c((_Loop.checkpoint_state,), "FAVOR+ projections in checkpoint.pth"),
        "training.checkpoint.save_best_only": c((_Loop.end_of_round,)),
        "training.checkpoint.monitor_metric": c((_Loop.__init__,), "the metric save_best_only watches"),
        "training.distributed.backend": c((DistributedOption,), "torch.distributed.init_process_group"),
        "training.distributed.world_size": c((DistributedOption,), "torch.distributed.init_process_group"),
        "training.distributed.local_rank": c((DistributedOption,), "the device of this process"),
        "training.distributed.sync_gradient_barrier": c((_Loop.optimizer_step,), "barrier before each step"),
        "training.distributed.find_unused_parameters": c((_Loop.wrap_model,), DDP),
        "training.distributed.gradient_as_bucket_view": c((_Loop.wrap_model,), DDP),
        "training.distributed.static_graph": c((_Loop.wrap_model,), DDP),
        "training.logging.interval": c((_Loop.train_round,), "log/tensorboard/wandb every N batches"),
        "training.logging.tensorboard": c((_Loop.open_writers,), "SummaryWriter(output_dir/tensorboard)"),
        "training.logging.wandb": c((AbsTask.main_worker, _Loop.train_round), "wandb.init + wandb.log"),
        "training.logging.wandb_project": c((AbsTask.main_worker,), WANDB),
        "training.logging.wandb_entity": c((AbsTask.main_worker,), WANDB),
        "training.logging.log_model": c((_Loop.end_of_round,), "wandb.log_artifact of each snapshot"),
        "training.performance.num_workers": c((TSDiaIterFactory,), "DataLoader"),
        "training.performance.pin_memory": c((TSDiaIterFactory,), "DataLoader"),
        "training.performance.batch_shim": c((TSDiarizationTask.build_collate_fn,), "BatchShim: time axes padded"),
        "training.performance.prefetch_factor": c((TSDiaIterFactory,), "DataLoader"),
        "training.performance.persistent_workers": c((TSDiaIterFactory,), "DataLoader"),
        "training.performance.compile_model": c((_Loop.wrap_model,), "torch.compile"),
        "training.callbacks": c((_Loop.__init__,), "build_callbacks(callbacks, callback_conf)"),
        "training.profiling": c((_Loop.start_profiler,), "torch.profiler trace of a few steps"),
    }
    for section in ("encoder", "decoder"):
        rows.update({f"{section}.{name}": c(STACKS) for name in STACK_KEYS})
    for knob in KNOBS:
        if knob.key.startswith("training.scheduler."):
            rows[knob.key] = c((build_tsdia_scheduler,), SCHEDULER)
        elif knob.key.startswith("training.loss."):
            rows[knob.key] = c((build_loss,), "the training loss")
        elif knob.stage == "inference":
            rows[knob.key] = c((EvalKnobs,), "config.yaml eval_knobs, read by the inference tools")
        elif knob.stage == "tuning":
            rows[knob.key] = c((TuningSettings.from_config,), "config.yaml tuning, read by bin.tune")
    return rows


#: Checklist key -> its consumer (one row per key of KNOBS).
CONSUMERS: Dict[str, Consumer] = _rows()
if set(CONSUMERS) != set(KNOB_BY_KEY):  # pragma: no cover - guards edits of either table
    raise RuntimeError(f"CONSUMERS and KNOBS differ: {sorted(set(CONSUMERS) ^ set(KNOB_BY_KEY))}")


def describe_consumer(knob: Knob, *, full: bool = False) -> str:
    """The consumer of a row for the tables, with the time it is read at."""
    text = CONSUMERS[knob.key].describe(full=full)
    if knob.stage in ("inference", "tuning"):
        return f"consumed at {knob.stage} time: {text}"
    return text
