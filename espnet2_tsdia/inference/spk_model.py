"""A speaker-embedding model of ESPnet's ``spk`` task, for the first pass.

:class:`SpeakerEmbedder` turns waveforms into L2-normalised speaker embeddings with an
``espnet2.spk.espnet_model.ESPnetSpeakerModel`` (x-vector, ECAPA-TDNN, RawNet3, ... trained by
``python -m espnet2.bin.spk_train``). It is loaded from (:func:`load_speaker_embedder`):

- a training dir (``config.yaml`` and ``valid.eer.best.pth``, else ``valid.eer.ave.pth``, else
  the only ``*.pth`` that is not a checkpoint);
- a zip written by ESPnet's packer (``python -m espnet2.bin.pack spk``: meta.yaml keys
  ``train_config`` / ``model_file``) or by our ``pack_model --spk_model`` (keys
  ``spk_train_config`` / ``spk_model_file``);
- a model-zoo tag (``espnet/voxcelebs12_ecapa_wavlm_joint`` and the like), downloaded by
  espnet_model_zoo. This path needs a network and was not tried in this project's sandbox; a
  16 kHz zoo model gets the recording resampled to its rate.

Rebuilding: the common ESPnet classes (the frontends, encoders, poolings, projectors, losses
and normalisers of ``espnet2.tasks.spk``) are built directly from the config, which avoids
importing ``espnet2.tasks.spk`` (about 15 s: its preprocessor module pulls in text front-ends);
any other class name falls back to ``SpeakerTask.build_model``. The weights are read with
``torch.load(weights_only=True)`` and loaded strictly, as for the TS-DIA model.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from espnet2_tsdia.inference.model_files import (
    SPK_CONFIG_KEY,
    SPK_MODEL_KEY,
    ModelLoadError,
    load_state_dict,
    read_train_config,
    speaker_model_dir_files,
)

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)


_P = "espnet2.spk."
_CLASSES: Dict[str, Dict[str, str]] = {
    "frontend": {
        "melspec_torch": "espnet2.asr.frontend.melspec_torch:MelSpectrogramTorch",
        "default": "espnet2.asr.frontend.default:DefaultFrontend",
    },
    "normalize": {
        "utterance_mvn": "espnet2.layers.utterance_mvn:UtteranceMVN",
        "global_mvn": "espnet2.layers.global_mvn:GlobalMVN",
    },
    "encoder": {
        "xvector": _P + "encoder.xvector_encoder:XvectorEncoder",
        "ecapa_tdnn": _P + "encoder.ecapa_tdnn_encoder:EcapaTdnnEncoder",
        "rawnet3": _P + "encoder.rawnet3_encoder:RawNet3Encoder",
        "resnet": _P + "encoder.resnet_encoder:ResNetEncoder",
        "ska_tdnn": _P + "encoder.ska_tdnn_encoder:SkaTdnnEncoder",
        "identity": _P + "encoder.identity_encoder:IdentityEncoder",
    },
    "pooling": {
        "stats": _P + "pooling.stat_pooling:StatsPooling",
        "mean": _P + "pooling.mean_pooling:MeanPooling",
        "chn_attn_stat": _P + "pooling.chn_attn_stat_pooling:ChnAttnStatPooling",
    },
    "projector": {
        "xvector": _P + "projector.xvector_projector:XvectorProjector",
        "rawnet3": _P + "projector.rawnet3_projector:RawNet3Projector",
        "ska_tdnn": _P + "projector.ska_tdnn_projector:SkaTdnnProjector",
    },
    "loss": {
        "aamsoftmax": _P + "loss.aamsoftmax:AAMSoftmax",
        "aamsoftmax_sc_topk": _P + "loss.aamsoftmax_subcenter_intertopk:ArcMarginProduct_intertopk_subcenter",
        "softmax": _P + "loss.softmax:Softmax",
    },
}


def _class(role: str, name: str):
    module, attr = _CLASSES[role][name].split(":")
    return getattr(importlib.import_module(module), attr)


def _conf(config: Mapping[str, Any], role: str) -> Dict[str, Any]:
    return dict(config.get(f"{role}_conf") or {})


def build_speaker_model(config: Mapping[str, Any]) -> torch.nn.Module:
    """An ``ESPnetSpeakerModel`` from a spk training config (the module docstring says how)."""
    names = {role: config.get(role) for role in _CLASSES}
    if names["encoder"] is None or names["pooling"] is None:
        raise ModelLoadError(f"not a speaker-model config: encoder={names['encoder']!r} pooling={names['pooling']!r}")
    if config.get("specaug") is None and all(n is None or n in _CLASSES[r] for r, n in names.items()):
        from espnet2.spk.espnet_model import ESPnetSpeakerModel

        frontend = None
        input_size = config.get("input_size")
        if names["frontend"] is not None:
            frontend = _class("frontend", names["frontend"])(**_conf(config, "frontend"))
            input_size = frontend.output_size()
        normalize = None
        if names["normalize"] is not None:
            normalize = _class("normalize", names["normalize"])(**_conf(config, "normalize"))
        encoder = _class("encoder", names["encoder"])(input_size=input_size, **_conf(config, "encoder"))
        pooling = _class("pooling", names["pooling"])(input_size=encoder.output_size(), **_conf(config, "pooling"))
        projector = None
        size = pooling.output_size()
        if names["projector"] is not None:
            projector = _class("projector", names["projector"])(input_size=size, **_conf(config, "projector"))
            size = projector.output_size()
        loss = None
        if names["loss"] is not None:
            loss = _class("loss", names["loss"])(nout=size, nclasses=config.get("spk_num"), **_conf(config, "loss"))
        return ESPnetSpeakerModel(
            frontend=frontend,
            specaug=None,
            normalize=normalize,
            encoder=encoder,
            pooling=pooling,
            projector=projector,
            loss=loss,
        )
    from espnet2.tasks.spk import SpeakerTask

    return SpeakerTask.build_model(argparse.Namespace(**config))


def speaker_model_rate(config: Mapping[str, Any]) -> int:
    """The sample rate a spk model was trained at: its preprocessor's, else the task's option."""
    conf = config.get("preprocessor_conf") or {}
    rate = conf.get("sample_rate", config.get("sample_rate", 16000))
    return int(rate)


class SpeakerEmbedder:
    """Waveforms -> (N, D) unit-length speaker embeddings.

    Args:
        model: an ``ESPnetSpeakerModel`` (eval mode is set here).
        fs: its sample rate.
        device: torch device.
        batch_size: waveforms per forward pass (those of equal length are batched together).
        min_samples: shorter waveforms are repeated up to this length (the model's receptive
            field needs some context; ESPnet's preprocessor does the same with short crops).
    """

    def __init__(
        self, model: torch.nn.Module, *, fs: int, device: str = "cpu", batch_size: int = 64, min_samples: int = 0
    ):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.fs = int(fs)
        self.batch_size = batch_size
        self.min_samples = min_samples or self.fs // 2

    @classmethod
    def from_files(cls, train_config: PathLike, model_file: PathLike, *, device: str = "cpu") -> "SpeakerEmbedder":
        config = read_train_config(train_config, what="speaker-model config")
        state = load_state_dict(model_file)
        try:
            model = build_speaker_model(config)
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise ModelLoadError(f"{train_config}: cannot build the speaker model from this config: {e}") from None
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            msg = " ".join(str(e).split())[:500]
            raise ModelLoadError(
                f"{model_file}: the weights do not fit the speaker model of {train_config}: {msg}"
            ) from None
        logger.info("speaker model %s (%s, %d Hz)", model_file, config.get("encoder"), speaker_model_rate(config))
        return cls(model, fs=speaker_model_rate(config), device=device)

    @torch.no_grad()
    def __call__(self, waveforms: Sequence[np.ndarray], *, fs: Optional[int] = None) -> np.ndarray:
        """(L_i,) waveforms at ``fs`` (default the model's) -> (N, D) float32 unit embeddings."""
        xs = [np.asarray(w, dtype=np.float32) for w in waveforms]
        if fs is not None and fs != self.fs:
            import torchaudio

            xs = [torchaudio.functional.resample(torch.from_numpy(x), fs, self.fs).numpy() for x in xs]
        for i, x in enumerate(xs):
            if x.ndim != 1 or x.size == 0:
                raise ValueError(f"waveform {i}: expected a non-empty 1-D array, got shape {x.shape}")
            if x.size < self.min_samples:
                xs[i] = np.resize(x, self.min_samples)
        out: list = [None] * len(xs)
        by_len: Dict[int, list] = {}
        for i, x in enumerate(xs):
            by_len.setdefault(x.size, []).append(i)
        for idx in by_len.values():
            for j in range(0, len(idx), self.batch_size):
                part = idx[j : j + self.batch_size]
                batch = torch.from_numpy(np.stack([xs[i] for i in part])).to(self.device)
                emb = self.model(speech=batch, extract_embd=True)
                emb = torch.nn.functional.normalize(emb.float(), dim=1).cpu().numpy()
                for k, i in enumerate(part):
                    out[i] = emb[k]
        if not out:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(out).astype(np.float32)


def speaker_files(spec: PathLike, *, cachedir: Optional[PathLike] = None) -> Tuple[str, str]:
    """(config, model file) of a speaker model given as a training dir, a zip or a model-zoo tag."""
    from espnet2_tsdia.inference.pack import ModelArchiveError, unpack_model

    p = Path(spec)
    if p.is_dir():
        config, model = speaker_model_dir_files(p)
        return str(config), str(model)
    files = unpack_model(spec, cachedir=cachedir)
    for ckey, mkey in ((SPK_CONFIG_KEY, SPK_MODEL_KEY), ("train_config", "model_file")):
        if ckey in files and mkey in files:
            return files[ckey], files[mkey]
    raise ModelArchiveError(f"{spec}: its meta.yaml names no speaker model (keys: {sorted(files)})")


def load_speaker_embedder(
    spec: PathLike, *, cachedir: Optional[PathLike] = None, device: str = "cpu"
) -> SpeakerEmbedder:
    """A :class:`SpeakerEmbedder` from a training dir, a zip or a model-zoo tag."""
    config, model = speaker_files(spec, cachedir=cachedir)
    return SpeakerEmbedder.from_files(config, model, device=device)
