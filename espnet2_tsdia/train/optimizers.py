"""The plan's optimizers (``training.optimizer.*``) on ESPnet's ``--optim`` / ``--optim_conf``.

ESPnet already builds the optimizer (``AbsTask.build_optimizers`` calls
``optim_classes[optim](params, **optim_conf)``); this module only maps the plan's key names
onto the constructor's (``epsilon`` -> ``eps``) and says which keys each optimizer reads, so a
key the chosen optimizer would not read is reported instead of ignored.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Dict, Tuple

import torch

logger = logging.getLogger(__name__)

PLAN_OPTIMIZERS = ("adamw", "adam", "sgd", "adagrad", "rmsprop", "adadelta")

#: plan key -> constructor keyword.
PLAN_TO_CONF = {
    "lr": "lr",
    "weight_decay": "weight_decay",
    "betas": "betas",
    "epsilon": "eps",
    "amsgrad": "amsgrad",
    "momentum": "momentum",
    "nesterov": "nesterov",
}
CONF_TO_PLAN = {v: k for k, v in PLAN_TO_CONF.items()}


def optimizer_class(name: str):
    """The class ESPnet uses for ``--optim name`` (the six plan optimizers without importing
    ``espnet2.tasks.abs_task``; any other name through ESPnet's registry)."""
    name = name.lower()
    if name == "sgd":
        from espnet2.optimizers.sgd import SGD

        return SGD
    light = {
        "adamw": torch.optim.AdamW,
        "adam": torch.optim.Adam,
        "adagrad": torch.optim.Adagrad,
        "rmsprop": torch.optim.RMSprop,
        "adadelta": torch.optim.Adadelta,
    }
    if name in light:
        return light[name]
    from espnet2.tasks.abs_task import optim_classes

    if name not in optim_classes:
        raise ValueError(f"optim: unknown optimizer {name!r}; expected one of {sorted(optim_classes)}")
    return optim_classes[name]


def accepted_keywords(name: str) -> Tuple[str, ...]:
    """Constructor keywords of optimizer ``name`` (without ``params``)."""
    sig = inspect.signature(optimizer_class(name).__init__)
    return tuple(p for p in sig.parameters if p not in ("self", "params"))


def plan_keys_read_by(name: str) -> Tuple[str, ...]:
    """The plan ``training.optimizer.*`` keys (besides ``type``) that optimizer ``name`` reads."""
    accepted = set(accepted_keywords(name))
    return tuple(k for k, conf in PLAN_TO_CONF.items() if conf in accepted)


def plan_to_optim_conf(section: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """``training.optimizer`` section -> (ESPnet ``optim``, ``optim_conf``).

    Keys set to None are left out (the constructor default applies). Raises ValueError naming
    a key the chosen optimizer does not read, or an unknown type.
    """
    section = dict(section)
    name = str(section.pop("type", "adamw")).lower()
    if name not in PLAN_OPTIMIZERS:
        raise ValueError(
            f"training.optimizer.type: unknown optimizer {name!r}; expected one of {list(PLAN_OPTIMIZERS)}"
        )
    read = plan_keys_read_by(name)
    conf: Dict[str, Any] = {}
    for key, value in section.items():
        if key not in PLAN_TO_CONF:
            raise ValueError(f"training.optimizer.{key}: unknown key; expected one of {['type', *PLAN_TO_CONF]}")
        if value is None:
            continue
        if key not in read:
            raise ValueError(
                f"training.optimizer.{key}={value!r} is not read by optimizer {name!r} (it reads {list(read)})"
            )
        conf[PLAN_TO_CONF[key]] = list(value) if key == "betas" else value
    return name, conf
