"""The plan's schedules, the optimizer key map and plot_lr."""

import math

import pytest
import torch

from espnet2_tsdia.train.optimizers import plan_keys_read_by, plan_to_optim_conf
from espnet2_tsdia.train.schedulers import (
    PlanLR,
    ScheduleOptions,
    build_tsdia_scheduler,
    lr_curve,
    plan_lr,
)


def lrs(scheduler_conf, steps, lr=1.0, optim="sgd", valid_interval=None):
    return lr_curve(optim, {"lr": lr}, "tsdia", scheduler_conf, num_steps=steps, valid_interval=valid_interval)[1]


def test_linear_warmup_then_decay_exact():
    out = lrs({"type": "linear", "warmup_steps": 4, "decay_steps": 4, "min_lr": 0.2}, 11)
    assert out == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 0.8, 0.6, 0.4, 0.2, 0.2, 0.2])


def test_constant_and_max_lr():
    out = lrs({"type": "constant", "warmup_steps": 2, "max_lr": 0.5}, 5, lr=1.0)
    assert out == pytest.approx([0.0, 0.25, 0.5, 0.5, 0.5])


def test_step_decay_floor():
    out = lrs({"type": "step", "step_size": 2, "gamma": 0.5, "min_lr": 0.3}, 7)
    assert out == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.3, 0.3, 0.3])


def test_exponential_reaches_min_lr_at_decay_steps():
    out = lrs({"type": "exponential", "decay_steps": 4, "min_lr": 0.01}, 7)
    assert out == pytest.approx([1.0, 0.1**0.5, 0.1, 0.1**1.5, 0.01, 0.01, 0.01])


def test_cosine_uses_espnet_class_with_restarts():
    from espnet2.schedulers.cosine_anneal_warmup_restart import CosineAnnealingWarmupRestarts

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    s = build_tsdia_scheduler(opt, type="cosine", decay_steps=8, num_cycles=2, warmup_steps=0, min_lr=0.0)
    assert isinstance(s, CosineAnnealingWarmupRestarts) and s.first_cycle_steps == 4
    out = lrs({"type": "cosine", "decay_steps": 8, "num_cycles": 2, "min_lr": 0.0, "gamma": 0.5}, 9)
    half = (1 + math.cos(math.pi / 2)) / 2
    assert out == pytest.approx(
        [
            0.0,
            (1 + math.cos(math.pi / 4)) / 2,
            half,
            (1 + math.cos(3 * math.pi / 4)) / 2,
            0.5,
            0.5 * (1 + math.cos(math.pi / 4)) / 2,
            0.5 * half,
            0.5 * (1 + math.cos(3 * math.pi / 4)) / 2,
            0.25,
        ],
        abs=1e-9,
    )


def test_plateau_reduces_after_patience_validations():
    from espnet2.schedulers.warmup_reducelronplateau import WarmupReduceLROnPlateau

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    assert isinstance(build_tsdia_scheduler(opt, type="plateau", patience=1), WarmupReduceLROnPlateau)
    # A flat metric every 2 steps: the 1st validation sets the best, the 3rd is the 2nd without
    # improvement (> patience 1): x0.5 from step 6; again at the 5th (step 10).
    out = lrs({"type": "plateau", "patience": 1, "gamma": 0.5, "min_lr": 0.1}, 12, valid_interval=2)
    assert out == pytest.approx([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25])
    warm = lrs({"type": "plateau", "warmup_steps": 4}, 6, valid_interval=100)
    assert warm == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.0])


@pytest.mark.parametrize(
    "conf, message",
    [
        ({"type": "cosin"}, r"training.scheduler.type: unknown schedule 'cosin'"),
        ({"type": "linear"}, r"decay_steps must be an integer >= 1 for type 'linear', got None"),
        ({"type": "step"}, r"step_size must be an integer >= 1 for type 'step', got None"),
        ({"type": "cosine", "decay_steps": 10, "warmup_steps": 10}, r"must be longer than warmup_steps"),
        ({"type": "linear", "decay_steps": 5, "patience": 3}, r"type 'linear' does not read \['patience'\]"),
        ({"type": "plateau", "mode": "up"}, r"mode must be 'min' or 'max', got 'up'"),
    ],
)
def test_bad_schedules_name_the_key(conf, message):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match=message):
        build_tsdia_scheduler(opt, **conf)


def test_planlr_state_round_trip():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    s = PlanLR(opt, options=ScheduleOptions(type="linear", warmup_steps=2, decay_steps=10))
    for _ in range(5):
        opt.step()
        s.step()
    state = s.state_dict()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    s2 = PlanLR(opt2, options=ScheduleOptions(type="linear", warmup_steps=2, decay_steps=10))
    s2.load_state_dict(state)
    opt2.step()
    s2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(plan_lr(6, base_lr=1.0, options=s.options))


def test_optimizer_key_map():
    assert plan_keys_read_by("adamw") == ("lr", "weight_decay", "betas", "epsilon", "amsgrad")
    assert plan_keys_read_by("sgd") == ("lr", "weight_decay", "momentum", "nesterov")
    assert plan_keys_read_by("rmsprop") == ("lr", "weight_decay", "epsilon", "momentum")
    assert plan_to_optim_conf({"type": "adam", "lr": 0.1, "epsilon": 1e-6, "momentum": None}) == (
        "adam",
        {"lr": 0.1, "eps": 1e-6},
    )
    with pytest.raises(ValueError, match=r"training.optimizer.nesterov=True is not read by optimizer 'adagrad'"):
        plan_to_optim_conf({"type": "adagrad", "nesterov": True})
    with pytest.raises(ValueError, match=r"unknown optimizer 'lamb'"):
        plan_to_optim_conf({"type": "lamb"})


def test_plot_lr_cli(tmp_path):
    import yaml

    from espnet2_tsdia.bin import plot_lr

    cfg = {
        "training": {
            "optimizer": {"type": "adamw", "lr": 0.01},
            "scheduler": {"type": "linear", "warmup_steps": 5, "decay_steps": 10, "min_lr": 0.001},
        }
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    png, tsv = tmp_path / "lr.png", tmp_path / "lr.tsv"
    assert plot_lr.main([str(tmp_path / "c.yaml"), "-o", str(png), "--steps", "20", "--csv", str(tsv)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [line.split("\t") for line in tsv.read_text().splitlines()]
    assert len(rows) == 20
    assert [float(r[1]) for r in rows[:6]] == pytest.approx([0.001, 0.0028, 0.0046, 0.0064, 0.0082, 0.01])
    assert float(rows[15][1]) == pytest.approx(0.001)
