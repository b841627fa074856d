"""A tiny speaker-embedding model of ESPnet's spk task, saved as a training dir, for tests."""

from pathlib import Path

import torch
import yaml

#: a spk_train config.yaml with tiny sizes (8 kHz)
SPK_CONFIG = {
    "frontend": "melspec_torch",
    "frontend_conf": {"n_fft": 128, "win_length": 128, "hop_length": 64, "n_mels": 8, "f_max": 3800, "log": True},
    "specaug": None,
    "specaug_conf": {},
    "normalize": None,
    "normalize_conf": {},
    "encoder": "xvector",
    "encoder_conf": {"ndim": 8, "output_size": 16},
    "pooling": "stats",
    "pooling_conf": {},
    "projector": "xvector",
    "projector_conf": {"output_size": 6},
    "loss": "aamsoftmax",
    "loss_conf": {"margin": 0.2, "scale": 30},
    "preprocessor": "spk",
    "preprocessor_conf": {"target_duration": 1.0, "sample_rate": 8000},
    "spk_num": 3,
    "input_size": None,
    "init": None,
    "model_conf": {},
}


def write_spk_dir(d: Path, seed: int = 0) -> Path:
    """config.yaml and valid.eer.best.pth of an untrained tiny model in ``d``."""
    from espnet2_tsdia.inference.spk_model import build_speaker_model

    d.mkdir(parents=True, exist_ok=True)
    (d / "config.yaml").write_text(yaml.safe_dump(SPK_CONFIG))
    torch.manual_seed(seed)
    torch.save(build_speaker_model(SPK_CONFIG).state_dict(), d / "valid.eer.best.pth")
    return d
