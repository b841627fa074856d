"""Every checklist row names, as objects, the code that reads its key.

For each key, every consumer object must take the key's ESPnet option name as a parameter, or
read it by that name in its source (``opts.grad_clip``, ``values["n_trials"]``). A consumer that
was renamed fails at import; one that stopped reading the option fails here.
"""

import inspect
import re

import pytest

from espnet2_tsdia.config.checklist import KNOB_BY_KEY, KNOBS
from espnet2_tsdia.config.consumers import CONSUMERS, Consumer, option_name
from espnet2_tsdia.config.layout import inactive_reason
from espnet2_tsdia.train.optimizers import PLAN_OPTIMIZERS, optimizer_class


def reads(obj, name: str) -> bool:
    """Whether ``obj`` takes ``name`` as a parameter or reads it by name in its code."""
    try:
        if name in inspect.signature(obj).parameters:
            return True
    except (TypeError, ValueError):  # builtins without a signature
        pass
    source = inspect.getsource(obj)
    return re.search(rf"\.{name}\b|[\"']{name}[\"']", source) is not None


def test_one_consumer_per_row():
    assert sorted(CONSUMERS) == sorted(KNOB_BY_KEY)


@pytest.mark.parametrize("key", [k.key for k in KNOBS])
def test_every_consumer_reads_its_key(key):
    consumer = CONSUMERS[key]
    name = option_name(KNOB_BY_KEY[key])
    for obj in consumer.objects:
        assert inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismethod(obj), obj
        assert reads(obj, name), f"{key}: {obj.__module__}.{obj.__qualname__} does not read {name!r}"


def test_the_check_catches_a_consumer_that_does_not_read_the_key():
    def unrelated(*, other=None):
        return other

    assert not reads(unrelated, "grad_clip")
    with pytest.raises(TypeError, match="classes or functions"):
        Consumer(objects=("espnet2_tsdia.train.trainer.TSDiaTrainer",))


@pytest.mark.parametrize("optim", PLAN_OPTIMIZERS)
def test_optimizer_rows_agree_with_the_unused_key_check(optim):
    # the keys whose consumers include this optimizer's class are the ones config check lets it read
    cls = optimizer_class(optim)
    keys = [k.key for k in KNOBS if k.key.startswith("training.optimizer.") and k.key != "training.optimizer.type"]
    consumed = {k for k in keys if cls in CONSUMERS[k].objects}
    flat = {"training.optimizer.type": optim}
    assert consumed == {k for k in keys if inactive_reason(k, flat) is None}
