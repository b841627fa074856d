"""``python -m espnet2_tsdia.bin.config check|convert`` against the task's parser."""

import yaml

from espnet2_tsdia.bin import config as config_cli
from espnet2_tsdia.config.check import ESPNET_CONSUMERS, NOT_CONSUMED, check_config, our_option_consumers


def write(tmp_path, name, cfg):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


SMALL_PLAN = {
    "model_type": "encoder",
    "global_config": {"dropout": 0.0, "d_ff": 2},
    "encoder": {"d_model": 16, "num_layers": 1, "num_heads": 2, "attention_type": "linear", "nb_features": 8},
    "training": {
        "epochs": 2,
        "batch_size": 4,
        "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
        "scheduler": {"type": "step", "step_size": 5, "gamma": 0.5},
        "loss": {"main": "cross_entropy", "label_smoothing": 0.1},
        "performance": {"num_workers": 0},
    },
}


def test_check_passes_and_lists_every_key(tmp_path, capsys):
    path = write(tmp_path, "plan.yaml", SMALL_PLAN)
    assert config_cli.main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    lines = {
        line.split()[0]: line
        for line in out.splitlines()
        if line and not line.startswith(("layout", "key", "OK", "FAILED", "ERROR"))
    }
    assert "OK: 124 plan keys resolved, every set key has a consumer" in out
    assert lines["encoder.d_model"].split()[1:3] == ["16", "set"]
    # Defaults are resolved from the constructors / ESPnet's parser.
    assert lines["encoder.use_rezero"].split()[1:3] == ["false", "default"]
    assert lines["training.random_seed"].split()[1:3] == ["0", "default"]
    assert lines["training.optimizer.momentum"].split()[1] == "0.9"
    assert "TransformerStack(d_model=)" in lines["encoder.d_model"]
    assert "inference time" in lines["eval_knobs.beam_width"]
    assert "tuning time" in lines["tuning.search_space"]


def test_check_fails_on_the_typo_betass(tmp_path, capsys):
    cfg = yaml.safe_load(yaml.safe_dump(SMALL_PLAN))
    cfg["training"]["optimizer"] = {"type": "adamw", "betass": [0.9, 0.99]}
    path = write(tmp_path, "typo.yaml", cfg)
    assert config_cli.main(["check", str(path), "--no_build"]) == 1
    out = capsys.readouterr().out
    assert "ERROR: training.optimizer.betass: unknown key (did you mean 'training.optimizer.betas'?)" in out


def test_check_espnet_layout_names_bad_fields(tmp_path):
    cfg = {
        "model_type": "encoder",
        "encoder_conf": {"d_model": 16, "num_heads": 2, "num_layer": 1},
        "decoder_conf": {"d_model": 64},
        "optim": "adamw",
        "optim_conf": {"lr": 0.1, "momentum": 0.9},
        "max_epochs": 3,
        "sharded_ddp": True,
        "callbacks": ["pruning"],
        "callback_conf": {"pruning": {"amout": 0.2}},
        "eval_knobs": {"beam": 2},
    }
    report = check_config(cfg, build=False)
    assert not report.ok
    issues = "\n".join(report.issues)
    assert "encoder_conf.num_layer: unknown field of TransformerStack (did you mean 'num_layers'?)" in issues
    assert "decoder_conf.d_model is not consumed: model_type 'encoder' has no decoder" in issues
    assert "optim_conf.momentum: unknown field of optimizer adamw" in issues
    assert "max_epochs: unknown option (did you mean 'max_epoch'?)" in issues
    assert "sharded_ddp=True is not consumed" in issues
    assert "callback_conf.pruning.amout: unknown option (did you mean 'amount'?)" in issues
    assert "eval_knobs.beam: unknown field of eval_knobs (consumed at inference time)" in issues


def test_check_builds_on_meta_and_reports_value_errors(tmp_path):
    cfg = yaml.safe_load(yaml.safe_dump(SMALL_PLAN))
    cfg["encoder"]["num_heads"] = 3  # 16 is not divisible by 3
    report = check_config(cfg)
    assert len(report.issues) == 1
    assert "d_model must be divisible by num_heads, got d_model=16, num_heads=3" in report.issues[0]


def test_every_espnet_option_is_classified():
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    dests = {a.dest for a in TSDiarizationTask.get_parser()._actions if a.dest != "help"}
    known = set(ESPNET_CONSUMERS) | NOT_CONSUMED | set(our_option_consumers())
    assert sorted(dests - known) == []


def test_convert_cli_round_trip(tmp_path):
    src = write(tmp_path, "plan.yaml", SMALL_PLAN)
    esp_path, back_path = tmp_path / "esp.yaml", tmp_path / "back.yaml"
    assert config_cli.main(["convert", str(src), "-o", str(esp_path)]) == 0
    esp = yaml.safe_load(esp_path.read_text())
    assert esp["optim"] == "sgd" and esp["optim_conf"] == {"lr": 0.1, "momentum": 0.9, "nesterov": True}
    assert esp["scheduler_conf"] == {"type": "step", "step_size": 5, "gamma": 0.5}
    assert config_cli.main(["convert", str(esp_path), "-o", str(back_path)]) == 0
    assert yaml.safe_load(back_path.read_text()) == SMALL_PLAN
    assert check_config(esp).ok


def test_convert_refuses_conflicts(tmp_path, capsys):
    cfg = {"global_config": {"batch_size": 64}, "training": {"batch_size": 32}}
    assert config_cli.main(["convert", str(write(tmp_path, "c.yaml", cfg))]) == 1
    assert "conflict: training.batch_size=32 and global_config.batch_size=64" in capsys.readouterr().err
