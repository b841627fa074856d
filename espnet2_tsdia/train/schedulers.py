"""The plan's learning-rate schedules (``training.scheduler.*``) as one ESPnet scheduler name.

ESPnet selects a scheduler by name and calls ``scheduler_classes[name](optimizer, **conf)``.
We register one name, ``tsdia``, whose conf is the plan's scheduler section verbatim
(``type``, ``warmup_steps``, ``min_lr``, ``max_lr``, ``decay_steps``, ``num_cycles``,
``step_size``, ``gamma``, ``patience``, ``mode``), so a config round-trips between the plan's
layout and ESPnet's. :func:`build_tsdia_scheduler` returns ESPnet's own scheduler where one
does the job and :class:`PlanLR` where none does:

=========== ====================================================================== ==========
type        learning rate at optimizer step t (w = warmup_steps, peak = max_lr or lr) class
=========== ====================================================================== ==========
cosine      per cycle of decay_steps / num_cycles steps: linear min_lr -> peak over ESPnet's
            w, then cosine to min_lr; peak *= gamma after each cycle; cycles repeat  CosineAnnealingWarmupRestarts
linear      min_lr -> peak over w, then linearly to min_lr over decay_steps          PlanLR
exponential min_lr -> peak over w, then geometrically to min_lr over decay_steps     PlanLR
step        min_lr -> peak over w, then peak * gamma ** ((t - w) // step_size),      PlanLR
            never below min_lr
plateau     0 -> peak over w, then x gamma after ``patience`` validations without   ESPnet's
            improvement in ``mode`` (never below min_lr)                            WarmupReduceLROnPlateau
constant    min_lr -> peak over w, then peak                                          PlanLR
=========== ====================================================================== ==========

All step once per optimizer step, except that ``plateau`` also steps on every validation
(with the value of ``--val_scheduler_criterion``). ESPnet's ExponentialDecayWarmup was not
reused: it keeps decaying below ``min_lr`` after ``total_steps``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Dict, Optional, Tuple

import torch
from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler

logger = logging.getLogger(__name__)

SCHEDULE_TYPES = ("cosine", "linear", "exponential", "step", "plateau", "constant")

#: For each type, the plan keys it reads (``type`` itself is always read). Config check
#: reports any other key set to a non-default value as "not consumed".
SCHEDULE_KEYS: Dict[str, Tuple[str, ...]] = {
    "cosine": ("warmup_steps", "min_lr", "max_lr", "decay_steps", "num_cycles", "gamma"),
    "linear": ("warmup_steps", "min_lr", "max_lr", "decay_steps"),
    "exponential": ("warmup_steps", "min_lr", "max_lr", "decay_steps"),
    "step": ("warmup_steps", "min_lr", "max_lr", "step_size", "gamma"),
    "plateau": ("warmup_steps", "min_lr", "max_lr", "gamma", "patience", "mode"),
    "constant": ("warmup_steps", "min_lr", "max_lr"),
}

#: Name under which :func:`build_tsdia_scheduler` is registered in ESPnet's scheduler_classes.
SCHEDULER_NAME = "tsdia"


@dataclass(frozen=True)
class ScheduleOptions:
    """The plan's ``training.scheduler`` section, validated.

    Args:
        type: one of :data:`SCHEDULE_TYPES`.
        warmup_steps: optimizer steps of linear warmup (0 = none).
        min_lr: floor (and warmup start) of the learning rate.
        max_lr: peak after warmup; None -> the optimizer's ``lr``.
        decay_steps: length of the decay (cosine: of all ``num_cycles`` cycles); required by
            cosine, linear and exponential.
        num_cycles: cosine restarts within ``decay_steps``.
        step_size: steps between two decays of ``step``; required by step.
        gamma: decay factor of ``step``, plateau's reduction factor, cosine's per-cycle
            decay of the peak.
        patience: validations without improvement before plateau reduces; None -> 0.
        mode: min or max: whether plateau's metric improves downwards or upwards.
    """

    type: str = "constant"
    warmup_steps: int = 0
    min_lr: float = 0.0
    max_lr: Optional[float] = None
    decay_steps: Optional[int] = None
    num_cycles: int = 1
    step_size: Optional[int] = None
    gamma: float = 0.1
    patience: Optional[int] = None
    mode: str = "min"

    def __post_init__(self):
        if self.type not in SCHEDULE_TYPES:
            raise ValueError(
                f"training.scheduler.type: unknown schedule {self.type!r}; expected one of {list(SCHEDULE_TYPES)}"
            )
        if self.warmup_steps < 0:
            raise ValueError(f"training.scheduler.warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.min_lr < 0:
            raise ValueError(f"training.scheduler.min_lr must be >= 0, got {self.min_lr}")
        if self.max_lr is not None and self.max_lr < self.min_lr:
            raise ValueError(f"training.scheduler.max_lr must be >= min_lr ({self.min_lr}), got {self.max_lr}")
        if self.type in ("cosine", "linear", "exponential"):
            if self.decay_steps is None or self.decay_steps < 1:
                raise ValueError(
                    f"training.scheduler.decay_steps must be an integer >= 1 for type "
                    f"{self.type!r}, got {self.decay_steps}"
                )
        if self.type == "cosine":
            if self.num_cycles < 1:
                raise ValueError(f"training.scheduler.num_cycles must be >= 1, got {self.num_cycles}")
            if self.decay_steps // self.num_cycles <= self.warmup_steps:
                raise ValueError(
                    "training.scheduler: a cosine cycle (decay_steps / num_cycles = "
                    f"{self.decay_steps // self.num_cycles}) must be longer than warmup_steps "
                    f"({self.warmup_steps})"
                )
        if self.type == "step" and (self.step_size is None or self.step_size < 1):
            raise ValueError(
                f"training.scheduler.step_size must be an integer >= 1 for type 'step', got {self.step_size}"
            )
        if not self.gamma > 0:
            raise ValueError(f"training.scheduler.gamma must be > 0, got {self.gamma}")
        if self.type == "plateau" and not self.gamma < 1:
            raise ValueError(f"training.scheduler.gamma must be < 1 for 'plateau', got {self.gamma}")
        if self.patience is not None and self.patience < 0:
            raise ValueError(f"training.scheduler.patience must be >= 0 or null, got {self.patience}")
        if self.mode not in ("min", "max"):
            raise ValueError(f"training.scheduler.mode must be 'min' or 'max', got {self.mode!r}")

    def unused_keys(self) -> Tuple[str, ...]:
        """Keys set away from their default that ``type`` does not read."""
        used = set(SCHEDULE_KEYS[self.type]) | {"type"}
        return tuple(f.name for f in fields(self) if f.name not in used and getattr(self, f.name) != f.default)


def plan_lr(step: int, *, base_lr: float, options: ScheduleOptions) -> float:
    """Learning rate after ``step`` optimizer steps for linear, exponential, step, constant.

    Pure function (PlanLR and the tests use it). ``base_lr`` is the optimizer's lr, the peak
    unless ``options.max_lr`` is set.
    """
    if options.type not in ("linear", "exponential", "step", "constant"):
        raise ValueError(f"plan_lr computes linear/exponential/step/constant, got {options.type!r}")
    peak = options.max_lr if options.max_lr is not None else base_lr
    floor = min(options.min_lr, peak)
    w = options.warmup_steps
    if step < w:
        return floor + (peak - floor) * step / w
    t = step - w
    if options.type == "constant":
        return peak
    if options.type == "linear":
        frac = min(t / options.decay_steps, 1.0)
        return peak + (floor - peak) * frac
    if options.type == "exponential":
        frac = min(t / options.decay_steps, 1.0)
        if floor <= 0:
            # Geometric decay to 0 is undefined: decay to 1e-3 * peak, then hold 0 at the end.
            return 0.0 if frac >= 1.0 else peak * (1e-3) ** frac
        return peak * (floor / peak) ** frac
    return max(floor, peak * options.gamma ** (t // options.step_size))


class PlanLR(torch.optim.lr_scheduler.LRScheduler, AbsBatchStepScheduler):
    """Warmup + linear / exponential / step / constant schedule stepped per optimizer step.

    Args:
        optimizer: the optimizer whose param groups it drives (all groups get the same lr).
        options: the schedule.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *, options: ScheduleOptions):
        self.options = options
        super().__init__(optimizer)

    def get_lr(self):
        return [plan_lr(self.last_epoch, base_lr=base, options=self.options) for base in self.base_lrs]


def build_tsdia_scheduler(
    optimizer: torch.optim.Optimizer,
    *,
    type: str = "constant",
    warmup_steps: int = 0,
    min_lr: float = 0.0,
    max_lr: Optional[float] = None,
    decay_steps: Optional[int] = None,
    num_cycles: int = 1,
    step_size: Optional[int] = None,
    gamma: float = 0.1,
    patience: Optional[int] = None,
    mode: str = "min",
):
    """ESPnet ``scheduler: tsdia``: build the scheduler for the plan's schedule ``type``.

    Returns ESPnet's CosineAnnealingWarmupRestarts (cosine), ESPnet's WarmupReduceLROnPlateau
    (plateau) or :class:`PlanLR` (the others). Raises ValueError naming a bad key.
    """
    options = ScheduleOptions(
        type=type,
        warmup_steps=warmup_steps,
        min_lr=min_lr,
        max_lr=max_lr,
        decay_steps=decay_steps,
        num_cycles=num_cycles,
        step_size=step_size,
        gamma=gamma,
        patience=patience,
        mode=mode,
    )
    unused = options.unused_keys()
    if unused:
        raise ValueError(
            f"training.scheduler: type {type!r} does not read {list(unused)}; it reads {list(SCHEDULE_KEYS[type])}"
        )
    base_lr = optimizer.param_groups[0]["lr"]
    if options.type == "cosine":
        from espnet2.schedulers.cosine_anneal_warmup_restart import CosineAnnealingWarmupRestarts

        return CosineAnnealingWarmupRestarts(
            optimizer,
            first_cycle_steps=options.decay_steps // options.num_cycles,
            max_lr=options.max_lr if options.max_lr is not None else base_lr,
            min_lr=options.min_lr,
            warmup_steps=options.warmup_steps,
            gamma=options.gamma,
        )
    if options.type == "plateau":
        from espnet2.schedulers.warmup_reducelronplateau import WarmupReduceLROnPlateau

        if options.max_lr is not None:
            for group in optimizer.param_groups:
                group["lr"] = options.max_lr
                group["initial_lr"] = options.max_lr
        # ESPnet's warmup divides by warmup_steps; 1 step of "warmup" reaches the peak at once.
        scheduler = WarmupReduceLROnPlateau(
            optimizer,
            warmup_steps=max(1, options.warmup_steps),
            mode=options.mode,
            factor=options.gamma,
            patience=options.patience if options.patience is not None else 0,
            min_lr=options.min_lr,
        )
        if options.warmup_steps > 0:
            # ESPnet's class leaves the first step at the peak lr; warmup starts from 0.
            for group in optimizer.param_groups:
                group["lr"] = 0.0
        return scheduler
    return PlanLR(optimizer, options=options)


def is_validation_stepped(scheduler) -> bool:
    """Whether the trainer must also call ``scheduler.step(metric)`` after each validation."""
    from espnet2.schedulers.abs_scheduler import AbsValEpochStepScheduler

    return isinstance(scheduler, (AbsValEpochStepScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau))


def is_batch_stepped(scheduler) -> bool:
    """Whether the trainer calls ``scheduler.step()`` after each optimizer step."""
    return isinstance(scheduler, AbsBatchStepScheduler)


def lr_curve(
    optimizer_name: str,
    optimizer_conf: dict,
    scheduler_name: Optional[str],
    scheduler_conf: dict,
    *,
    num_steps: int,
    valid_interval: Optional[int] = None,
    plateau_metric: float = 1.0,
) -> Tuple[list, list]:
    """Learning rate before each of ``num_steps`` optimizer steps, from the real classes.

    Builds the configured optimizer on one dummy parameter and the configured scheduler
    (through the same registry the trainer uses), then steps them as the trainer does;
    validation-stepped schedulers get a flat ``plateau_metric`` every ``valid_interval`` steps
    (so plateau reductions show). Returns (steps, lrs).
    """
    from espnet2_tsdia.train.optimizers import optimizer_class

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = optimizer_class(optimizer_name)([param], **optimizer_conf)
    scheduler = None
    if scheduler_name is not None:
        scheduler = scheduler_class(scheduler_name)(optimizer, **scheduler_conf)
    steps, lrs = [], []
    for step in range(num_steps):
        steps.append(step)
        lrs.append(optimizer.param_groups[0]["lr"])
        if scheduler is None:
            continue
        optimizer.step()  # no gradient: a no-op, but the order torch expects
        if is_batch_stepped(scheduler):
            scheduler.step()
        if valid_interval and (step + 1) % valid_interval == 0 and is_validation_stepped(scheduler):
            scheduler.step(plateau_metric)
        elif not is_batch_stepped(scheduler) and not is_validation_stepped(scheduler):
            # An ESPnet epoch-stepped scheduler: one "epoch" per validation interval.
            if valid_interval and (step + 1) % valid_interval == 0:
                scheduler.step()
    return steps, lrs


def scheduler_class(name: str):
    """The scheduler constructor ESPnet would use for ``--scheduler name``."""
    name = name.lower()
    if name == SCHEDULER_NAME:
        return build_tsdia_scheduler
    from espnet2.tasks.abs_task import scheduler_classes

    if name not in scheduler_classes:
        raise ValueError(
            f"scheduler: unknown scheduler {name!r}; expected {SCHEDULER_NAME!r} or one of {sorted(scheduler_classes)}"
        )
    return scheduler_classes[name]
