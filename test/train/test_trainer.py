"""TSDiaTrainer behaviour on a tiny learnable data set (in-process runs of a few steps)."""

import json

import numpy as np
import pytest
import torch

from espnet2_tsdia.train.checkpoint import atomic_save
from test.train.tiny_data import make_dataset, tiny_config, train


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("tiny"))


def load(path):
    return torch.load(path, map_location="cpu", weights_only=False)


def test_rounds_follow_validation_interval_and_max_steps(tmp_path, data):
    # 16 examples / batch 4 = 4 batches per data epoch; accum 2 -> 2 steps per epoch.
    cfg = tiny_config(max_epoch=5, max_steps=5, valid_interval_steps=2, accum_grad=2, keep_nbest_models=10)
    out = train(tmp_path, cfg, data=data)
    ckpt = load(out / "checkpoint.pth")
    assert ckpt["position"]["step"] == 5
    assert ckpt["position"]["round"] == 3  # steps 2, 4 and the last 5
    assert ckpt["position"]["data_epoch"] == 3 and ckpt["position"]["batch_in_epoch"] == 2
    assert sorted(ckpt["reporter"]["stats"]) == [1, 2, 3]
    assert [ckpt["reporter"]["stats"][r]["train"]["total_count"] for r in (1, 2, 3)] == [4, 8, 10]
    assert sorted(p.name for p in out.glob("*epoch.pth")) == ["1epoch.pth", "2epoch.pth", "3epoch.pth"]
    assert (out / "valid.loss.ave.pth").exists()
    # metrics.json (what bin.tune follows): every round's values as the reporter holds them
    metrics = json.loads((out / "metrics.json").read_text())
    assert [row["round"] for row in metrics["rounds"]] == [1, 2, 3]
    assert (metrics["step"], metrics["data_epoch"]) == (5, 3)
    for row in metrics["rounds"]:
        stats = ckpt["reporter"]["stats"][row["round"]]
        assert row["valid"]["loss"] == pytest.approx(float(stats["valid"]["loss"]))
        assert row["train"]["total_count"] == stats["train"]["total_count"]


def test_round_metrics_write_numbers_only_and_null_for_non_finite(tmp_path):
    from espnet2_tsdia.train.round_metrics import metric_series, read_round_metrics, write_round_metrics

    assert read_round_metrics(tmp_path) is None
    stats = {2: {"valid": {"loss": np.float32(0.5), "acc": float("nan"), "note": "x"}}, 1: {"valid": {"loss": 1.0}}}
    write_round_metrics(tmp_path, stats, step=7, data_epoch=1)
    m = read_round_metrics(tmp_path)
    assert m == {
        "rounds": [{"round": 1, "valid": {"loss": 1.0}}, {"round": 2, "valid": {"loss": 0.5, "acc": None}}],
        "step": 7,
        "data_epoch": 1,
    }
    assert metric_series(m, "valid", "loss") == ({1: 1.0, 2: 0.5}, ["valid.acc", "valid.loss"])
    assert metric_series(m, "valid", "der")[0] == {}


def test_validation_loss_falls_and_average_loads_back(tmp_path, data):
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    out = train(tmp_path, tiny_config("encoder", max_epoch=4, keep_nbest_models=2), data=data)
    stats = load(out / "checkpoint.pth")["reporter"]["stats"]
    losses = [stats[r]["valid"]["loss"] for r in (1, 2, 3, 4)]
    assert losses[-1] < losses[0]
    model, args = TSDiarizationTask.build_model_from_file(out / "config.yaml", out / "valid.loss.ave.pth", "cpu")
    assert type(model).__name__ == "TSDiarizationModel" and args.model_type == "encoder"
    avg = load(out / "valid.loss.ave_2best.pth")
    best2 = sorted((stats[r]["valid"]["loss"], r) for r in stats)[:2]
    a, b = (load(out / f"{r}epoch.pth") for _, r in best2)
    key = "network.head.weight"
    assert torch.allclose(avg[key], (a[key] + b[key]) / 2)


def test_early_stopping_min_delta_and_restore_best(tmp_path, data):
    # lr 0 after round 1 (step schedule, gamma tiny): no improvement larger than min_delta.
    cfg = tiny_config(
        max_epoch=10,
        patience=1,
        early_stopping_min_delta=0.5,
        early_stopping_restore_best=True,
        keep_nbest_models=1,
        scheduler="tsdia",
        scheduler_conf={"type": "step", "step_size": 4, "gamma": 1e-9},
    )
    out = train(tmp_path, cfg, data=data)
    ckpt = load(out / "checkpoint.pth")
    # Round 1 is the best at its time; rounds 2 and 3 do not beat it by 0.5 -> stop after 3.
    assert sorted(ckpt["reporter"]["stats"]) == [1, 2, 3]
    assert (out / "latest.pth").resolve().name == "1epoch.pth"
    best = load(out / "1epoch.pth")
    assert all(torch.equal(best[k], v) for k, v in ckpt["model"].items())


def test_save_best_only_and_save_total_limit(tmp_path, data):
    cfg = tiny_config(
        max_epoch=4, save_best_only=True, keep_nbest_models=1, checkpoint_monitor=["valid", "loss", "max"]
    )
    out = train(tmp_path, cfg, data=data)
    stats = load(out / "checkpoint.pth")["reporter"]["stats"]
    # The monitor (valid loss, mode max) improves only at round 1 while the loss falls.
    losses = [stats[r]["valid"]["loss"] for r in (1, 2, 3, 4)]
    assert losses == sorted(losses, reverse=True)
    assert sorted(p.name for p in out.glob("*epoch.pth")) == ["1epoch.pth"]


def test_unknown_metric_is_an_error(tmp_path, data):
    cfg = tiny_config(max_epoch=1, best_model_criterion=[["valid", "acc", "max"]])
    with pytest.raises(
        ValueError,
        match=r"best_model_criterion: metric valid.acc is not reported by the model; reported: .*valid.accuracy",
    ):
        train(tmp_path, cfg, data=data)


def test_freeze_layers_pruning_callbacks_in_a_run(tmp_path, data):
    cfg = tiny_config(
        max_epoch=1,
        callbacks=["freeze_layers", "pruning"],
        callback_conf={
            "freeze_layers": {"prefixes": ["network.input_layer"]},
            "pruning": {"amount": 0.5, "start_step": 2},
        },
        use_amp=True,
        amp_loss_scale=64,
    )
    out = train(tmp_path, cfg, data=data)
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    ckpt = load(out / "checkpoint.pth")
    final = ckpt["model"]
    # The seed of main_worker builds the same initial weights: compare the frozen layer.
    from espnet2.torch_utils.set_all_random_seed import set_all_random_seed

    set_all_random_seed(0)
    init, _ = TSDiarizationTask.build_model_from_file(out / "config.yaml", None, "cpu")
    w0, w1 = init.state_dict()["network.input_layer.weight"], final["network.input_layer.weight"]
    # Frozen: no update at all, only pruning's zeros.
    assert torch.equal(w1, w0 * (w1 != 0)) and int((w1 == 0).sum()) > 0
    assert not torch.equal(
        init.state_dict()["network.head.weight"] * (final["network.head.weight"] != 0), final["network.head.weight"]
    )
    linear = [v for k, v in final.items() if k.endswith("weight") and v.dim() == 2 and "embedding" not in k]
    zeros = sum(int((w == 0).sum()) for w in linear)
    total = sum(w.numel() for w in linear)
    assert zeros / total >= 0.49
    assert ckpt["reporter"]["stats"][1]["train"]["loss_scale"] == 64.0
    assert ckpt["callbacks"][1]["prunes_done"] == 1


def test_profiling_tensorboard_and_compile(tmp_path, data):
    cfg = tiny_config(
        max_epoch=1,
        profiling=True,
        profile_steps=2,
        use_tensorboard=True,
        compile_model=True,
        compile_backend="eager",
        exp_name="tb_run",
    )
    out = train(tmp_path, cfg, data=data)
    trace = json.loads((out / "profile" / "trace.rank0.json").read_text())
    names = {e.get("name", "") for e in trace["traceEvents"]}
    assert any(n.startswith("ProfilerStep#") for n in names)
    assert list((out / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert list((out / "tensorboard" / "valid").glob("events.out.tfevents.*"))


def test_wandb_offline(tmp_path, data, monkeypatch):
    wandb = pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = tiny_config(
        max_epoch=1,
        use_wandb=True,
        wandb_project="tsdia_test",
        wandb_model_log_interval=1,
        exp_name="tsdia_wandb_probe_name",
    )
    out = train(tmp_path, cfg, data=data)
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    # The plan's name (exp_name) became wandb_name, which ESPnet's main_worker gives wandb.init.
    import yaml

    assert yaml.safe_load((out / "config.yaml").read_text())["wandb_name"] == "tsdia_wandb_probe_name"
    assert list(runs[0].glob("*.wandb"))
    wandb.finish()


def test_atomic_save_keeps_previous_on_failure(tmp_path):
    path = tmp_path / "checkpoint.pth"
    atomic_save({"v": torch.arange(3)}, path)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_save({"v": torch.zeros(10**6), "x": Boom()}, path)
    assert torch.equal(load(path)["v"], torch.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pth"]


def test_snapshot_switches_shape_the_checkpoint_and_resume_redraws(tmp_path, data):
    cfg = tiny_config(
        "encoder", "linear", max_epoch=1, snapshot_features=False, snapshot_optimizer=False, snapshot_scheduler=False
    )
    out = train(tmp_path, cfg, data=data)
    ckpt = load(out / "checkpoint.pth")
    assert ckpt["optimizers"] is None and ckpt["schedulers"] is None
    assert not [k for k in ckpt["model"] if k.endswith(".projection")]
    snapshot = load(out / "1epoch.pth")
    proj = [k for k in snapshot if k.endswith(".projection")]
    assert proj  # round snapshots keep the projections (deterministic inference)
    cfg["max_epoch"] = 2
    train(tmp_path, dict(cfg, resume=True), data=data)
    after = load(out / "checkpoint.pth")
    assert sorted(after["reporter"]["stats"]) == [1, 2]
    assert not torch.equal(load(out / "2epoch.pth")[proj[0]], snapshot[proj[0]])  # redrawn on resume


@pytest.mark.parametrize("auto", [True, False])
def test_feature_redraw_interval_counts_each_step_once(tmp_path, data, auto):
    # 4 batches per epoch, interval 2 -> 2 redraws per kernel whoever counts (auto: the
    # kernel's own forward passes; otherwise the trainer's optimizer steps).
    cfg = tiny_config("encoder", "linear", max_epoch=1)
    cfg["encoder_conf"].update(feature_redraw_interval=2, auto_check_redraw=auto)
    from espnet2_tsdia.layers import attention

    calls = []
    original = attention.FavorKernel.redraw_projection

    def counting(self):
        calls.append(1)
        return original(self)

    attention.FavorKernel.redraw_projection = counting
    try:
        train(tmp_path, cfg, data=data)
    finally:
        attention.FavorKernel.redraw_projection = original
    assert len(calls) == 2  # one encoder layer, one kernel


def test_nbest_average_keeps_the_best_rounds_favor_projections(tmp_path, data):
    """Projections redrawn every step differ between rounds; the averaged model must carry the
    best round's (a mean of random projections is no projection), its weights the mean."""
    cfg = tiny_config("encoder", "linear", max_epoch=3, keep_nbest_models=[2, 3])
    cfg["encoder_conf"]["feature_redraw_interval"] = 1
    out = train(tmp_path, cfg, data=data)
    stats = load(out / "checkpoint.pth")["reporter"]["stats"]
    ranked = [r for _, r in sorted((stats[r]["valid"]["loss"], r) for r in stats)]
    rounds = {r: load(out / f"{r}epoch.pth") for r in ranked}
    proj = [k for k in rounds[1] if k.endswith(".projection")]
    assert len(proj) == 1 and not torch.equal(rounds[1][proj[0]], rounds[2][proj[0]])
    for n in (2, 3):
        avg = load(out / f"valid.loss.ave_{n}best.pth")
        assert torch.equal(avg[proj[0]], rounds[ranked[0]][proj[0]])
        key = "network.head.weight"
        torch.testing.assert_close(avg[key], sum(rounds[r][key] for r in ranked[:n]) / n)
