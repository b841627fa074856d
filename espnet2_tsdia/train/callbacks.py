"""Training callbacks by name (plan ``training.callbacks``): a small registry.

A config lists names (``callbacks: [pruning, freeze_layers]``) and, per name, options
(``callback_conf: {pruning: {amount: 0.3}}``). The trainer calls the hooks below; a
callback's ``state_dict`` travels in ``checkpoint.pth`` so resumed runs continue exactly.

Registered:

- ``gradient_clipping``: clip every gradient element to [-clip_value, clip_value] after the
  norm clipping of ``training.gradient_clipping`` (which stays the norm threshold).
- ``pruning``: global magnitude pruning of the Linear weights: at ``start_step`` and then
  every ``interval`` steps (until ``amount`` is reached in ``num_prunes`` equal increments),
  zero the smallest-magnitude share; the zeros are kept after every optimizer step. The
  parameter names are unchanged, so snapshots and n-best averaging keep working.
- ``freeze_layers``: parameters whose name starts with one of ``prefixes`` get no update
  until ``until_step`` (None = never); their gradients are dropped before the step, so
  DDP and optimizers need no rebuild.
- ``dynamic_lr``: loss-spike guard: when a step's loss exceeds ``spike_factor`` x the
  running mean of the last ``window`` losses, the learning rate is multiplied by ``factor``
  (kept for the rest of training, never below ``min_scale``) on top of the scheduler.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from typing import Any, Callable, Dict, List, Optional, Sequence, Type

import torch

logger = logging.getLogger(__name__)


class TrainCallback:
    """Base class; every hook is optional. ``step`` counts optimizer steps (1-based after the
    first step)."""

    name = "callback"

    def on_train_begin(self, model: torch.nn.Module) -> None:
        pass

    def on_before_optimizer_step(self, model: torch.nn.Module, step: int) -> None:
        """After backward, gradient unscaling and norm clipping; before ``optimizer.step()``."""

    def on_step_end(
        self, model: torch.nn.Module, optimizers: Sequence[torch.optim.Optimizer], step: int, loss: float
    ) -> None:
        """After ``optimizer.step()`` and the batch-stepped scheduler."""

    def state_dict(self) -> Dict[str, Any]:
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        pass


CALLBACKS: Dict[str, Type[TrainCallback]] = {}


def register_callback(name: str) -> Callable[[Type[TrainCallback]], Type[TrainCallback]]:
    """Class decorator: make a callback available under ``name`` in configs."""

    def deco(cls: Type[TrainCallback]) -> Type[TrainCallback]:
        if name in CALLBACKS and CALLBACKS[name] is not cls:
            raise ValueError(f"callback {name!r} is already registered ({CALLBACKS[name].__name__})")
        cls.name = name
        CALLBACKS[name] = cls
        return cls

    return deco


def callback_options(name: str) -> List[str]:
    """The options callback ``name`` accepts."""
    if name not in CALLBACKS:
        raise ValueError(f"training.callbacks: unknown callback {name!r}; expected one of {sorted(CALLBACKS)}")
    sig = inspect.signature(CALLBACKS[name].__init__)
    return [p for p in sig.parameters if p != "self"]


def build_callbacks(
    names: Optional[Sequence[str]], conf: Optional[Dict[str, Dict[str, Any]]] = None
) -> List[TrainCallback]:
    """Instantiate callbacks by name with their options; ValueError names unknown names/options."""
    names = list(names or [])
    conf = dict(conf or {})
    stray = sorted(set(conf) - set(names))
    if stray:
        raise ValueError(f"callback_conf has options for {stray}, which are not in callbacks {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"training.callbacks: a name is listed twice: {names}")
    out = []
    for name in names:
        allowed = callback_options(name)
        options = dict(conf.get(name) or {})
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(f"training.callbacks.{name}: unknown option(s) {unknown}; expected some of {allowed}")
        out.append(CALLBACKS[name](**options))
    return out


@register_callback("gradient_clipping")
class GradientValueClipping(TrainCallback):
    """Clip gradient elements to [-clip_value, clip_value] (after the norm clipping)."""

    def __init__(self, *, clip_value: float = 1.0):
        if not clip_value > 0:
            raise ValueError(f"training.callbacks.gradient_clipping.clip_value must be > 0, got {clip_value}")
        self.clip_value = clip_value

    def on_before_optimizer_step(self, model, step):
        torch.nn.utils.clip_grad_value_(model.parameters(), self.clip_value)


def _linear_weights(model: torch.nn.Module) -> Dict[str, torch.nn.Parameter]:
    return {
        f"{mname}.weight" if mname else "weight": m.weight
        for mname, m in model.named_modules()
        if isinstance(m, torch.nn.Linear)
    }


@register_callback("pruning")
class MagnitudePruning(TrainCallback):
    """Global magnitude pruning of Linear weights, kept at zero after every step."""

    def __init__(self, *, amount: float = 0.2, start_step: int = 1, interval: int = 1, num_prunes: int = 1):
        if not 0.0 < amount < 1.0:
            raise ValueError(f"training.callbacks.pruning.amount must be in (0, 1), got {amount}")
        if start_step < 0 or interval < 1 or num_prunes < 1:
            raise ValueError(
                "training.callbacks.pruning: start_step >= 0, interval >= 1 and num_prunes >= 1 expected, "
                f"got start_step={start_step} interval={interval} num_prunes={num_prunes}"
            )
        self.amount = amount
        self.start_step = start_step
        self.interval = interval
        self.num_prunes = num_prunes
        self.prunes_done = 0
        self.masks: Dict[str, torch.Tensor] = {}

    def _prune(self, model):
        weights = _linear_weights(model)
        if not weights:
            return
        self.prunes_done += 1
        share = self.amount * self.prunes_done / self.num_prunes
        flat = torch.cat([w.detach().abs().flatten().float() for w in weights.values()])
        k = int(share * flat.numel())
        if k < 1:
            return
        threshold = flat.kthvalue(k).values
        self.masks = {n: (w.detach().abs().float() > threshold) for n, w in weights.items()}
        logger.info("pruning: %.1f%% of %d Linear weights set to 0", 100 * share, flat.numel())
        self._apply(model)

    @torch.no_grad()
    def _apply(self, model):
        weights = _linear_weights(model)
        for n, mask in self.masks.items():
            weights[n].mul_(mask.to(weights[n].device, weights[n].dtype))

    def on_step_end(self, model, optimizers, step, loss):
        due = step >= self.start_step and (step - self.start_step) % self.interval == 0
        if due and self.prunes_done < self.num_prunes:
            self._prune(model)
        elif self.masks:
            self._apply(model)

    def state_dict(self):
        return {"prunes_done": self.prunes_done, "masks": self.masks}

    def load_state_dict(self, state):
        self.prunes_done = state["prunes_done"]
        self.masks = state["masks"]


@register_callback("freeze_layers")
class FreezeLayers(TrainCallback):
    """No updates for parameters under ``prefixes`` until ``until_step`` (None = never)."""

    def __init__(self, *, prefixes: Sequence[str] = (), until_step: Optional[int] = None):
        if isinstance(prefixes, str) or not prefixes:
            raise ValueError(
                f"training.callbacks.freeze_layers.prefixes: expected a non-empty list of parameter-name prefixes, got {prefixes!r}"
            )
        self.prefixes = tuple(prefixes)
        self.until_step = until_step
        self._names: List[str] = []

    def _frozen(self, model):
        return [
            (n, p)
            for n, p in model.named_parameters()
            if any(n == pre or n.startswith(pre + ".") for pre in self.prefixes)
        ]

    def on_train_begin(self, model):
        frozen = self._frozen(model)
        if not frozen:
            names = [n for n, _ in model.named_parameters()][:5]
            raise ValueError(
                f"training.callbacks.freeze_layers.prefixes {list(self.prefixes)} match no parameter "
                f"(names look like {names})"
            )
        self._names = [n for n, _ in frozen]

    def on_before_optimizer_step(self, model, step):
        # ``step`` counts steps already taken; the coming one is step + 1.
        if self.until_step is not None and step + 1 > self.until_step:
            return
        for _, p in self._frozen(model):
            # Optimizers skip parameters without a gradient (no update, no weight decay).
            p.grad = None


@register_callback("dynamic_lr")
class LossSpikeLR(TrainCallback):
    """Multiply the learning rate by ``factor`` after a loss spike."""

    def __init__(self, *, factor: float = 0.5, spike_factor: float = 2.0, window: int = 20, min_scale: float = 0.01):
        if not 0.0 < factor < 1.0 or spike_factor <= 1.0 or window < 1 or not 0.0 < min_scale <= 1.0:
            raise ValueError(
                "training.callbacks.dynamic_lr: expected 0 < factor < 1, spike_factor > 1, window >= 1, "
                f"0 < min_scale <= 1, got factor={factor} spike_factor={spike_factor} window={window} min_scale={min_scale}"
            )
        self.factor = factor
        self.spike_factor = spike_factor
        self.window = window
        self.min_scale = min_scale
        self.scale = 1.0
        self.losses: deque = deque(maxlen=window)
        self._written: List[Optional[float]] = []
        self._unscaled: List[float] = []

    def on_step_end(self, model, optimizers, step, loss):
        if len(self.losses) == self.window:
            mean = sum(self.losses) / len(self.losses)
            if loss > self.spike_factor * mean and self.scale > self.min_scale:
                self.scale = max(self.min_scale, self.scale * self.factor)
                logger.info(
                    "dynamic_lr: loss %.4g > %g x mean %.4g: lr scale now %g", loss, self.spike_factor, mean, self.scale
                )
        self.losses.append(loss)
        groups = [g for opt in optimizers for g in opt.param_groups]
        if len(self._written) != len(groups):
            self._written = [None] * len(groups)
            self._unscaled = [g["lr"] for g in groups]
        for i, group in enumerate(groups):
            # A scheduler that stepped wrote a fresh (unscaled) lr; otherwise the group still
            # holds what we wrote last time and must not be scaled twice.
            if group["lr"] != self._written[i]:
                self._unscaled[i] = group["lr"]
            group["lr"] = self._unscaled[i] * self.scale
            self._written[i] = group["lr"]

    def lr_scale(self) -> float:
        return self.scale

    def state_dict(self):
        return {"scale": self.scale, "losses": list(self.losses)}

    def load_state_dict(self, state):
        self.scale = state["scale"]
        self.losses = deque(state["losses"], maxlen=self.window)
