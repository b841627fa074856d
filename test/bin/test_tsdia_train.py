"""``python -m espnet2_tsdia.bin.tsdia_train``: ESPnet's CLI behaviour with our task."""

import subprocess
import sys
from pathlib import Path

import yaml

from test.train.tiny_data import data_args, make_dataset, tiny_config, write_config

REPO = Path(__file__).resolve().parents[2]


def test_print_config_lists_our_options():
    out = subprocess.run(
        [sys.executable, "-m", "espnet2_tsdia.bin.tsdia_train", "--print_config"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    cfg = yaml.safe_load(out.stdout)
    assert cfg["model_type"] == "encoder_decoder"
    assert cfg["encoder_conf"]["d_model"] == 256 and cfg["decoder_conf"]["causal"] is True
    for key in (
        "max_steps",
        "valid_interval_steps",
        "snapshot_features",
        "callbacks",
        "amp_loss_scale",
        "eval_knobs",
        "tuning",
        "prefetch_factor",
    ):
        assert key in cfg, key


def test_command_line_overrides_the_yaml_and_plan_layout_is_accepted(tmp_path):
    from espnet2_tsdia.bin import tsdia_train

    data = make_dataset(tmp_path / "data", n_train=8, n_valid=4)
    conf = write_config(tmp_path / "c.yaml", tiny_config("encoder", max_epoch=5))
    out = tmp_path / "exp"
    tsdia_train.main(
        [
            "--config",
            str(conf),
            "--output_dir",
            str(out),
            "--max_epoch",
            "1",
            "--optim_conf",
            "lr=0.5",
            *data_args(data),
        ]
    )
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written["max_epoch"] == 1 and written["optim_conf"] == {"lr": 0.5}
    assert sorted(p.name for p in out.glob("*epoch.pth")) == ["1epoch.pth"]

    plan = {
        "model_type": "decoder",
        "decoder": {"d_model": 16, "num_layers": 1, "num_heads": 2},
        "training": {"epochs": 1, "batch_size": 4},
        "espnet": {
            "frontend": None,
            "input_size": 8,
            "batch_type": "unsorted",
            "use_matplotlib": False,
            "use_tensorboard": False,
        },
    }
    conf = write_config(tmp_path / "plan.yaml", plan)
    out = tmp_path / "exp_plan"
    tsdia_train.main(["--config", str(conf), "--output_dir", str(out), *data_args(data)])
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert (
        written["model_type"] == "decoder" and written["decoder_conf"]["d_model"] == 16 and written["batch_size"] == 4
    )
    assert (out / "valid.loss.ave.pth").exists()


def test_resume_from_checkpoint_continues(tmp_path):
    import torch

    from espnet2_tsdia.bin import tsdia_train

    data = make_dataset(tmp_path / "data", n_train=8, n_valid=4)
    conf = write_config(tmp_path / "c.yaml", tiny_config("encoder", max_epoch=1, use_tensorboard=False))
    out = tmp_path / "exp"
    args = ["--config", str(conf), "--output_dir", str(out), *data_args(data)]
    tsdia_train.main(args)
    tsdia_train.main(args + ["--max_epoch", "2", "--resume", "true"])
    ckpt = torch.load(out / "checkpoint.pth", weights_only=False)
    assert sorted(ckpt["reporter"]["stats"]) == [1, 2] and ckpt["position"]["step"] == 4
