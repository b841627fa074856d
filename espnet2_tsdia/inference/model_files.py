"""Load a trained TS-DIA model: config.yaml, weights (tensors only, strict), the frontend.

The model is rebuilt from ``config.yaml`` by the ESPnet task (config.yaml stores class names),
then its weights are read with ``torch.load(weights_only=True)`` (tensors only, never arbitrary
pickled objects) and loaded strictly (every key must match). ESPnet's own
``build_model_from_file`` is not used: it unpickles with ``weights_only=False`` and ignores
missing keys. Packing (:mod:`espnet2_tsdia.inference.pack`) and inference
(:mod:`espnet2_tsdia.inference.speech2tsdia`) both load through here.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import torch

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)


#: meta.yaml keys of the speaker-embedding model inside a TS-DIA archive (``pack_model --spk_model``)
SPK_CONFIG_KEY = "spk_train_config"
SPK_MODEL_KEY = "spk_model_file"
#: meta.yaml key of the decode options packed with a model (``pack_model --inference_config``):
#: post-processing and first-pass option values that diarize uses unless its command line says otherwise
INFERENCE_CONFIG_KEY = "inference_config"
#: model files looked for in a speaker-model training dir, in this order
SPK_MODEL_FILES = ("valid.eer.best.pth", "valid.eer.ave.pth", "valid.loss.best.pth", "valid.loss.ave.pth")


class ModelLoadError(ValueError):
    """A model that cannot be loaded: the message names the file and the problem."""


def read_train_config(path: PathLike, *, what: str = "train config") -> Dict[str, Any]:
    """``config.yaml`` (or another yaml mapping, named ``what`` in errors) -> dict.

    Raises:
        ModelLoadError: missing file, invalid YAML, not a mapping; the message names the file.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ModelLoadError(f"{p}: no such {what}")
    try:
        config = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ModelLoadError(f"{p}: not valid YAML ({' '.join(str(e).split())})") from None
    if not isinstance(config, dict):
        raise ModelLoadError(f"{p}: expected a mapping of options ({what}), got {type(config).__name__}")
    return config


def load_state_dict(model_file: PathLike, *, device: str = "cpu") -> Dict[str, torch.Tensor]:
    """Read a model file with ``torch.load(weights_only=True)``: tensors only.

    Raises:
        ModelLoadError: missing file, unreadable file, objects other than tensors, or a training
            checkpoint (``checkpoint.pth``) instead of a model's state dict.
    """
    import pickle

    p = Path(model_file)
    if not p.is_file():
        raise ModelLoadError(f"{p}: no such model file")
    try:
        state = torch.load(p, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(
            f"{p}: refused to load: the file holds objects other than tensors (weights_only=True): {first}"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise ModelLoadError(f"{p}: not a readable torch model file ({' '.join(str(e).split())[:300]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        keys = sorted(state)[:5] if isinstance(state, dict) else type(state).__name__
        raise ModelLoadError(
            f"{p}: expected a state dict of tensors (an averaged model such as valid.loss.ave.pth), got {keys}; "
            "a training checkpoint.pth is not a model file"
        )
    return state


def task_build_model() -> Callable[[argparse.Namespace], torch.nn.Module]:
    import contextlib
    import io

    printed = io.StringIO()
    try:
        # ESPnet prints "Failed to import Flash Attention ..." on stdout at import time; keep
        # stdout clean for the command-line tools and log it instead.
        with contextlib.redirect_stdout(printed):
            from espnet2_tsdia.tasks.tsdia import TSDiarizationTask
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("espnet2_tsdia.tasks"):
            raise ModelLoadError(
                "the ESPnet task espnet2_tsdia.tasks.tsdia is not installed; it is needed to rebuild a model from config.yaml"
            ) from None
        raise
    finally:
        for line in printed.getvalue().splitlines():
            logger.debug("import: %s", line)
    return TSDiarizationTask.build_model


def load_model(
    train_config: PathLike,
    model_file: PathLike,
    *,
    device: str = "cpu",
    build_model: Optional[Callable[[argparse.Namespace], torch.nn.Module]] = None,
) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """Rebuild a model from ``config.yaml`` and load its weights safely and strictly.

    Returns:
        (model in eval mode on ``device``, the config dict).
    """
    config = read_train_config(train_config)
    state = load_state_dict(model_file, device="cpu")
    builder = build_model or task_build_model()
    try:
        model = builder(argparse.Namespace(**config))
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise ModelLoadError(f"{train_config}: cannot build the model from this config: {e}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        msg = " ".join(str(e).split())
        raise ModelLoadError(f"{model_file}: the weights do not fit the model of {train_config}: {msg[:500]}") from None
    return model.to(device).eval(), config


def standard_frontend(conf: Optional[Mapping[str, Any]]) -> torch.nn.Module:
    """The waveform frontend for a model trained on stored features: TSDiaFbankFrontend with
    ``conf`` (None or empty: the standard 345-dim feature)."""
    from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend

    conf = dict(conf or {})
    logger.info("the model reads stored features; computing them with TSDiaFbankFrontend(%s)", conf)
    try:
        return TSDiaFbankFrontend(**conf)
    except TypeError as e:
        raise ModelLoadError(f"frontend_conf {conf} does not fit TSDiaFbankFrontend: {e}") from None


def speaker_model_dir_files(exp: PathLike) -> Tuple[Path, Path]:
    """``config.yaml`` and the model file of a speaker-model training dir (``spk_train``): the
    first of :data:`SPK_MODEL_FILES` that exists.

    Raises:
        ModelLoadError: no config.yaml, or none of the model files.
    """
    exp = Path(exp)
    config = exp / "config.yaml"
    if not config.is_file():
        raise ModelLoadError(f"{exp}: no config.yaml; is this a speaker-model training dir?")
    for name in SPK_MODEL_FILES:
        if (exp / name).exists():
            return config, exp / name
    raise ModelLoadError(f"{exp}: no speaker model file (looked for {', '.join(SPK_MODEL_FILES)})")


def read_inference_config(files: Mapping[str, str]) -> Dict[str, Any]:
    """The decode options packed with a model (``{}`` when it has none): the yaml named by
    :data:`INFERENCE_CONFIG_KEY` among the unpacked ``files``.

    Raises:
        ModelLoadError: the yaml cannot be read or is not a mapping of option names.
    """
    import yaml

    path = files.get(INFERENCE_CONFIG_KEY)
    if path is None:
        return {}
    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ModelLoadError(f"{path}: the packed inference config cannot be read: {e}") from None
    if values is None:
        return {}
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise ModelLoadError(f"{path}: the packed inference config must be a mapping of option names to values")
    return values
