"""Callbacks, early stopping arithmetic, the iterator factory and the batch shim (no training runs)."""

import numpy as np
import pytest
import torch

from espnet2_tsdia.train.callbacks import (
    CALLBACKS,
    FreezeLayers,
    GradientValueClipping,
    LossSpikeLR,
    MagnitudePruning,
    build_callbacks,
    register_callback,
)
from espnet2_tsdia.train.early_stopping import EarlyStopping, best_round, rounds_without_improvement
from espnet2_tsdia.train.iterators import BatchShim, TSDiaIterFactory


def test_rounds_without_improvement_min_delta():
    values = [1.0, 0.95, 0.85, 0.84, 0.83]
    assert rounds_without_improvement(values, mode="min", min_delta=0.0) == 0
    # 0.95 is not better than 1.0 by more than 0.1; 0.85 is; 0.84, 0.83 are not.
    assert rounds_without_improvement(values, mode="min", min_delta=0.1) == 2
    assert rounds_without_improvement([0.1, 0.3, 0.2], mode="max", min_delta=0.0) == 1
    assert best_round([(1, 1.0), (2, 0.95), (3, 0.85)], mode="min", min_delta=0.1) == 3
    with pytest.raises(ValueError, match="min_delta must be >= 0, got -1"):
        EarlyStopping(patience=1, min_delta=-1)


def test_registry_names_and_errors():
    assert sorted(CALLBACKS) >= ["dynamic_lr", "freeze_layers", "gradient_clipping", "pruning"]
    with pytest.raises(ValueError, match=r"unknown callback 'prune'; expected one of"):
        build_callbacks(["prune"])
    with pytest.raises(ValueError, match=r"training.callbacks.pruning: unknown option\(s\) \['amout'\]"):
        build_callbacks(["pruning"], {"pruning": {"amout": 0.1}})
    with pytest.raises(ValueError, match=r"callback_conf has options for \['dynamic_lr'\]"):
        build_callbacks(["pruning"], {"dynamic_lr": {}})
    with pytest.raises(ValueError, match="already registered"):
        register_callback("pruning")(type("Other", (GradientValueClipping,), {}))


def test_gradient_value_clipping():
    m = torch.nn.Linear(2, 2)
    for p in m.parameters():
        p.grad = torch.full_like(p, 5.0)
    GradientValueClipping(clip_value=0.5).on_before_optimizer_step(m, 0)
    assert all(float(p.grad.max()) == 0.5 for p in m.parameters())


def test_pruning_schedule_and_mask_kept():
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(10, 10), torch.nn.Linear(10, 10))
    cb = MagnitudePruning(amount=0.5, start_step=2, interval=2, num_prunes=2)
    cb.on_step_end(m, [], 1, 0.0)
    assert int((m[0].weight == 0).sum()) == 0
    cb.on_step_end(m, [], 2, 0.0)  # first prune: 25 %
    zeros = sum(int((layer.weight == 0).sum()) for layer in m)
    assert zeros == 50
    with torch.no_grad():
        for layer in m:
            layer.weight.add_(1.0)  # an "update" everywhere
    cb.on_step_end(m, [], 3, 0.0)  # not due: masks re-applied
    assert sum(int((layer.weight == 0).sum()) for layer in m) == 50
    cb.on_step_end(m, [], 4, 0.0)  # second prune: 50 %
    assert sum(int((layer.weight == 0).sum()) for layer in m) == 100
    assert cb.state_dict()["prunes_done"] == 2


def test_freeze_layers_until_step():
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    cb = FreezeLayers(prefixes=["0"], until_step=2)
    cb.on_train_begin(m)
    for step, frozen in ((0, True), (1, True), (2, False)):
        for p in m.parameters():
            p.grad = torch.ones_like(p)
        cb.on_before_optimizer_step(m, step)
        assert (m[0].weight.grad is None) == frozen and m[1].weight.grad is not None
    with pytest.raises(ValueError, match=r"prefixes \['enc'\] match no parameter"):
        FreezeLayers(prefixes=["enc"]).on_train_begin(m)


def test_dynamic_lr_scales_after_a_spike_on_top_of_a_scheduler():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    cb = LossSpikeLR(factor=0.5, spike_factor=2.0, window=3)
    for loss in (1.0, 1.0, 1.0):
        cb.on_step_end(None, [opt], 0, loss)
    assert opt.param_groups[0]["lr"] == 1.0
    cb.on_step_end(None, [opt], 0, 5.0)  # spike
    assert opt.param_groups[0]["lr"] == 0.5
    cb.on_step_end(None, [opt], 0, 1.0)  # no scheduler: stays 0.5, not compounded
    assert opt.param_groups[0]["lr"] == 0.5
    opt.param_groups[0]["lr"] = 0.8  # a scheduler wrote a new lr
    cb.on_step_end(None, [opt], 0, 1.0)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.4)


class _Sampler:
    def generate(self, seed):
        return [(f"k{i}", f"k{i + 1}") for i in range(0, 8, 2)]


class _Data:
    def __getitem__(self, key):
        return key, {"x": np.full((3,), int(key[1:]), dtype=np.float32)}


def _collate(items):
    keys = [k for k, _ in items]
    return keys, {"x": torch.as_tensor(np.stack([d["x"] for _, d in items]))}


def test_iter_factory_order_start_and_persistent_workers():
    f = TSDiaIterFactory(dataset=_Data(), sampler=_Sampler(), seed=3, shuffle=True, collate_fn=_collate)
    full = [keys for keys, _ in f.build_iter(1)]
    assert sorted(map(tuple, full)) == [("k0", "k1"), ("k2", "k3"), ("k4", "k5"), ("k6", "k7")]
    assert [keys for keys, _ in f.build_iter(1, start=2)] == full[2:]
    assert full == [keys for keys, _ in f.build_iter(1)]  # reproducible
    g = TSDiaIterFactory(
        dataset=_Data(),
        sampler=_Sampler(),
        seed=3,
        shuffle=True,
        collate_fn=_collate,
        num_workers=1,
        persistent_workers=True,
        prefetch_factor=3,
    )
    a = g.build_iter(1)
    assert [keys for keys, _ in a] == full
    b = g.build_iter(2)
    assert b is a and a.prefetch_factor == 3  # one loader, workers kept
    assert [keys for keys, _ in b] == [keys for keys, _ in f.build_iter(2)]
    with pytest.raises(ValueError, match="need num_workers > 0"):
        TSDiaIterFactory(dataset=_Data(), sampler=_Sampler(), persistent_workers=True)


def test_batch_shim_pads_time_axes_only():
    def collate(items):
        return ["a"], {
            "speech": torch.ones(1, 70, 3),
            "speech_lengths": torch.tensor([70]),
            "labels": torch.ones(1, 70, dtype=torch.long),
            "labels_lengths": torch.tensor([70]),
            "speech_mean": torch.ones(1, 23),
        }

    keys, b = BatchShim(collate)(None)
    assert b["speech"].shape == (1, 128, 3) and float(b["speech"][0, 70:].abs().sum()) == 0.0
    assert b["labels"].shape == (1, 128) and int(b["labels"][0, 70:].max()) == -1
    assert b["speech_lengths"].tolist() == [70] and b["speech_mean"].shape == (1, 23)
