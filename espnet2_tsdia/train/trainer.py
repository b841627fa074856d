"""TSDiaTrainer: ESPnet's trainer interface with the plan's training knobs.

``AbsTask.main_worker`` builds the model, optimizers and schedulers and calls
``cls.trainer.run(...)``; our task sets ``trainer = TSDiaTrainer``. The loop is our own (ESPnet's
``Trainer.run`` saves ``checkpoint.pth`` non-atomically and knows only whole epochs) and reuses
ESPnet's Reporter, ``recursive_average``, ``set_all_random_seed`` and ``add_gradient_noise``
(n-best averaging is :func:`~espnet2_tsdia.train.checkpoint.average_nbest`, with ESPnet's file names).

Rounds. A *round* is the training between two validations: one data epoch by default, or
``valid_interval_steps`` optimizer steps (then rounds may cross data-epoch boundaries, like
ESPnet's ``num_iters_per_epoch``). The ESPnet Reporter's "epoch" counts rounds, so snapshot
names (``{round}epoch.pth``), ``patience``, ``keep_nbest_models`` and n-best averaging are per
round. ``max_epoch`` bounds data epochs, ``max_steps`` optimizer steps.

Checkpoints. ``checkpoint.pth`` is written atomically at every round end and every
``checkpoint_interval_steps`` steps; it holds the model, reporter, optimizer / scheduler /
scaler state (``snapshot_optimizer`` / ``snapshot_scheduler``), callbacks, RNG states,
FAVOR+ redraw counters and the position in the data, so a killed run resumes to the same
model. Without ``snapshot_features`` the FAVOR+ projections are left out of checkpoint.pth and
redrawn on resume (round snapshots ``{n}epoch.pth`` always keep them: inference must be
deterministic). N-best averaged models average the weights but take the FAVOR+ projections of
the best round (:func:`~espnet2_tsdia.train.checkpoint.average_states`). Every round end also rewrites ``metrics.json`` (every round's metrics so far,
:mod:`espnet2_tsdia.train.round_metrics`), which tools follow from outside (``bin.tune``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch
from espnet2.torch_utils.add_gradient_noise import add_gradient_noise
from espnet2.torch_utils.device_funcs import to_device
from espnet2.torch_utils.recursive_op import recursive_average
from espnet2.torch_utils.set_all_random_seed import set_all_random_seed
from espnet2.train.reporter import Reporter
from espnet2.train.trainer import Trainer, TrainerOptions
from espnet2.utils.build_dataclass import build_dataclass
from espnet2.utils.types import float_or_none, int_or_none, str2bool, str_or_none

from espnet2_tsdia.train.callbacks import build_callbacks
from espnet2_tsdia.train.checkpoint import (
    TrainPosition,
    atomic_save,
    average_nbest,
    projection_keys,
    relink,
    rng_state,
    set_rng_state,
    strip_projections,
)
from espnet2_tsdia.train.early_stopping import EarlyStopping
from espnet2_tsdia.train.round_metrics import write_round_metrics
from espnet2_tsdia.train.schedulers import is_batch_stepped, is_validation_stepped

logger = logging.getLogger(__name__)

#: ESPnet options our loop does not implement: the value each must keep.
UNSUPPORTED_ESPNET_OPTIONS = {
    "sharded_ddp": False,
    "use_deepspeed": False,
    "use_adapter": False,
    "create_graph_in_tensorboard": False,
    "num_iters_per_epoch": None,
    "multiple_iterator": False,
    "iterator_type": "sequence",
    "valid_iterator_type": None,
}


@dataclasses.dataclass
class TSDiaTrainerOptions(TrainerOptions):
    """ESPnet's TrainerOptions plus the plan's knobs (see :meth:`TSDiaTrainer.add_arguments`)."""

    exp_name: Optional[str] = None
    max_steps: Optional[int] = None
    valid_interval_steps: Optional[int] = None
    early_stopping_min_delta: float = 0.0
    early_stopping_restore_best: bool = False
    checkpoint_interval_steps: Optional[int] = None
    resume_checkpoint: Optional[str] = None
    snapshot_optimizer: bool = True
    snapshot_scheduler: bool = True
    snapshot_features: bool = True
    save_best_only: bool = False
    checkpoint_monitor: Optional[Sequence[str]] = None
    callbacks: Sequence[str] = ()
    callback_conf: Dict[str, Dict[str, Any]] = dataclasses.field(default_factory=dict)
    profiling: bool = False
    profile_steps: int = 3
    compile_model: bool = False
    compile_backend: str = "inductor"
    amp_loss_scale: Optional[float] = None
    sync_gradient_barrier: bool = False
    ddp_static_graph: bool = False


class StaticLossScaler:
    """Fixed loss scale (plan ``amp_loss_scale: N``): scale the loss by N, unscale the
    gradients, skip steps with inf/nan gradients; the scale never changes (GradScaler's
    subset the loop uses)."""

    def __init__(self, scale: float):
        if not scale > 0:
            raise ValueError(f"training.amp_loss_scale must be > 0 or null, got {scale}")
        self.scale_value = float(scale)
        self._found_inf: Dict[int, bool] = {}

    def scale(self, loss: torch.Tensor) -> torch.Tensor:
        return loss * self.scale_value

    @torch.no_grad()
    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        found = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.div_(self.scale_value)
                    found = found or not bool(torch.isfinite(p.grad).all())
        self._found_inf[id(optimizer)] = found

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if id(optimizer) not in self._found_inf:
            self.unscale_(optimizer)
        if not self._found_inf.pop(id(optimizer)):
            optimizer.step()

    def update(self) -> None:
        pass

    def get_scale(self) -> float:
        return self.scale_value

    def state_dict(self) -> Dict[str, float]:
        return {"scale": self.scale_value}

    def load_state_dict(self, state: Dict[str, float]) -> None:
        self.scale_value = float(state["scale"])


def amp_dtype(device: str) -> torch.dtype:
    """float16 on CUDA (with a loss scaler), bfloat16 on CPU."""
    return torch.float16 if device == "cuda" else torch.bfloat16


def build_grad_scaler(*, use_amp: bool, amp_loss_scale: Optional[float], device: str):
    """None without AMP; a static scaler with ``amp_loss_scale``; else the dynamic GradScaler
    on CUDA (float16) and none on CPU (bfloat16 needs no scaling)."""
    if not use_amp:
        return None
    if amp_loss_scale is not None:
        return StaticLossScaler(amp_loss_scale)
    if device == "cuda":
        return torch.amp.GradScaler("cuda")
    return None


def _metric(reporter: Reporter, phase: str, key: str, round_: int):
    try:
        return reporter.get_value(phase, key, round_)
    except KeyError:
        return None


class TSDiaTrainer(Trainer):
    """See the module docstring. Class methods only (ESPnet convention)."""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser):
        group = parser.add_argument_group("TSDiaTrainer (plan training knobs)")
        group.add_argument(
            "--exp_name", type=str_or_none, default=None, help="plan name: run name in logs/tensorboard/wandb"
        )
        group.add_argument("--max_steps", type=int_or_none, default=None, help="stop after this many optimizer steps")
        group.add_argument(
            "--valid_interval_steps",
            type=int_or_none,
            default=None,
            help="validate (and end a round) every N optimizer steps; None = every data epoch",
        )
        group.add_argument(
            "--early_stopping_min_delta", type=float, default=0.0, help="smallest improvement that resets patience"
        )
        group.add_argument(
            "--early_stopping_restore_best",
            type=str2bool,
            default=False,
            help="at the end, load the best round's weights (by early_stopping_criterion)",
        )
        group.add_argument(
            "--checkpoint_interval_steps", type=int_or_none, default=None, help="write checkpoint.pth every N steps"
        )
        group.add_argument(
            "--resume_checkpoint", type=str_or_none, default=None, help="resume from this checkpoint file"
        )
        group.add_argument(
            "--snapshot_optimizer", type=str2bool, default=True, help="keep optimizer state in checkpoint.pth"
        )
        group.add_argument(
            "--snapshot_scheduler", type=str2bool, default=True, help="keep scheduler state in checkpoint.pth"
        )
        group.add_argument(
            "--snapshot_features", type=str2bool, default=True, help="keep FAVOR+ projections in checkpoint.pth"
        )
        group.add_argument(
            "--save_best_only",
            type=str2bool,
            default=False,
            help="write a round snapshot only when checkpoint_monitor improved",
        )
        group.add_argument(
            "--checkpoint_monitor",
            type=str,
            nargs=3,
            default=None,
            help="phase key mode watched by save_best_only, e.g. valid loss min (default: best_model_criterion[0])",
        )
        group.add_argument(
            "--callbacks", type=str, nargs="*", default=[], help="callback names (espnet2_tsdia.train.callbacks)"
        )
        group.add_argument("--callback_conf", type=_dict_arg, default=dict(), help="options per callback name")
        group.add_argument("--profiling", type=str2bool, default=False, help="torch.profiler trace of a few steps")
        group.add_argument("--profile_steps", type=int, default=3, help="active steps of the profiler trace")
        group.add_argument("--compile_model", type=str2bool, default=False, help="torch.compile the model")
        group.add_argument("--compile_backend", type=str, default="inductor", help="torch.compile backend")
        group.add_argument(
            "--amp_loss_scale", type=float_or_none, default=None, help="static AMP loss scale; None = dynamic"
        )
        group.add_argument(
            "--sync_gradient_barrier", type=str2bool, default=False, help="barrier before each optimizer step (DDP)"
        )
        group.add_argument(
            "--ddp_static_graph", type=str2bool, default=False, help="DistributedDataParallel(static_graph=True)"
        )

    @classmethod
    def build_options(cls, args: argparse.Namespace) -> TSDiaTrainerOptions:
        bad = {
            k: getattr(args, k)
            for k, ok in UNSUPPORTED_ESPNET_OPTIONS.items()
            if hasattr(args, k) and getattr(args, k) != ok
        }
        if bad:
            raise ValueError(
                "TSDiaTrainer does not implement these ESPnet options (set them back): "
                + ", ".join(f"{k}={v!r} (expected {UNSUPPORTED_ESPNET_OPTIONS[k]!r})" for k, v in bad.items())
            )
        options = build_dataclass(TSDiaTrainerOptions, args)
        check_trainer_options(options)
        return options

    # ------------------------------------------------------------------ the loop
    @classmethod
    def run(
        cls,
        model,
        optimizers,
        schedulers,
        train_iter_factory,
        valid_iter_factory,
        plot_attention_iter_factory,
        trainer_options,
        distributed_option,
    ) -> None:
        opts: TSDiaTrainerOptions = trainer_options
        if not isinstance(opts, TSDiaTrainerOptions):
            raise TypeError(f"TSDiaTrainer needs TSDiaTrainerOptions, got {type(opts).__name__}")
        loop = _Loop(
            model, list(optimizers), list(schedulers), train_iter_factory, valid_iter_factory, opts, distributed_option
        )
        loop.run()


def _dict_arg(value):
    """``--callback_conf`` from the command line: a yaml mapping string."""
    import yaml

    if isinstance(value, dict):
        return value
    out = yaml.safe_load(value)
    if not isinstance(out, dict):
        raise argparse.ArgumentTypeError(f"expected a yaml mapping, got {value!r}")
    return out


def check_trainer_options(o: TSDiaTrainerOptions) -> None:
    """ValueError naming the option for values out of range or contradictory."""
    for name in ("max_steps", "valid_interval_steps", "checkpoint_interval_steps"):
        v = getattr(o, name)
        if v is not None and v < 1:
            raise ValueError(f"--{name} must be >= 1 or None, got {v}")
    if o.accum_grad < 1:
        raise ValueError(f"--accum_grad must be >= 1, got {o.accum_grad}")
    if o.max_epoch < 1:
        raise ValueError(f"--max_epoch must be >= 1, got {o.max_epoch}")
    if o.profile_steps < 1:
        raise ValueError(f"--profile_steps must be >= 1, got {o.profile_steps}")
    if o.checkpoint_monitor is not None and (
        len(o.checkpoint_monitor) != 3 or o.checkpoint_monitor[2] not in ("min", "max")
    ):
        raise ValueError(f"--checkpoint_monitor expects 'phase key min|max', got {o.checkpoint_monitor}")
    if o.amp_loss_scale is not None and not o.amp_loss_scale > 0:
        raise ValueError(f"--amp_loss_scale must be > 0 or None, got {o.amp_loss_scale}")
    EarlyStopping(
        patience=o.patience,
        phase=o.early_stopping_criterion[0],
        key=o.early_stopping_criterion[1],
        mode=o.early_stopping_criterion[2],
        min_delta=o.early_stopping_min_delta,
    )
    build_callbacks(o.callbacks, o.callback_conf)


class _Loop:
    """State of one training run (kept out of the class methods for readability)."""

    def __init__(self, model, optimizers, schedulers, train_iter_factory, valid_iter_factory, opts, dist):
        self.model = model
        self.optimizers = optimizers
        self.schedulers = schedulers
        self.train_factory = train_iter_factory
        self.valid_factory = valid_iter_factory
        self.opts = opts
        self.dist = dist
        self.distributed = bool(dist.distributed)
        self.rank0 = not self.distributed or dist.dist_rank == 0
        self.device = "cuda" if opts.ngpu > 0 else "cpu"
        self.output_dir = Path(opts.output_dir)
        self.reporter = Reporter()
        self.scaler = build_grad_scaler(use_amp=opts.use_amp, amp_loss_scale=opts.amp_loss_scale, device=self.device)
        self.callbacks = build_callbacks(opts.callbacks, opts.callback_conf)
        self.pos = TrainPosition()
        keep = opts.keep_nbest_models
        self.keep_nbest = [keep] if isinstance(keep, int) else list(keep or [1])
        self.early = EarlyStopping(
            patience=opts.patience,
            phase=opts.early_stopping_criterion[0],
            key=opts.early_stopping_criterion[1],
            mode=opts.early_stopping_criterion[2],
            min_delta=opts.early_stopping_min_delta,
        )
        crit = [tuple(c) for c in opts.best_model_criterion]
        self.best_criteria = crit
        self.monitor = (
            tuple(opts.checkpoint_monitor)
            if opts.checkpoint_monitor
            else (crit[0] if crit else ("valid", "loss", "min"))
        )
        self.saved_rounds: List[int] = []
        self.checked_metrics = False
        self.writers = None

    # ---------------------------------------------------------------- checkpoint I/O
    def checkpoint_state(self) -> Dict[str, Any]:
        o = self.opts
        model_state = self.model.state_dict()
        if not o.snapshot_features:
            model_state = strip_projections(model_state)
        from espnet2_tsdia.layers.attention import favor_kernels

        return {
            "model": model_state,
            "reporter": self.reporter.state_dict(),
            "optimizers": [opt.state_dict() for opt in self.optimizers] if o.snapshot_optimizer else None,
            "schedulers": (
                [s.state_dict() if s is not None else None for s in self.schedulers] if o.snapshot_scheduler else None
            ),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "callbacks": [cb.state_dict() for cb in self.callbacks],
            "position": self.pos.state_dict(),
            "rng": rng_state(),
            "redraw_counters": [k.steps_since_redraw for k in favor_kernels(self.model)],
            "saved_rounds": list(self.saved_rounds),
        }

    def save_checkpoint(self) -> None:
        if self.rank0:
            atomic_save(self.checkpoint_state(), self.output_dir / "checkpoint.pth")

    def resume(self) -> None:
        o = self.opts
        path = Path(o.resume_checkpoint) if o.resume_checkpoint else self.output_dir / "checkpoint.pth"
        if not (o.resume or o.resume_checkpoint):
            return
        if not path.exists():
            if o.resume_checkpoint:
                raise FileNotFoundError(f"training.checkpoint.resume: {path} does not exist")
            return
        states = torch.load(path, map_location=self.device, weights_only=False)
        missing, unexpected = self.model.load_state_dict(states["model"], strict=False)
        missing_non_proj = [k for k in missing if k not in projection_keys(missing)]
        if missing_non_proj or unexpected:
            raise RuntimeError(f"{path}: model state mismatch, missing {missing_non_proj}, unexpected {unexpected}")
        if missing:
            from espnet2_tsdia.layers.attention import favor_kernels

            for k in favor_kernels(self.model):
                k.redraw_projection()
            logger.info(
                "resume: %d FAVOR+ projections were not in the checkpoint (snapshot_features false): redrawn",
                len(missing),
            )
        self.reporter.load_state_dict(states["reporter"])
        if states.get("optimizers") is not None:
            for opt, st in zip(self.optimizers, states["optimizers"], strict=True):
                opt.load_state_dict(st)
        else:
            logger.warning("resume: %s has no optimizer state (snapshot_optimizer false): fresh optimizer", path)
        if states.get("schedulers") is not None:
            for s, st in zip(self.schedulers, states["schedulers"], strict=True):
                if s is not None and st is not None:
                    s.load_state_dict(st)
        else:
            logger.warning("resume: %s has no scheduler state (snapshot_scheduler false): fresh scheduler", path)
        if self.scaler is not None and states.get("scaler") is not None:
            self.scaler.load_state_dict(states["scaler"])
        for cb, st in zip(self.callbacks, states.get("callbacks") or [], strict=False):
            cb.load_state_dict(st)
        self.pos = TrainPosition.from_state_dict(states["position"])
        self.saved_rounds = list(states.get("saved_rounds", []))
        from espnet2_tsdia.layers.attention import favor_kernels

        for k, c in zip(favor_kernels(self.model), states.get("redraw_counters") or [], strict=False):
            k.steps_since_redraw = c
        if states.get("rng") is not None:
            set_rng_state(states["rng"])
        logger.info("resumed from %s at round %d, step %d", path, self.pos.round, self.pos.step)

    # ---------------------------------------------------------------- setup
    def wrap_model(self):
        o = self.opts
        model = self.model
        if self.distributed:
            model = torch.nn.parallel.DistributedDataParallel(
                model,
                device_ids=[torch.cuda.current_device()] if self.dist.ngpu == 1 else None,
                output_device=torch.cuda.current_device() if self.dist.ngpu == 1 else None,
                find_unused_parameters=o.unused_parameters,
                gradient_as_bucket_view=o.gradient_as_bucket_view,
                static_graph=o.ddp_static_graph,
            )
            if o.ddp_comm_hook is not None:
                from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

                model.register_comm_hook(None, getattr(default_hooks, o.ddp_comm_hook))
        elif self.dist.ngpu > 1:
            model = torch.nn.parallel.DataParallel(model, device_ids=list(range(self.dist.ngpu)))
        if o.compile_model:
            model = torch.compile(model, backend=o.compile_backend)
        return model

    def open_writers(self):
        if not (self.opts.use_tensorboard and self.rank0):
            return None
        from torch.utils.tensorboard import SummaryWriter

        writers = {
            "train": SummaryWriter(str(self.output_dir / "tensorboard" / "train")),
            "valid": SummaryWriter(str(self.output_dir / "tensorboard" / "valid")),
        }
        if self.opts.exp_name:
            writers["train"].add_text("name", self.opts.exp_name, 0)
        return writers

    # ---------------------------------------------------------------- main
    def run(self) -> None:
        o = self.opts
        if self.rank0:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        self.resume()
        for cb in self.callbacks:
            cb.on_train_begin(self.model)
        self.dp_model = self.wrap_model()
        self.writers = self.open_writers()
        self.profiler = self.start_profiler()
        prefix = f"[{o.exp_name}] " if o.exp_name else ""
        batches = self.train_batches()
        stop = self.finished()
        while not stop:
            r = self.pos.round + 1
            self.reporter.set_epoch(r)
            if self.pos.batch_in_round == 0:
                set_all_random_seed(o.seed + r)
            with self.reporter.observe("train") as sub:
                exhausted = self.train_round(batches, sub)
            with self.reporter.observe("valid") as sub:
                self.validate(sub)
            self.pos.round = r
            self.pos.round_steps = 0
            self.pos.batch_in_round = 0
            self.step_val_schedulers()
            logger.info(prefix + self.reporter.log_message())
            self.end_of_round(r)
            stop = exhausted or self.finished() or self.early.should_stop(self.reporter)
            self.save_checkpoint()
        if self.profiler is not None:
            self.profiler.stop()
        if self.rank0:
            self.finish()
        if self.writers:
            for w in self.writers.values():
                w.close()

    def finished(self) -> bool:
        o = self.opts
        if o.max_steps is not None and self.pos.step >= o.max_steps:
            return True
        return self.pos.data_epoch > o.max_epoch

    def train_batches(self):
        """(data_epoch, index, keys, batch) from the saved position onwards, across epochs."""
        while self.pos.data_epoch <= self.opts.max_epoch:
            epoch = self.pos.data_epoch
            start = self.pos.batch_in_epoch
            for i, (keys, batch) in enumerate(self.train_factory.build_iter(epoch, start=start), start):
                yield epoch, i, keys, batch
            # The position moves to the next epoch once every batch was consumed.
            if self.pos.data_epoch == epoch:
                self.pos.data_epoch, self.pos.batch_in_epoch = epoch + 1, 0
                yield None

    def start_profiler(self):
        if not self.opts.profiling:
            return None
        from torch.profiler import ProfilerActivity, profile, schedule

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if self.device == "cuda" else [])
        rank = self.dist.dist_rank or 0
        out = self.output_dir / "profile"
        out.mkdir(parents=True, exist_ok=True)

        def on_ready(prof):
            path = out / f"trace.rank{rank}.json"
            prof.export_chrome_trace(str(path))
            logger.info("profiler trace written to %s", path)

        prof = profile(
            activities=activities,
            schedule=schedule(wait=1, warmup=1, active=self.opts.profile_steps, repeat=1),
            on_trace_ready=on_ready,
            record_shapes=True,
        )
        prof.start()
        return prof

    # ---------------------------------------------------------------- one round
    def train_round(self, batches, sub) -> bool:
        """Train until the round ends; True when the data (max_epoch) is exhausted."""
        o = self.opts
        model = self.dp_model
        model.train()
        log_interval = o.log_interval or 100
        iterator_stop = torch.tensor(0, device=self.device)
        start = time.perf_counter()
        exhausted = False
        while True:
            try:
                item = next(batches)
            except StopIteration:
                exhausted = True
                break
            if item is None:  # a data epoch ended
                if o.valid_interval_steps is None:
                    break
                continue
            epoch, index, keys, batch = item
            if self.distributed:
                torch.distributed.all_reduce(iterator_stop)
                if iterator_stop > 0:
                    exhausted = True
                    break
            self.pos.data_epoch, self.pos.batch_in_epoch = epoch, index + 1
            self.pos.batch_in_round += 1
            batch["utt_id"] = keys
            batch = to_device(batch, self.device)
            if o.no_forward_run:
                sub.next()
                continue
            stepped = self.train_batch(model, batch, sub)
            if self.profiler is not None:
                self.profiler.step()
                if self.pos.step >= 2 + o.profile_steps + 1:
                    self.profiler.stop()
                    self.profiler = None
            sub.register({"train_time": time.perf_counter() - start})
            start = time.perf_counter()
            sub.next()
            if self.pos.batch_in_round % log_interval == 0:
                logger.info(sub.log_message(-log_interval))
                if self.writers:
                    sub.tensorboard_add_scalar(self.writers["train"], -log_interval)
                if o.use_wandb:
                    sub.wandb_log()
            if stepped:
                if o.checkpoint_interval_steps and self.pos.step % o.checkpoint_interval_steps == 0:
                    self.save_checkpoint()
                if o.max_steps is not None and self.pos.step >= o.max_steps:
                    break
                if o.valid_interval_steps is not None and self.pos.round_steps >= o.valid_interval_steps:
                    break
        if self.distributed and exhausted:
            iterator_stop.fill_(1)
            torch.distributed.all_reduce(iterator_stop)
        return exhausted

    def autocast(self):
        if not self.opts.use_amp:
            return nullcontext()
        return torch.autocast(self.device, dtype=amp_dtype(self.device))

    def train_batch(self, model, batch, sub) -> bool:
        """Forward/backward one batch; an optimizer step every accum_grad batches. Returns
        whether a step was taken."""
        o = self.opts
        with self.autocast():
            with sub.measure_time("forward_time"):
                retval = model(**batch)
            if isinstance(retval, dict):
                loss, stats, weight = retval["loss"], retval["stats"], retval["weight"]
            else:
                loss, stats, weight = retval
            stats = {k: v for k, v in stats.items() if v is not None}
            if self.distributed or self.dist.ngpu > 1:
                loss = (loss * weight.type(loss.dtype)).sum()
                stats, weight = recursive_average(stats, weight, self.distributed)
                loss = loss / weight
            if self.distributed:
                # DDP averages gradients over ranks; the weighted mean needs the sum.
                loss = loss * torch.distributed.get_world_size()
            loss = loss / o.accum_grad
        sub.register(stats, weight)
        loss_value = float(loss.detach()) * o.accum_grad
        with sub.measure_time("backward_time"):
            (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
        if self.pos.batch_in_round % o.accum_grad != 0:
            return False
        return self.optimizer_step(sub, loss_value)

    def optimizer_step(self, sub, loss_value: float) -> bool:
        o = self.opts
        if self.scaler is not None:
            for opt in self.optimizers:
                self.scaler.unscale_(opt)
        if o.grad_noise:
            add_gradient_noise(self.model, sub.get_total_count(), duration=100, eta=1.0, scale_factor=0.55)
        max_norm = o.grad_clip if (o.grad_clip is not None and o.grad_clip > 0) else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(
            self.model.parameters(), max_norm=max_norm, norm_type=o.grad_clip_type
        )
        for cb in self.callbacks:
            cb.on_before_optimizer_step(self.model, self.pos.step)
        if self.distributed and o.sync_gradient_barrier:
            torch.distributed.barrier()
        stepped = bool(torch.isfinite(grad_norm))
        if not stepped:
            logger.warning("grad norm is %s: skipping this update", grad_norm)
        with sub.measure_time("optim_step_time"):
            for opt, sched in zip(self.optimizers, self.schedulers, strict=True):
                if stepped:
                    if self.scaler is not None:
                        self.scaler.step(opt)
                    else:
                        opt.step()
                elif isinstance(self.scaler, torch.amp.GradScaler):
                    self.scaler.step(opt)  # records the inf; skips the update
                if stepped and sched is not None and is_batch_stepped(sched):
                    sched.step()
            if self.scaler is not None:
                self.scaler.update()
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        if not stepped:
            return False
        self.pos.step += 1
        self.pos.round_steps += 1
        # FAVOR+ kernels built with auto_check_redraw=False count optimizer steps here; the
        # others count their own forward passes (calling them too would count twice).
        from espnet2_tsdia.layers.attention import favor_kernels

        for kernel in favor_kernels(self.model):
            if not kernel.auto_check_redraw:
                kernel.maybe_redraw()
        for cb in self.callbacks:
            cb.on_step_end(self.model, self.optimizers, self.pos.step, loss_value)
        sub.register(
            {
                "grad_norm": grad_norm.detach().float(),
                "loss_scale": float(self.scaler.get_scale()) if self.scaler is not None else 1.0,
                **{
                    f"optim{i}_lr{j}": pg["lr"]
                    for i, opt in enumerate(self.optimizers)
                    for j, pg in enumerate(opt.param_groups)
                },
            }
        )
        return True

    @torch.no_grad()
    def validate(self, sub) -> None:
        o = self.opts
        model = self.dp_model
        model.eval()
        iterator_stop = torch.tensor(0, device=self.device)
        for keys, batch in self.valid_factory.build_iter(self.pos.round + 1):
            if self.distributed:
                torch.distributed.all_reduce(iterator_stop)
                if iterator_stop > 0:
                    break
            batch["utt_id"] = keys
            batch = to_device(batch, self.device)
            if o.no_forward_run:
                continue
            with self.autocast():
                retval = model(**batch)
            if isinstance(retval, dict):
                stats, weight = retval["stats"], retval["weight"]
            else:
                _, stats, weight = retval
            stats = {k: v for k, v in stats.items() if v is not None}
            if self.distributed or self.dist.ngpu > 1:
                stats, weight = recursive_average(stats, weight, self.distributed)
            sub.register(stats, weight)
            sub.next()
        else:
            if self.distributed:
                iterator_stop.fill_(1)
                torch.distributed.all_reduce(iterator_stop)
        model.train()

    def step_val_schedulers(self):
        phase, key = self.opts.val_scheduler_criterion
        for s in self.schedulers:
            if s is not None and is_validation_stepped(s):
                value = _metric(self.reporter, phase, key, self.pos.round)
                if value is None:
                    raise ValueError(
                        f"val_scheduler_criterion {phase}.{key} was not reported; reported: {self.reporter.get_all_keys()}"
                    )
                s.step(value)

    def check_metrics(self, r: int) -> None:
        """Every configured metric must be reported (no criterion silently ignored)."""
        if self.checked_metrics or self.opts.no_forward_run:
            return
        o = self.opts
        wanted = {
            "best_model_criterion": [tuple(c[:2]) for c in self.best_criteria],
            "early_stopping_criterion": [tuple(o.early_stopping_criterion[:2])]
            if (o.patience is not None or o.early_stopping_restore_best)
            else [],
            "checkpoint_monitor": [tuple(self.monitor[:2])] if o.save_best_only else [],
        }
        for option, pairs in wanted.items():
            for phase, key in pairs:
                if not self.reporter.has(phase, key, r):
                    raise ValueError(
                        f"{option}: metric {phase}.{key} is not reported by the model; reported: "
                        f"{sorted(f'{a}.{b}' for a, b in self.reporter.get_all_keys(r))}"
                    )
        self.checked_metrics = True

    # ---------------------------------------------------------------- round end (rank 0)
    def end_of_round(self, r: int) -> None:
        o = self.opts
        self.check_metrics(r)
        if not self.rank0:
            return
        if o.use_matplotlib:
            self.reporter.matplotlib_plot(self.output_dir / "images")
        if self.writers:
            self.reporter.tensorboard_add_scalar(self.writers["train"], key1="train")
            self.reporter.tensorboard_add_scalar(self.writers["valid"], key1="valid")
        if o.use_wandb:
            self.reporter.wandb_log()
        improved = self.monitor_improved(r)
        if not o.save_best_only or improved:
            torch.save(self.model.state_dict(), self.output_dir / f"{r}epoch.pth")
            self.saved_rounds.append(r)
            self.link("latest.pth", f"{r}epoch.pth")
            if o.use_wandb and o.wandb_model_log_interval > 0 and r % o.wandb_model_log_interval == 0:
                self.log_model_artifact(r)
        for phase, key, mode in self.best_criteria:
            if self.reporter.has(phase, key) and r in self.saved_rounds:
                if self.filtered_reporter().get_best_epoch(phase, key, mode) == r:
                    self.link(f"{phase}.{key}.best.pth", f"{r}epoch.pth")
        self.remove_old_snapshots(r)
        if o.nbest_averaging_interval > 0 and r % o.nbest_averaging_interval == 0:
            self.average(suffix=f"till{r}epoch")
        write_round_metrics(self.output_dir, self.reporter.stats, step=self.pos.step, data_epoch=self.pos.data_epoch)

    def monitor_improved(self, r: int) -> bool:
        phase, key, mode = self.monitor
        if not self.reporter.has(phase, key, r):
            return True
        previous = [
            float(self.reporter.stats[e][phase][key])
            for e in self.saved_rounds
            if e in self.reporter.stats and key in self.reporter.stats[e].get(phase, {})
        ]
        value = float(self.reporter.get_value(phase, key, r))
        if not previous:
            return True
        return value < min(previous) if mode == "min" else value > max(previous)

    def link(self, name: str, target: str) -> None:
        relink(self.output_dir / name, target)

    def filtered_reporter(self) -> Reporter:
        """The reporter restricted to rounds with a snapshot on disk (save_best_only)."""
        rep = Reporter()
        rep.load_state_dict(
            {
                "stats": {e: s for e, s in self.reporter.stats.items() if e in self.saved_rounds},
                "epoch": self.reporter.epoch,
            }
        )
        return rep

    def protected_rounds(self, r: int) -> set:
        rep = self.filtered_reporter()
        keep = {max(self.saved_rounds)} if self.saved_rounds else set()
        for phase, key, mode in self.best_criteria:
            if rep.has(phase, key):
                keep |= set(rep.sort_epochs(phase, key, mode)[: max(self.keep_nbest)])
        if self.opts.early_stopping_restore_best:
            best = self.early.best(rep)
            if best is not None:
                keep.add(best)
        return keep

    def remove_old_snapshots(self, r: int) -> None:
        keep = self.protected_rounds(r)
        for e in list(self.saved_rounds):
            if e not in keep:
                p = self.output_dir / f"{e}epoch.pth"
                if p.exists():
                    p.unlink()
                self.saved_rounds.remove(e)

    def average(self, suffix: Optional[str] = None) -> None:
        average_nbest(self.output_dir, self.filtered_reporter(), self.best_criteria, self.keep_nbest, suffix)

    def log_model_artifact(self, r: int) -> None:
        import wandb

        if wandb.run is None:
            return
        artifact = wandb.Artifact(name=f"model_{wandb.run.id}", type="model")
        artifact.add_file(str(self.output_dir / f"{r}epoch.pth"))
        wandb.log_artifact(artifact, aliases=[f"epoch-{r}"])

    def finish(self) -> None:
        o = self.opts
        if self.saved_rounds:
            self.average()
        if o.early_stopping_restore_best and self.saved_rounds:
            best = self.early.best(self.filtered_reporter())
            if best is not None:
                state = torch.load(self.output_dir / f"{best}epoch.pth", map_location=self.device, weights_only=False)
                self.model.load_state_dict(state)
                self.link("latest.pth", f"{best}epoch.pth")
                atomic_save(self.checkpoint_state(), self.output_dir / "checkpoint.pth")
                logger.info(
                    "restore_best_weights: model set to round %d (%s.%s)", best, self.early.phase, self.early.key
                )
