"""The tuning section: search-space parsing and validation, applying a point to either config
layout, defaults from the config, and the CLI refusing a bad space before any trial starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from espnet2_tsdia.bin import tune as tune_cli
from espnet2_tsdia.config.checklist import TUNING_KEYS, ConfigError
from espnet2_tsdia.config.layout import plan_to_espnet
from espnet2_tsdia.config.tuning import SearchSpace, TuningSettings
from espnet2_tsdia.config.tuning_section import section_issues

ESPNET_CFG = {
    "model_type": "encoder_decoder",
    "frontend": None,
    "input_size": 345,
    "encoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "dropout": 0.1},
    "decoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "dropout": 0.1},
    "optim": "adam",
    "optim_conf": {"lr": 0.001},
    "max_epoch": 1,
}
SPACE = {
    "lr": {"low": 1.0e-4, "high": 1.0e-2, "log": True},
    "batch_size": {"choices": [4, 8]},
    "dropout": {"low": 0.0, "high": 0.3, "step": 0.1},
    "encoder.num_layers": {"low": 1, "high": 3},
    "training.gradient_clipping": {"low": 0.5, "high": 5.0},
    "label_smoothing": {"low": 0.0, "high": 0.2},
    "weight_decay": {"low": 1.0e-6, "high": 1.0e-2, "log": True},
}


def test_parse_kinds_and_corners():
    space = SearchSpace.parse(SPACE)
    kinds = {p.name: (p.key, p.kind) for p in space.params}
    assert kinds == {
        "lr": ("training.optimizer.lr", "float"),
        "batch_size": ("training.batch_size", "choice"),
        "dropout": ("global_config.dropout", "float"),
        "encoder.num_layers": ("encoder.num_layers", "int"),
        "training.gradient_clipping": ("training.gradient_clipping", "float"),
        "label_smoothing": ("training.loss.label_smoothing", "float"),
        "weight_decay": ("training.optimizer.weight_decay", "float"),
    }
    low, high = space.corner_points()
    assert (
        low["lr"] == 1.0e-4 and low["batch_size"] == 4 and high["encoder.num_layers"] == 3 and high["batch_size"] == 8
    )


def test_apply_reaches_the_espnet_options_of_both_layouts():
    space = SearchSpace.parse(SPACE)
    point = {"lr": 0.005, "batch_size": 8, "dropout": 0.2, "encoder.num_layers": 2, "training.gradient_clipping": 1.5,
             "label_smoothing": 0.1, "weight_decay": 1e-4}  # fmt: skip
    out = space.apply(ESPNET_CFG, point)
    assert out["optim_conf"] == {"lr": 0.005, "weight_decay": 1e-4}
    assert out["batch_size"] == 8 and out["grad_clip"] == 1.5 and out["loss_conf"] == {"label_smoothing": 0.1}
    # the plan's global dropout reaches every stack of the model type
    assert out["encoder_conf"]["dropout"] == 0.2 and out["decoder_conf"]["dropout"] == 0.2
    assert out["encoder_conf"]["num_layers"] == 2 and out["decoder_conf"]["num_layers"] == 1
    assert ESPNET_CFG["optim_conf"] == {"lr": 0.001}  # the base config is not touched

    plan = {
        "model_type": "encoder",
        "training": {"optimizer": {"type": "adam", "lr": 0.001}},
        "encoder": {"d_model": 16},
    }
    out = space.apply(plan, point)
    assert out["training"]["optimizer"]["lr"] == 0.005 and out["global_config"]["dropout"] == 0.2
    espnet, _ = plan_to_espnet(out, strict=False)
    assert (
        espnet["optim_conf"]["lr"] == 0.005 and espnet["encoder_conf"]["dropout"] == 0.2 and espnet["batch_size"] == 8
    )
    assert space.espnet_options(ESPNET_CFG)["optim_conf"] in ("lr", "weight_decay")
    assert space.espnet_options(ESPNET_CFG)["batch_size"] == "batch_size"


@pytest.mark.parametrize(
    "space, expected",
    [
        (
            {"lrr": {"low": 1.0e-4, "high": 1.0e-2}},
            "tuning.search_space.lrr: not a training key of the checklist (did you mean 'lr'?)",
        ),
        (
            {"eval_knobs.batch_size": {"low": 1, "high": 4}},
            "tuning.search_space.eval_knobs.batch_size: not a training key",
        ),
        (
            {"dropout": {"low": 0.3, "high": 0.1}},
            "tuning.search_space.dropout: expected numbers low < high, got low=0.3 high=0.1",
        ),
        ({"dropout": {"low": 0.2, "high": 0.2}}, "tuning.search_space.dropout: expected numbers low < high"),
        (
            {"lr": {"low": 0.0, "high": 1.0e-2, "log": True}},
            "tuning.search_space.lr: a log range needs low > 0, got 0.0",
        ),
        (
            {"lr": {"low": -1.0, "high": 1.0e-2, "log": True}},
            "tuning.search_space.lr: a log range needs low > 0, got -1.0",
        ),
        (
            {"lr": {"low": "1e-4", "high": 1.0e-2}},
            "tuning.search_space.lr.low: '1e-4' is a string; YAML reads 1e-4 as text, write 1.0e-4",
        ),
        ({"batch_size": {"choices": []}}, "tuning.search_space.batch_size.choices: expected a non-empty list"),
        ({"batch_size": {"choices": [8, 8]}}, "tuning.search_space.batch_size.choices: repeated values"),
        (
            {"dropout": {"low": 0.0, "high": 0.3, "log": True, "step": 0.1}},
            "tuning.search_space.dropout: a log range needs low > 0",
        ),
        (
            {"dropout": {"low": 0.1, "high": 0.3, "log": True, "step": 0.1}},
            "tuning.search_space.dropout: a range takes log or step, not both",
        ),
        ({"dropout": {"lo": 0.0, "high": 0.3}}, "tuning.search_space.dropout: unknown range fields ['lo']"),
        ({"dropout": [0.0, 0.3]}, "tuning.search_space.dropout: expected {low, high[, log]} or {choices: [...]}"),
        ({}, "tuning.search_space: empty"),
    ],
)
def test_invalid_spaces_name_the_key(space, expected):
    with pytest.raises(ConfigError) as e:
        SearchSpace.parse(space)
    assert any(i.startswith(expected) for i in e.value.issues), e.value.issues


def test_section_keys_and_defaults_from_the_config():
    issues = section_issues({"libary": "optuna", "pruner": "medain", "n_trials": 0, "direction": "down", "metric": "train_loss",
                             "pruner_conf": {"n_startup_trial": 1}, "resources_per_trial": {"tpu": 1}})  # fmt: skip
    assert issues == [
        "tuning.libary: unknown key (did you mean 'library'?); expected one of " + str(list(TUNING_KEYS)),
        "tuning.metric: the objective must be a validation metric (val_...), got 'train_loss'",
        "tuning.direction: expected one of ['minimize', 'maximize'], got 'down'",
        "tuning.pruner: expected one of ['median', 'successive_halving', 'hyperband', 'none'], got 'medain' (did you mean 'median'?)",
        "tuning.n_trials: expected an integer >= 1, got 0",
        "tuning.resources_per_trial.tpu: unknown resource; expected ['cpu', 'gpu']",
    ]
    cfg = dict(
        ESPNET_CFG, best_model_criterion=[["valid", "accuracy", "max"]], tuning={"search_space": {"lr": SPACE["lr"]}}
    )
    s = TuningSettings.from_config(cfg)
    assert (s.library, s.metric, s.direction, s.phase_key) == (
        "optuna",
        "val_accuracy",
        "maximize",
        ("valid", "accuracy"),
    )
    s = TuningSettings.from_config(
        dict(cfg, tuning={"search_space": {"lr": SPACE["lr"]}, "metric": "val_loss", "library": "raytune"}), n_trials=3
    )
    assert (s.library, s.metric, s.direction, s.n_trials) == ("raytune", "val_loss", "minimize", 3)
    # the plan layout's nested section is read the same way
    plan = {
        "training": {"validation": {"metric_for_best_model": "val_loss"}},
        "tuning": {"library": None, "search_space": {"lr": SPACE["lr"]}},
    }
    assert TuningSettings.from_config(plan).library == "optuna"


def write_cfg(tmp_path: Path, tuning: dict, **extra) -> Path:
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump({**ESPNET_CFG, **extra, "tuning": tuning}))
    return path


@pytest.mark.parametrize(
    "space, named",
    [
        ({"lr": SPACE["lr"], "lrate": {"low": 0.1, "high": 0.2}}, "tuning.search_space.lrate: not a training key"),
        ({"dropout": {"low": 0.3, "high": 0.3}}, "tuning.search_space.dropout: expected numbers low < high"),
        ({"lr": {"low": 0.0, "high": 0.1, "log": True}}, "tuning.search_space.lr: a log range needs low > 0"),
    ],
)
def test_cli_refuses_a_bad_space_before_any_trial(tmp_path, capsys, space, named):
    conf = write_cfg(tmp_path, {"search_space": space})
    out = tmp_path / "study"
    assert tune_cli.main(["--config", str(conf), "--output_dir", str(out), "--", "--num_workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "tune: error: " in err and f"{conf}: {named}" in err and "no trial was started" in err
    assert not out.exists()


def test_cli_refuses_overrides_and_unconsumed_values(tmp_path, capsys):
    conf = write_cfg(tmp_path, {"search_space": {"lr": SPACE["lr"], "batch_size": SPACE["batch_size"]}})
    out = tmp_path / "study"
    assert (
        tune_cli.main(["--config", str(conf), "--output_dir", str(out), "--", "--batch_size", "4", "--output_dir", "x"])
        == 2
    )
    err = capsys.readouterr().err
    assert "training options: --batch_size would override tuning.search_space.batch_size in every trial" in err
    assert "training options: --output_dir is set by the tuner for every trial" in err
    # momentum is read by sgd only: searching it for adam is caught by config check at the corners
    conf = write_cfg(tmp_path, {"search_space": {"training.optimizer.momentum": {"low": 0.5, "high": 0.9}}})
    assert tune_cli.main(["--config", str(conf), "--output_dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "tune: error: " in err and "tuning.search_space at training.optimizer.momentum=0.5: " in err
    assert not out.exists()
    # a valid space passes --check_only
    conf = write_cfg(tmp_path, {"search_space": {"lr": SPACE["lr"]}, "n_trials": 6})
    assert tune_cli.main(["--config", str(conf), "--output_dir", str(out), "--check_only"]) == 0
    assert "OK: " in capsys.readouterr().out
