"""TSDiarizationTask: registries, shipped configs (ESPnet layout; the nested one through bin.tsdia_train),
dry runs, collect_stats."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from espnet2_tsdia.config.check import check_config
from espnet2_tsdia.config.checklist import KNOBS, ConfigError
from espnet2_tsdia.config.layout import espnet_to_plan, is_plan_layout, plan_to_espnet
from test.train.tiny_data import data_args, make_dataset, tiny_config, write_config

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "egs2" / "TEMPLATE" / "tsdia1" / "conf"
NAMES = [f"train_{m}_{a}" for m in ("encoder", "decoder", "encoder_decoder") for a in ("softmax", "linear")]
#: two of the shipped configs written in the checklist's nested layout (test input, not shipped)
NESTED = sorted((REPO / "test" / "config" / "nested").glob("*.yaml"))


def load(p):
    return yaml.safe_load(Path(p).read_text())


def test_registration_happens_at_import_in_a_fresh_process():
    code = (
        "import espnet2_tsdia.tasks.tsdia\n"
        "from espnet2.train.dataset import DATA_TYPES\n"
        "from espnet2.tasks.abs_task import scheduler_classes\n"
        "print(sorted(k for k in DATA_TYPES if k.startswith('tsdia_')), 'tsdia' in scheduler_classes)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    names, sched = out.stdout.strip().rsplit(" ", 1)
    assert sched == "True"
    for t in ("tsdia_audio", "tsdia_feats", "tsdia_labels", "tsdia_enroll", "tsdia_mixture"):
        assert t in names


def test_recipes_ship_the_espnet_layout_only():
    shipped = sorted(p for p in (REPO / "egs2").rglob("train*.yaml")) + sorted((REPO / "egs2").rglob("tune*.yaml"))
    assert len(shipped) > len(NAMES)
    assert [str(p.relative_to(REPO)) for p in shipped if is_plan_layout(load(p))] == []
    assert not (CONF / "plan").exists()


def test_shipped_configs_agree_with_their_nested_layout():
    for name in NAMES:
        esp = load(CONF / f"{name}.yaml")
        assert plan_to_espnet(espnet_to_plan(esp))[0] == esp, name
        model_type, attn = name[len("train_") :].rsplit("_", 1)
        assert esp["model_type"] == model_type
        stacks = [esp[f"{s}_conf"]["attention_type"] for s in ("encoder", "decoder") if f"{s}_conf" in esp]
        assert stacks and all((a == "softmax") == (attn == "softmax") for a in stacks), (name, stacks)
    for path in NESTED:  # written by hand in the nested layout: converts to the shipped file
        assert plan_to_espnet(load(path))[0] == load(CONF / path.name), path.name


@pytest.mark.parametrize(
    "path",
    [CONF / f"{n}.yaml" for n in NAMES] + NESTED,
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_shipped_config_passes_check(path):
    report = check_config(load(path))
    assert report.issues == [] and report.warnings == []
    # the checklist's 110 keys, decoder.causal, similarity, speaker_contrastive, mel_warp, 13 tuning keys
    assert len(report.rows) == len(KNOBS) == 127


@pytest.mark.parametrize("name", NAMES)
def test_shipped_config_builds_with_dry_run(name, tmp_path):
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    out = tmp_path / "exp"
    path = CONF / f"{name}.yaml"
    TSDiarizationTask.main(cmd=["--config", str(path), "--dry_run", "true", "--ngpu", "0", "--output_dir", str(out)])
    written = load(out / "config.yaml")
    esp = load(path)
    assert written["model_type"] == esp["model_type"]
    assert written["scheduler"] == "tsdia" and written["scheduler_conf"]["type"] == "cosine"
    assert written["eval_knobs"] == esp["eval_knobs"] and written["tuning"] == esp["tuning"]
    model, _ = TSDiarizationTask.build_model_from_file(out / "config.yaml", None, "cpu")  # config.yaml rebuilds
    assert model.network.num_classes == 4


@pytest.mark.parametrize("path", NESTED, ids=lambda p: p.name)
def test_the_training_entry_takes_the_nested_layout(path, tmp_path):
    from espnet2_tsdia.bin import tsdia_train

    out = tmp_path / "exp"
    tsdia_train.main(["--config", str(path), "--dry_run", "true", "--ngpu", "0", "--output_dir", str(out)])
    written = load(out / "config.yaml")
    esp = load(CONF / path.name)
    assert esp["ngpu"] == 1  # global_config.device: cuda; the command line wins
    assert {k: written[k] for k in esp} == esp | {"ngpu": 0}


def test_the_task_itself_reads_the_espnet_layout_only(tmp_path):
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    # ESPnet's parser sees nested sections as unknown options
    with pytest.raises(SystemExit):
        TSDiarizationTask.main(cmd=["--config", str(NESTED[0]), "--dry_run", "true", "--output_dir", str(tmp_path)])


def test_a_bad_nested_config_is_refused_naming_the_file_and_key(tmp_path):
    from espnet2_tsdia.bin import tsdia_train

    bad = load(NESTED[0])
    bad["training"]["optimizer"]["betass"] = [0.9, 0.99]
    path = write_config(tmp_path / "bad.yaml", bad)
    with pytest.raises(ConfigError) as e:
        tsdia_train.main(["--config", str(path), "--dry_run", "true", "--output_dir", str(tmp_path / "exp")])
    assert e.value.issues == [
        f"{path}: training.optimizer.betass: unknown key (did you mean 'training.optimizer.betas'?)"
    ]
    assert not (tmp_path / "exp").exists()


def test_print_config_builds_as_printed(tmp_path):
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    cfg = TSDiarizationTask.get_default_config()
    assert cfg["decoder_conf"]["use_cross_attention"] is True and cfg["model_type"] == "encoder_decoder"
    assert cfg["best_model_criterion"] == [("valid", "loss", "min")]
    p = tmp_path / "printed.yaml"
    p.write_text(yaml.safe_dump(yaml.safe_load(yaml.safe_dump(cfg, default_flow_style=False)) | {"input_size": 345}))
    TSDiarizationTask.main(cmd=["--config", str(p), "--dry_run", "true", "--output_dir", str(tmp_path / "exp")])
    assert (tmp_path / "exp" / "config.yaml").exists()


def test_collect_stats_on_npy_features(tmp_path):
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    data = make_dataset(tmp_path / "data", n_train=8, n_valid=4)
    conf = write_config(tmp_path / "c.yaml", tiny_config("encoder"))
    out = tmp_path / "stats"
    TSDiarizationTask.main(
        cmd=["--config", str(conf), "--collect_stats", "true", "--output_dir", str(out), *data_args(data)]
    )
    stats = np.load(out / "train" / "feats_stats.npz")
    assert int(stats["count"]) == 8 * 16
    assert stats["sum"].shape == (8,)
    shapes = (out / "train" / "speech_shape").read_text().split()
    assert shapes[:2] == ["reco000__spk0", "16,8"]


def test_num_classes_must_match_the_label_scheme(tmp_path):
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    cfg = tiny_config("encoder", label_scheme="binary", model_type_conf={"num_classes": 4})
    conf = write_config(tmp_path / "c.yaml", cfg)
    with pytest.raises(
        ValueError,
        match=r"decoder.num_classes \(model_type_conf.num_classes\) = 4, but label scheme 'binary' has 2 classes",
    ):
        TSDiarizationTask.main(cmd=["--config", str(conf), "--dry_run", "true", "--output_dir", str(tmp_path / "exp")])
