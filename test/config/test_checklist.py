"""The checklist table and the nested <-> ESPnet conversion (no ESPnet task needed)."""

from pathlib import Path

import pytest

from espnet2_tsdia.config.checklist import (
    KNOB_BY_KEY,
    KNOBS,
    MISSING,
    MODEL_TYPES,
    ConfigError,
    metric_name,
    parse_metric,
    stacks_of,
)
from espnet2_tsdia.config.layout import espnet_to_plan, flatten_plan, is_plan_layout, plan_to_espnet, read_plan_value
from espnet2_tsdia.config.tuning_section import DEFAULTS, search_space_issues, section_issues
from espnet2_tsdia.networks.registry import MODEL_STACKS

#: the researcher's checklist, one key a line, in its order
CHECKLIST_KEYS = Path(__file__).with_name("checklist_keys.txt")


def checklist_keys():
    lines = CHECKLIST_KEYS.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def test_every_key_of_the_checklist_is_in_the_table():
    keys = checklist_keys()
    assert len(keys) == len(set(keys)) == 110
    assert [k for k in keys if k not in KNOB_BY_KEY] == []


def test_table_rows_are_complete():
    # the checklist's 110 keys, decoder.causal, the speaker-similarity conditioning, its loss and the
    # VTLP augmentation, and the 13 keys of the tuning section beyond its two
    extensions = sorted(set(KNOB_BY_KEY) - set(checklist_keys()))
    ours = ["decoder.causal", "decoder.similarity", "training.loss.auxiliary.speaker_contrastive"]
    ours.append("training.augmentation.mel_warp")
    assert extensions == sorted(ours + [f"tuning.{k}" for k in DEFAULTS if k not in ("library", "search_space")])
    assert len(KNOBS) == 127
    assert {k.key for k in KNOBS if k.stage == "inference"} == {
        f"eval_knobs.{k}" for k in ("batch_size", "beam_width", "sliding_window", "label_type", "max_duration")
    }
    assert [k.key for k in KNOBS if k.stage == "tuning"] == [f"tuning.{k}" for k in DEFAULTS]


def test_metric_names():
    assert parse_metric("val_loss") == ("valid", "loss")
    assert parse_metric("valid.target_error") == ("valid", "target_error")
    assert parse_metric("train_accuracy") == ("train", "accuracy")
    assert parse_metric("loss") == ("valid", "loss")
    assert metric_name("valid", "target_error") == "val_target_error"
    with pytest.raises(ValueError, match="non-empty string"):
        parse_metric("")


PLAN = {
    "model_type": "encoder_decoder",
    "name": "demo",
    "global_config": {"dropout": 0.2, "batch_size": 16, "d_ff": 2, "device": "cpu"},
    "encoder": {"d_model": 32, "num_heads": 2, "attention_type": "linear", "nb_features": 8},
    "decoder": {"d_model": 32, "num_heads": 2, "attention_type": "causal_linear", "use_cross_attention": True},
    "training": {
        "epochs": 3,
        "optimizer": {"type": "adamw", "lr": 0.002, "betas": [0.8, 0.9], "epsilon": 1e-7},
        "scheduler": {"type": "linear", "warmup_steps": 10, "decay_steps": 100, "min_lr": 1e-5},
        "validation": {"metric_for_best_model": "val_accuracy", "greater_is_better": True},
        "early_stopping": {"patience": 2, "metric": "val_loss", "mode": "min", "min_delta": 0.01},
        "checkpoint": {"save_total_limit": 3, "resume": "exp/a/checkpoint.pth"},
        "callbacks": ["gradient_clipping", {"name": "pruning", "amount": 0.5}],
        "logging": {"wandb": True, "log_model": True, "wandb_project": "p"},
    },
    "eval_knobs": {"sliding_window": 500},
    "tuning": {"library": "optuna", "search_space": {"lr": {"low": 1e-5, "high": 1e-3, "log": True}}},
    "espnet": {"label_scheme": "binary", "batch_type": "unsorted"},
}


def test_plan_to_espnet_values():
    esp, issues = plan_to_espnet(PLAN)
    assert issues == []
    assert esp["encoder_conf"] == {
        "d_model": 32,
        "num_heads": 2,
        "attention_type": "linear",
        "nb_features": 8,
        "dropout": 0.2,
        "d_ff": 2,
    }
    assert esp["decoder_conf"]["dropout"] == 0.2 and esp["decoder_conf"]["use_cross_attention"] is True
    assert esp["ngpu"] == 0 and esp["batch_size"] == 16 and esp["max_epoch"] == 3 and esp["exp_name"] == "demo"
    assert esp["optim"] == "adamw"
    assert esp["optim_conf"] == {"lr": 0.002, "betas": [0.8, 0.9], "eps": 1e-7}
    assert esp["scheduler"] == "tsdia"
    assert esp["scheduler_conf"] == {"type": "linear", "warmup_steps": 10, "decay_steps": 100, "min_lr": 1e-5}
    assert esp["best_model_criterion"] == [["valid", "accuracy", "max"]]
    assert esp["early_stopping_criterion"] == ["valid", "loss", "min"]
    assert esp["patience"] == 2 and esp["early_stopping_min_delta"] == 0.01
    assert esp["keep_nbest_models"] == [3]
    assert esp["resume"] is True and esp["resume_checkpoint"] == "exp/a/checkpoint.pth"
    assert esp["callbacks"] == ["gradient_clipping", "pruning"]
    assert esp["callback_conf"] == {"pruning": {"amount": 0.5}}
    assert esp["use_wandb"] is True and esp["wandb_model_log_interval"] == 1 and esp["wandb_project"] == "p"
    assert esp["eval_knobs"] == {"sliding_window": 500}
    assert esp["tuning"]["library"] == "optuna"
    assert esp["label_scheme"] == "binary" and esp["batch_type"] == "unsorted"


def test_round_trip_both_ways():
    esp, _ = plan_to_espnet(PLAN)
    back = espnet_to_plan(esp)
    # global_config.batch_size has no winner here, so it comes back as training.batch_size.
    expected = {**PLAN, "global_config": {k: v for k, v in PLAN["global_config"].items() if k != "batch_size"}}
    expected["training"] = {**PLAN["training"], "batch_size": 16}
    flat_back, _, _ = flatten_plan(back)
    flat_expected, _, _ = flatten_plan(expected)
    assert flat_back == flat_expected
    assert back["espnet"] == PLAN["espnet"]
    assert plan_to_espnet(back)[0] == esp


def test_typo_is_named_with_a_suggestion():
    bad = {"training": {"optimizer": {"type": "adamw", "betass": [0.9, 0.99]}}}
    with pytest.raises(
        ConfigError, match=r"training\.optimizer\.betass: unknown key \(did you mean 'training\.optimizer\.betas'\?\)"
    ):
        plan_to_espnet(bad)


def test_unconsumed_keys_are_named():
    bad = {
        "model_type": "encoder",
        "decoder": {"d_model": 64},
        "training": {
            "optimizer": {"type": "adamw", "momentum": 0.9},
            "scheduler": {"type": "cosine", "decay_steps": 10, "step_size": 3},
        },
    }
    _, issues = plan_to_espnet(bad, strict=False)
    assert "decoder.d_model=64 is not consumed: model_type 'encoder' has no decoder" in issues
    assert "training.optimizer.momentum=0.9 is not consumed: optimizer 'adamw' does not read it" in issues
    assert "training.scheduler.step_size=3 is not consumed: scheduler 'cosine' does not read it" in issues


def test_inert_values_are_not_reported():
    ok = {
        "training": {
            "optimizer": {"type": "adamw", "momentum": None, "nesterov": False},
            "mixed_precision": False,
            "amp_loss_scale": None,
        }
    }
    assert plan_to_espnet(ok, strict=False)[1] == []


def test_batch_size_precedence_and_conflict():
    cfg = {"global_config": {"batch_size": 64}, "training": {"batch_size": 32}}
    esp, issues = plan_to_espnet(cfg, strict=False)
    assert esp["batch_size"] == 32
    assert issues == [
        "conflict: training.batch_size=32 and global_config.batch_size=64 both set batch_size; training.batch_size wins (documented precedence)"
    ]
    esp, issues = plan_to_espnet({"global_config": {"batch_size": 64}})
    assert esp["batch_size"] == 64 and issues == []
    esp, issues = plan_to_espnet({"global_config": {"batch_size": 8}, "training": {"batch_size": 8}})
    assert esp["batch_size"] == 8 and issues == []


def test_feature_redraw_fan_out_and_precedence():
    cfg = {
        "model_type": "encoder_decoder",
        "training": {"feature_redraw_interval": 100},
        "encoder": {"feature_redraw_interval": 10},
    }
    esp, issues = plan_to_espnet(cfg, strict=False)
    assert esp["encoder_conf"]["feature_redraw_interval"] == 10
    assert esp["decoder_conf"]["feature_redraw_interval"] == 100
    assert len(issues) == 1 and "encoder.feature_redraw_interval wins" in issues[0]


def test_device_mapping():
    assert plan_to_espnet({"global_config": {"device": "cuda"}})[0]["ngpu"] == 1
    _, issues = plan_to_espnet({"global_config": {"device": "tpu"}}, strict=False)
    assert issues == ["global_config.device: expected 'cpu' or 'cuda', got 'tpu'"]
    assert read_plan_value("global_config.device", {"ngpu": 0}) == "cpu"
    with pytest.raises(ValueError, match="ngpu=2"):
        read_plan_value("global_config.device", {"ngpu": 2})


def test_espnet_to_plan_rejects_what_the_plan_cannot_say():
    with pytest.raises(ConfigError, match="global_config.dropout: the plan has one value"):
        espnet_to_plan(
            {"model_type": "encoder_decoder", "encoder_conf": {"dropout": 0.1}, "decoder_conf": {"dropout": 0.2}}
        )
    with pytest.raises(ConfigError, match="scheduler='warmuplr'"):
        espnet_to_plan({"scheduler": "warmuplr", "scheduler_conf": {"warmup_steps": 10}})
    assert read_plan_value("training.max_steps", {}) is MISSING


def test_tuning_validation():
    good = {"lr": {"low": 1e-5, "high": 1e-2, "log": True}, "batch_size": {"choices": [8, 16]}}
    assert search_space_issues(good) == []
    assert section_issues({"library": "optuna", "search_space": good}) == []
    bad = {"lrr": {"low": 1, "high": 2}, "dropout": {"low": 0.3, "high": 0.1}}
    issues = section_issues({"library": "hyperopt", "search_space": bad})
    assert issues == [
        "tuning.library: expected one of ['optuna', 'raytune'] or null, got 'hyperopt'",
        "tuning.search_space.lrr: not a training key of the checklist (did you mean 'lr'?)",
        "tuning.search_space.dropout: expected numbers low < high, got low=0.3 high=0.1",
    ]
    # an eval-time key is not something a training run can search
    assert search_space_issues({"eval_knobs.beam_width": {"choices": [1, 2]}}) == [
        "tuning.search_space.eval_knobs.beam_width: not a training key of the checklist"
    ]


def test_layout_detection():
    assert is_plan_layout({"training": {"epochs": 1}})
    assert is_plan_layout({"encoder": {"d_model": 8}})
    assert not is_plan_layout({"encoder": "transformer", "encoder_conf": {}})
    assert not is_plan_layout({"max_epoch": 3})


def test_the_stacks_of_each_model_type_agree_with_the_network_registry():
    assert {mt: stacks_of(mt) for mt in MODEL_TYPES} == {mt: tuple(roles) for mt, roles in MODEL_STACKS.items()}
