"""``python -m espnet2_tsdia.bin.config check|convert`` against the task's parser; inactive FAVOR+ settings."""

import yaml

from espnet2_tsdia.bin import config as config_cli
from espnet2_tsdia.config.check import ESPNET_CONSUMERS, NOT_CONSUMED, check_config, our_option_consumers
from espnet2_tsdia.config.checklist import KNOB_BY_KEY, KNOBS
from espnet2_tsdia.config.consumers import CONSUMERS, describe_consumer
from espnet2_tsdia.stacks.transformer import TransformerStack


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
    printed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert {k.key for k in KNOBS} <= printed
    report = check_config(SMALL_PLAN)
    assert report.ok and report.warnings == []
    rows = {r.key: r for r in report.rows}
    assert list(rows) == [k.key for k in KNOBS]
    assert (rows["encoder.d_model"].value, rows["encoder.d_model"].status) == (16, "set")
    # Defaults are resolved from the constructors / ESPnet's parser.
    assert (rows["encoder.use_rezero"].value, rows["encoder.use_rezero"].status) == (False, "default")
    assert (rows["training.random_seed"].value, rows["training.random_seed"].status) == (0, "default")
    assert rows["training.optimizer.momentum"].value == 0.9
    assert rows["encoder.d_model"].consumer == describe_consumer(KNOB_BY_KEY["encoder.d_model"])
    assert CONSUMERS["encoder.d_model"].objects == (TransformerStack,)
    assert rows["eval_knobs.beam_width"].status == "inference time"
    assert rows["tuning.search_space"].status == "tuning time"
    assert rows["decoder.d_model"].status == "default; unused: model_type 'encoder' has no decoder"


SOFTMAX_ONLY = "only ['linear', 'causal_linear'] attention reads it"


def test_favor_settings_under_softmax_are_inactive_and_warned():
    cfg = yaml.safe_load(yaml.safe_dump(SMALL_PLAN))
    cfg["encoder"].update(
        attention_type="softmax", nb_features=64, feature_redraw_interval=100, auto_check_redraw=False
    )
    cfg["training"]["fixed_projection"] = True
    report = check_config(cfg)
    assert report.issues == []  # the config still trains (a search over attention_type keeps them)
    rows = {r.key: r.status for r in report.rows}
    why = f"encoder.attention_type is 'softmax'; {SOFTMAX_ONLY}"
    for key in ("encoder.nb_features", "encoder.feature_redraw_interval", "encoder.auto_check_redraw"):
        assert rows[key] == f"set; inactive: {why}"
    assert rows["training.fixed_projection"] == f"set; inactive: {why}"
    assert rows["training.feature_redraw_interval"] == f"default; inactive: {why}"  # softmax: no stack reads it
    assert report.warnings == [
        f"encoder.nb_features=64 is inactive: {why}",
        f"encoder.feature_redraw_interval=100 is inactive: {why}",
        f"encoder.auto_check_redraw=False is inactive: {why}",
        f"training.fixed_projection=True is inactive: {why}",
    ]


def test_favor_settings_at_their_off_values_are_inactive_without_a_warning():
    cfg = yaml.safe_load(yaml.safe_dump(SMALL_PLAN))
    cfg["encoder"].update(attention_type="softmax", nb_features=None, auto_check_redraw=True)
    cfg["training"]["fixed_projection"] = False
    report = check_config(cfg, build=False)
    assert report.issues == [] and report.warnings == []
    rows = {r.key: r.status for r in report.rows}
    assert rows["encoder.auto_check_redraw"].startswith("set; inactive: encoder.attention_type is 'softmax'")
    assert rows["encoder.nb_features"].startswith("set; inactive:")


def test_inactive_favor_settings_of_one_stack_in_espnet_layout():
    # a linear encoder reads its FAVOR+ settings, a softmax decoder does not
    favor = {"nb_features": 8, "feature_redraw_interval": 5, "fixed_projection": True}
    cfg = {
        "model_type": "encoder_decoder",
        "frontend": None,
        "input_size": 8,
        "encoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "attention_type": "linear", **favor},
        "decoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "attention_type": "softmax", **favor},
    }
    report = check_config(cfg)
    assert report.issues == []
    rows = {r.key: r.status for r in report.rows}
    why = f"decoder.attention_type is 'softmax'; {SOFTMAX_ONLY}"
    assert rows["encoder.nb_features"] == rows["encoder.feature_redraw_interval"] == "set"
    assert rows["decoder.nb_features"] == rows["decoder.feature_redraw_interval"] == f"set; inactive: {why}"
    assert rows["training.fixed_projection"] == "set"  # the encoder reads it
    # the one FAVOR+ stack sets its own interval: the shared default reaches no kernel
    own = "encoder.feature_redraw_interval set: a stack's own key wins"
    assert rows["training.feature_redraw_interval"] == f"default; inactive: {own}"
    assert report.warnings == [
        f"decoder.nb_features=8 is inactive: {why}",
        f"decoder.feature_redraw_interval=5 is inactive: {why}",
    ]


def test_check_cli_passes_with_warnings(tmp_path, capsys):
    cfg = yaml.safe_load(yaml.safe_dump(SMALL_PLAN))
    cfg["encoder"].update(attention_type="softmax", nb_features=64)
    assert config_cli.main(["check", str(write(tmp_path, "w.yaml", cfg)), "--no_build"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("WARNING:")] == [
        f"WARNING: encoder.nb_features=64 is inactive: encoder.attention_type is 'softmax'; {SOFTMAX_ONLY}"
    ]


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
    assert config_cli.main(["convert", str(write(tmp_path, "c.yaml", cfg))]) == 2
    assert "conflict: training.batch_size=32 and global_config.batch_size=64" in capsys.readouterr().err


def test_table_cli_has_one_row_per_key_with_its_consumers(capsys):
    assert config_cli.main(["table"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:]]
    assert [r[0].strip("| `") for r in rows] == [k.key for k in KNOBS]
    by_key = {r[0].strip("| `"): r for r in rows}
    # the consumers' full dotted names, importable as written
    assert by_key["training.gradient_clipping"][3] == (
        "espnet2_tsdia.train.trainer._Loop.optimizer_step: clip_grad_norm_ (null = no clipping)"
    )
    assert by_key["eval_knobs.beam_width"][2:4] == [
        "inference",
        "consumed at inference time: espnet2_tsdia.inference.speech2tsdia.EvalKnobs: "
        "config.yaml eval_knobs, read by the inference tools",
    ]
