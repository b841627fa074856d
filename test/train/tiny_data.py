"""A tiny learnable TS-DIA data set in ESPnet's ``npy`` format, and a config to train on it.

Features (T, F) are random; the powerset label of a frame is the argmax of its first 4
feature dims, so any model type can lower the loss in a few steps. Enrollments are random
(E, F) arrays. Everything is written under a test's ``tmp_path``.
"""

from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import yaml

FEAT_DIM = 8


def write_split(root: Path, name: str, n: int, *, frames: int = 16, enroll: int = 6, seed: int = 0) -> Dict[str, Path]:
    rng = np.random.default_rng(seed)
    d = root / name
    (d / "npy").mkdir(parents=True, exist_ok=True)
    scps = {k: [] for k in ("speech", "enroll", "labels")}
    shape = []
    for i in range(n):
        key = f"reco{i:03d}__spk{i % 3}"
        x = rng.standard_normal((frames, FEAT_DIM)).astype(np.float32)
        e = rng.standard_normal((enroll, FEAT_DIM)).astype(np.float32)
        y = x[:, :4].argmax(1).astype(np.int64)
        for kind, arr in (("speech", x), ("enroll", e), ("labels", y)):
            p = d / "npy" / f"{key}.{kind}.npy"
            np.save(p, arr)
            scps[kind].append(f"{key} {p}\n")
        shape.append(f"{key} {frames},{FEAT_DIM}\n")
    out = {}
    for kind, lines in scps.items():
        (d / f"{kind}.scp").write_text("".join(lines))
        out[kind] = d / f"{kind}.scp"
    (d / "shape").write_text("".join(shape))
    out["shape"] = d / "shape"
    return out


def make_dataset(root: Path, *, n_train: int = 16, n_valid: int = 8) -> Dict[str, Dict[str, Path]]:
    return {"train": write_split(root, "train", n_train, seed=1), "valid": write_split(root, "valid", n_valid, seed=2)}


def data_args(data: Dict[str, Dict[str, Path]]) -> List[str]:
    args = []
    for split in ("train", "valid"):
        for kind in ("speech", "enroll", "labels"):
            args += [f"--{split}_data_path_and_name_and_type", f"{data[split][kind]},{kind},npy"]
        args += [f"--{split}_shape_file", str(data[split]["shape"])]
    return args


def tiny_config(model_type: str = "encoder", attention: str = "softmax", **overrides) -> dict:
    """ESPnet-layout config of a tiny model on the npy data (fast on CPU)."""
    stack = dict(d_model=16, num_layers=1, num_heads=2, d_ff=2.0, dropout=0.0)
    if attention != "softmax":
        stack.update(nb_features=8)
    cfg = {
        "frontend": None,
        "input_size": FEAT_DIM,
        "model_type": model_type,
        "batch_type": "unsorted",
        "batch_size": 4,
        "max_epoch": 2,
        "optim": "adam",
        "optim_conf": {"lr": 0.01},
        "num_workers": 0,
        "use_matplotlib": False,
        "log_interval": 2,
        "seed": 0,
    }
    if model_type in ("encoder", "encoder_decoder"):
        cfg["encoder_conf"] = dict(stack, attention_type="linear" if attention != "softmax" else "softmax")
    if model_type in ("decoder", "encoder_decoder"):
        cfg["decoder_conf"] = dict(stack, attention_type="causal_linear" if attention != "softmax" else "softmax")
    cfg.update(overrides)
    return cfg


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def train(tmp_path: Path, cfg: dict, out: str = "exp", extra: Optional[List[str]] = None, data=None) -> Path:
    """Run TSDiarizationTask.main in-process; returns the output dir."""
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    data = data or make_dataset(tmp_path / "data")
    cfg = {"use_tensorboard": False, **cfg}
    conf = write_config(tmp_path / f"{out}.yaml", cfg)
    out_dir = tmp_path / out
    TSDiarizationTask.main(cmd=["--config", str(conf), "--output_dir", str(out_dir), *data_args(data), *(extra or [])])
    return out_dir


def deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


class Built:
    """Everything ESPnet's main_worker would build for a config, without training."""

    def __init__(self, tmp_path: Path, cfg: dict, data, name: str = "build"):
        from espnet2.train.distributed_utils import DistributedOption
        from espnet2.utils.build_dataclass import build_dataclass

        from espnet2_tsdia.tasks.tsdia import TSDiarizationTask as Task
        from espnet2_tsdia.train.schedulers import scheduler_class
        from espnet2_tsdia.train.trainer import TSDiaTrainer, _Loop

        conf = write_config(tmp_path / f"{name}.yaml", cfg)
        parser = Task.get_parser()
        out = [] if "output_dir" in cfg else ["--output_dir", str(tmp_path / name)]
        self.args = parser.parse_args(["--config", str(conf), *out, *data_args(data)])
        self.model = Task.build_model(self.args)
        self.optimizer = Task.build_optimizers(self.args, self.model)[0]
        self.scheduler = (
            scheduler_class(self.args.scheduler)(self.optimizer, **self.args.scheduler_conf)
            if self.args.scheduler
            else None
        )
        self.options = TSDiaTrainer.build_options(self.args)
        self.args.distributed = False
        self.dist = build_dataclass(DistributedOption, self.args)
        local = DistributedOption(distributed=False, ngpu=self.args.ngpu)
        self.train_factory = Task.build_iter_factory(args=self.args, distributed_option=local, mode="train")
        self.valid_factory = Task.build_iter_factory(args=self.args, distributed_option=local, mode="valid")
        self.loop = _Loop(
            self.model, [self.optimizer], [self.scheduler], self.train_factory, self.valid_factory, self.options, local
        )
