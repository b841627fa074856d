"""TSDiarizationTask: registries, shipped configs (both layouts), dry runs, collect_stats."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from espnet2_tsdia.config.check import check_config
from espnet2_tsdia.config.checklist import plan_to_espnet
from test.train.tiny_data import data_args, make_dataset, tiny_config, write_config

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "egs2" / "TEMPLATE" / "tsdia1" / "conf"
NAMES = [f"train_{m}_{a}" for m in ("encoder", "decoder", "encoder_decoder") for a in ("softmax", "linear")]


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


def test_shipped_configs_exist_in_both_layouts_and_agree():
    for name in NAMES:
        plan, esp = load(CONF / "plan" / f"{name}.yaml"), load(CONF / f"{name}.yaml")
        assert plan_to_espnet(plan)[0] == esp, name
        model_type, attn = name[len("train_") :].rsplit("_", 1)
        assert esp["model_type"] == model_type
        stacks = [esp[f"{s}_conf"]["attention_type"] for s in ("encoder", "decoder") if f"{s}_conf" in esp]
        assert stacks and all((a == "softmax") == (attn == "softmax") for a in stacks), (name, stacks)


@pytest.mark.parametrize(
    "path",
    [CONF / f"{n}.yaml" for n in NAMES] + [CONF / "plan" / f"{n}.yaml" for n in NAMES],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_shipped_config_passes_check(path):
    report = check_config(load(path))
    assert report.issues == []
    from espnet2_tsdia.config.checklist import KNOBS

    assert len(report.rows) == len(KNOBS) == 124  # the plan's 111 keys + the tuning section's 13


@pytest.mark.parametrize("layout", ["espnet", "plan"])
@pytest.mark.parametrize("name", NAMES)
def test_shipped_config_builds_with_dry_run(name, layout, tmp_path):
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    path = CONF / f"{name}.yaml" if layout == "espnet" else CONF / "plan" / f"{name}.yaml"
    out = tmp_path / "exp"
    TSDiarizationTask.main(cmd=["--config", str(path), "--dry_run", "true", "--ngpu", "0", "--output_dir", str(out)])
    written = load(out / "config.yaml")
    esp = load(CONF / f"{name}.yaml")
    assert written["model_type"] == esp["model_type"]
    assert written["scheduler"] == "tsdia" and written["scheduler_conf"]["type"] == "cosine"
    assert written["eval_knobs"] == esp["eval_knobs"] and written["tuning"] == esp["tuning"]
    if layout == "espnet":  # the stored config.yaml rebuilds the model through the task
        model, _ = TSDiarizationTask.build_model_from_file(out / "config.yaml", None, "cpu")
        assert model.network.num_classes == 4


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
