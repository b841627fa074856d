"""espnet2_tsdia: target-speaker diarization as an ESPnet2 extension plugin."""

import re
from pathlib import Path

from setuptools import find_packages, setup

_HERE = Path(__file__).resolve().parent
_VERSION = re.search(
    r'^__version__ = "([^"]+)"',
    (_HERE / "espnet2_tsdia" / "__init__.py").read_text(),
    re.M,
).group(1)

install_requires = [
    # The stack we test against (docs/design.md, Stack).
    "espnet==202511",
    "torch==2.9.1",
    "torchaudio==2.9.1",
    "espnet_model_zoo",
    "kaldiio",
    "humanfriendly",
    "typeguard>=4",
    "configargparse",
    "pyannote.metrics==4.2.0",
    "tensorboard",
    "matplotlib",
    "soundfile",
    "scipy",
    "tqdm",
    "PyYAML",
    # ESPnet 202511's chunk iterator does int(state.choice(..., 1)), which numpy>=2.4
    # rejects; we also avoid that iterator, but pin so stock ESPnet paths keep working.
    "numpy<2.4",
]

#: The tuning engines of espnet2_tsdia.bin.tune (the versions its tests ran with; Ray 2.60 has no
#: local_mode: tests start a Ray instance on the machine).
tune_requires = ["optuna==5.1.0", "ray[tune]==2.60.0"]

extras_require = {
    "test": ["pytest", "hypothesis", "lhotse", "librosa", "wandb", "ruff==0.17.5", *tune_requires],
    "bench": ["performer-pytorch==1.1.4", "librosa"],
    "tune": tune_requires,
    "wandb": ["wandb"],
}
extras_require["all"] = sorted({p for v in extras_require.values() for p in v})

setup(
    name="espnet2_tsdia",
    version=_VERSION,
    description="Target-speaker diarization (TS-DIA) as an ESPnet2 extension",
    long_description=(_HERE / "README.md").read_text() if (_HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["espnet2_tsdia", "espnet2_tsdia.*"]),
    install_requires=install_requires,
    extras_require=extras_require,
    license="Apache-2.0",
)
