"""Speech2TSDiarization: a trained model -> per-target frame posteriors, activity and RTTM turns.

For one recording and a set of target speakers (each with an enrollment):

1. Features of the whole recording, once: the model's frontend (per-recording mean
   normalisation, as the training loader's ``speech_mean``) and its normaliser (GlobalMVN).
2. Enrollment features: an oracle region is a span of rows of the recording's features (the
   training loader's ``tsdia_enroll_feats``); a user clip goes through the same frontend,
   normalised with the recording's mean (as a training enrollment is with its mixture's).
3. Passes: ``linear`` / ``causal_linear`` models run the whole recording in one pass; models
   with softmax attention run windows of ``eval_knobs.sliding_window`` frames overlapping by
   ``window_overlap`` frames (default a quarter of the window) and average the overlapping
   posteriors (:mod:`espnet2_tsdia.inference.windows`). ``eval_knobs.max_duration`` (seconds)
   caps the mixture frames of any pass, for every model. Every (target, window) item of the
   recording goes into batches of ``eval_knobs.batch_size`` items (all targets at once when it
   is at least the number of targets).
4. Posteriors: softmax (single-label schemes) or sigmoid (multi-label); activity and turns by
   :mod:`espnet2_tsdia.inference.postprocess`.

Loading (:meth:`Speech2TSDiarization.from_files`, :meth:`~Speech2TSDiarization.from_pretrained`):
the model is rebuilt from ``config.yaml`` by the ESPnet task (config.yaml stores class names),
then its weights are read with ``torch.load(weights_only=True)`` (tensors only, never arbitrary
pickled objects) and loaded strictly (every key must match). ESPnet's own
``build_model_from_file`` is not used: it unpickles with ``weights_only=False`` and ignores
missing keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.frontend.frames import FrameGrid
from espnet2_tsdia.inference.model_files import ModelLoadError, load_model, standard_frontend
from espnet2_tsdia.inference.pack import unpack_model
from espnet2_tsdia.inference.postprocess import (
    PostprocessOptions,
    TargetReadout,
    posteriors_from_logits,
    target_activity,
    target_probability,
    target_readout,
)
from espnet2_tsdia.inference.windows import plan_windows, stitch

PathLike = Union[str, Path]
Progress = Callable[[int, int], None]
logger = logging.getLogger(__name__)

DEFAULT_SCHEME = "powerset"
#: the default post-processing (a module-level instance: a frozen dataclass from another module)
DEFAULT_POSTPROCESS = PostprocessOptions()


# ----------------------------------------------------------------------------- options
@dataclass(frozen=True)
class EvalKnobs:
    """The plan's ``eval_knobs`` (config.yaml), plus the window overlap.

    Args:
        batch_size: (target, window) items per forward pass.
        beam_width: 1 = frame-wise decision; > 1 = beam decoding over class transitions.
        sliding_window: window length in frames for softmax models; None = one pass.
        window_overlap: frames shared by consecutive windows; None = a quarter of the window.
        label_type: the label scheme of the model's outputs; None = the model's own.
        max_duration: cap in seconds on the mixture of one pass (any model); None = no cap.
    """

    batch_size: int = 8
    beam_width: int = 1
    sliding_window: Optional[int] = None
    window_overlap: Optional[int] = None
    label_type: Optional[str] = None
    max_duration: Optional[float] = None

    def __post_init__(self):
        if self.batch_size < 1:
            raise ValueError(f"eval_knobs.batch_size must be >= 1, got {self.batch_size}")
        if self.beam_width < 1:
            raise ValueError(f"eval_knobs.beam_width must be >= 1, got {self.beam_width}")
        if self.sliding_window is not None and self.sliding_window < 1:
            raise ValueError(f"eval_knobs.sliding_window must be >= 1 frame or null, got {self.sliding_window}")
        if self.window_overlap is not None and self.window_overlap < 0:
            raise ValueError(f"eval_knobs.window_overlap must be >= 0 frames or null, got {self.window_overlap}")
        if self.max_duration is not None and not (math.isfinite(self.max_duration) and self.max_duration > 0):
            raise ValueError(f"eval_knobs.max_duration must be > 0 seconds or null, got {self.max_duration}")


_KNOB_FIELDS = tuple(f.name for f in dataclasses.fields(EvalKnobs))
_POST_FIELDS = tuple(f.name for f in dataclasses.fields(PostprocessOptions))
#: every key accepted in ``eval_knobs`` and as an override
OPTION_NAMES = tuple(dict.fromkeys(_KNOB_FIELDS + _POST_FIELDS))


def resolve_options(
    config_knobs: Optional[Mapping[str, Any]],
    overrides: Optional[Mapping[str, Any]] = None,
    *,
    source: str = "eval_knobs",
) -> Tuple[EvalKnobs, PostprocessOptions]:
    """``eval_knobs`` of the train config, with overrides (None values ignored) winning.

    Both take the :class:`EvalKnobs` keys and the :class:`PostprocessOptions` keys
    (``beam_width`` is shared).

    Raises:
        ValueError: an unknown key (named, with the valid ones) or an invalid value.
    """
    merged: Dict[str, Any] = {}
    for where, table in ((source, config_knobs or {}), ("overrides", overrides or {})):
        if not isinstance(table, Mapping):
            raise ValueError(f"{where} must be a mapping, got {type(table).__name__}: {table!r}")
        for key, value in table.items():
            if key not in OPTION_NAMES:
                raise ValueError(f"unknown key {key!r} in {where}; valid: {list(OPTION_NAMES)}")
            if value is not None:  # null in the config = the default; None override = no override
                merged[key] = value
    knobs = EvalKnobs(**{k: merged[k] for k in _KNOB_FIELDS if k in merged})
    post = PostprocessOptions(**{k: merged[k] for k in _POST_FIELDS if k in merged})
    return knobs, post


def resolve_scheme(label_type: Optional[str], trained: Optional[str]) -> str:
    """The label scheme to read the outputs with: ``eval_knobs.label_type`` checked against the
    scheme the model was trained with (``custom`` or None: the trained one; neither known: powerset)."""
    if label_type in (None, "custom"):
        if trained is None:
            if label_type == "custom":
                raise ValueError("eval_knobs.label_type is 'custom' but the config names no label_scheme")
            return DEFAULT_SCHEME
        return trained
    if trained is not None and label_type != trained:
        raise ValueError(
            f"eval_knobs.label_type {label_type!r} differs from the label_scheme {trained!r} the model was trained with"
        )
    return label_type


def quadratic_attention(model: torch.nn.Module) -> bool:
    """True when the model has softmax attention anywhere (its cost grows with T squared)."""
    from espnet2_tsdia.layers.attention import SoftmaxKernel

    return any(isinstance(m, SoftmaxKernel) for m in model.modules())


def _frame_grid(frontend: torch.nn.Module) -> FrameGrid:
    try:
        return FrameGrid(
            fs=int(frontend.fs), hop_length=int(frontend.hop_length), subsampling=int(frontend.subsampling)
        )
    except AttributeError:
        raise ModelLoadError(
            f"the frontend {type(frontend).__name__} does not say its frame grid (fs, hop_length, subsampling); "
            "inference needs a waveform frontend such as TSDiaFbankFrontend"
        ) from None


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True)
class TSDiaResult:
    """What one recording gives.

    Attributes:
        posteriors: speaker -> (T, C) float32 class posteriors.
        target_prob: speaker -> (T,) probability that the speaker talks.
        activity: speaker -> (T,) bool decisions after post-processing.
        turns: RTTM turns of every speaker (sorted by onset).
    """

    posteriors: Dict[str, np.ndarray]
    target_prob: Dict[str, np.ndarray]
    activity: Dict[str, np.ndarray]
    turns: List[Turn]


# ----------------------------------------------------------------------------- main class
class Speech2TSDiarization:
    """Target-speaker diarization with a trained :class:`~espnet2_tsdia.model.TSDiarizationModel`.

    Args:
        model: the trained model (put in eval mode and moved to ``device`` here).
        knobs: evaluation knobs.
        postprocess: post-processing options (``beam_width`` may be set here or in ``knobs``;
            two different values > 1 raise).
        device: torch device.
        frontend: the waveform frontend when the model has none (trained on stored features);
            default the model's own.
        label_scheme: the scheme the model was trained with (config.yaml ``label_scheme``);
            default the model's ``label_scheme``. ``eval_knobs.label_type`` must agree with it
            (``custom`` or null: take it as it is).

    Example::

        s2d = Speech2TSDiarization.from_pretrained("model.zip")
        result = s2d(meeting, reco="meeting", enroll_clips={"alice": alice, "bob": bob})
        write_rttm("meeting.rttm", result.turns)
    """

    def __init__(
        self,
        *,
        model: torch.nn.Module,
        knobs: EvalKnobs = EvalKnobs(),
        postprocess: PostprocessOptions = DEFAULT_POSTPROCESS,
        device: str = "cpu",
        frontend: Optional[torch.nn.Module] = None,
        label_scheme: Optional[str] = None,
    ):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.frontend = frontend if frontend is not None else getattr(model, "frontend", None)
        if self.frontend is None:
            raise ModelLoadError("the model has no frontend and none was given: inference reads waveforms")
        self.frontend = self.frontend.eval().to(self.device)
        self.grid = _frame_grid(self.frontend)
        self.knobs = knobs
        if 1 not in (knobs.beam_width, postprocess.beam_width) and knobs.beam_width != postprocess.beam_width:
            raise ValueError(
                f"beam_width differs between the knobs ({knobs.beam_width}) and the post-processing options "
                f"({postprocess.beam_width})"
            )
        beam = knobs.beam_width if knobs.beam_width != 1 else postprocess.beam_width
        self.postprocess = dataclasses.replace(postprocess, beam_width=beam)

        scheme = resolve_scheme(knobs.label_type, label_scheme or getattr(model, "label_scheme", None))
        self.readout: TargetReadout = target_readout(scheme, int(model.network.num_classes))

        self.quadratic = quadratic_attention(model.network)
        window = knobs.sliding_window if self.quadratic else None
        if knobs.max_duration is not None:
            cap = max(1, int(knobs.max_duration * self.grid.fs) // self.grid.shift)
            window = cap if window is None else min(window, cap)
        overlap = 0
        if window is not None:
            overlap = knobs.window_overlap if knobs.window_overlap is not None else window // 4
            if overlap >= window:
                raise ValueError(
                    f"eval_knobs.window_overlap ({overlap} frames) must be shorter than the window ({window} frames)"
                )
        self.window: Optional[int] = window
        self.overlap: int = overlap
        #: the archive (zip or tag) and its unpacked files, when built by from_pretrained
        self.archive: Optional[PathLike] = None
        self.archive_files: Optional[Dict[str, str]] = None

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_files(
        cls,
        train_config: PathLike,
        model_file: PathLike,
        *,
        device: str = "cpu",
        overrides: Optional[Mapping[str, Any]] = None,
        build_model: Optional[Callable[[argparse.Namespace], torch.nn.Module]] = None,
        frontend_conf: Optional[Mapping[str, Any]] = None,
    ) -> "Speech2TSDiarization":
        """Build from a training's ``config.yaml`` and model file.

        Args:
            train_config / model_file: the training's files.
            device: torch device.
            overrides: eval_knobs / post-processing values that win over the config's
                ``eval_knobs`` (None values are ignored).
            build_model: config namespace -> model; default the ESPnet task's ``build_model``.
            frontend_conf: for a model trained on stored features (``frontend: null``), the
                TSDiaFbankFrontend arguments the features were extracted with (the recipe's
                ``conf/fbank.yaml``); default the config's ``frontend_conf``, else the standard.
                Ignored, with a warning, for a model with its own frontend.
        """
        model, config = load_model(train_config, model_file, device=device, build_model=build_model)
        knobs, post = resolve_options(config.get("eval_knobs"), overrides, source=f"{train_config}: eval_knobs")
        frontend = None
        if getattr(model, "frontend", None) is None:
            frontend = standard_frontend(frontend_conf if frontend_conf is not None else config.get("frontend_conf"))
        elif frontend_conf is not None:
            logger.warning("the model has its own frontend; frontend_conf %s is ignored", dict(frontend_conf))
        return cls(
            model=model,
            knobs=knobs,
            postprocess=post,
            device=device,
            frontend=frontend,
            label_scheme=config.get("label_scheme"),
        )

    @classmethod
    def from_pretrained(
        cls,
        model_tag: PathLike,
        *,
        cachedir: Optional[PathLike] = None,
        device: str = "cpu",
        overrides: Optional[Mapping[str, Any]] = None,
        build_model: Optional[Callable[[argparse.Namespace], torch.nn.Module]] = None,
        frontend_conf: Optional[Mapping[str, Any]] = None,
    ) -> "Speech2TSDiarization":
        """Build from a packed model: a local zip written by ``pack_model`` or a model-zoo tag.

        The archive is checked (no member may leave the unpack folder, valid zip, meta.yaml
        naming a config and a model file) and unpacked with espnet_model_zoo's
        ``ModelDownloader`` into ``cachedir`` (default ``~/.cache/espnet2_tsdia``), in a folder
        keyed by the archive's content hash.
        """
        files = unpack_model(model_tag, cachedir=cachedir)
        return cls.from_unpacked(
            model_tag, files, device=device, overrides=overrides, build_model=build_model, frontend_conf=frontend_conf
        )

    @classmethod
    def from_unpacked(
        cls,
        model_tag: PathLike,
        files: Mapping[str, str],
        *,
        device: str = "cpu",
        overrides: Optional[Mapping[str, Any]] = None,
        build_model: Optional[Callable[[argparse.Namespace], torch.nn.Module]] = None,
        frontend_conf: Optional[Mapping[str, Any]] = None,
    ) -> "Speech2TSDiarization":
        """Build from the files :func:`unpack_model` returned for ``model_tag`` (for a caller that
        has unpacked the archive already, e.g. to read its packed decode options)."""
        s2d = cls.from_files(
            files["train_config"],
            files["model_file"],
            device=device,
            overrides=overrides,
            build_model=build_model,
            frontend_conf=frontend_conf,
        )
        s2d.archive, s2d.archive_files = model_tag, dict(files)
        return s2d

    # ------------------------------------------------------------------ features
    @property
    def fs(self) -> int:
        """Sample rate the waveforms must have."""
        return self.grid.fs

    def num_frames(self, num_samples: int) -> int:
        """Frames of a recording of ``num_samples`` samples (the shared frame count)."""
        return self.grid.num_frames(num_samples)

    @torch.no_grad()
    def features(self, waveform: np.ndarray, *, feats_mean: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(L,) waveform at :attr:`fs` -> (T, F) normalised features: mean normalisation with the
        waveform's own mean, or with ``feats_mean`` ((n_mels,), :meth:`recording_mean` of another
        recording)."""
        x = torch.as_tensor(np.asarray(waveform, dtype=np.float32), device=self.device)
        if x.dim() != 1:
            raise ValueError(f"expected a 1-D waveform, got shape {tuple(x.shape)}")
        lens = torch.tensor([x.numel()], device=self.device)
        kwargs = {} if feats_mean is None else {"feats_mean": feats_mean[None]}
        feats, flens = self.frontend(x[None], lens, **kwargs)
        if int(flens[0]) == 0:  # shorter than one frame: nothing to normalise
            return feats.new_zeros(0, self.frontend.output_size())
        normalize = getattr(self.model, "normalize", None)
        if normalize is not None:
            feats, flens = normalize(feats, flens)
        t = int(flens[0])
        if t != self.num_frames(x.numel()):
            raise RuntimeError(
                f"the frontend gave {t} frames for {x.numel()} samples, the frame grid says {self.num_frames(x.numel())}"
            )
        return feats[0, :t]

    @torch.no_grad()
    def recording_mean(self, speech: np.ndarray) -> Optional[torch.Tensor]:
        """The (n_mels,) mean the frontend subtracts for the whole recording ``speech``; None
        for a frontend without mean normalisation. An enrollment clip is normalised with it, as
        a training enrollment is with the mean of the mixture it was cut from: the clip's own
        mean would subtract the very spectral envelope that tells its speaker apart."""
        if not getattr(self.frontend, "mean_norm", False):
            return None
        return self.frontend.recording_mean(torch.as_tensor(np.asarray(speech, dtype=np.float32), device=self.device))

    # ------------------------------------------------------------------ posteriors
    def plan(self, num_frames: int) -> List[Tuple[int, int]]:
        """The windows a recording of ``num_frames`` frames is run in."""
        return plan_windows(num_frames, self.window, self.overlap)

    @torch.no_grad()
    def posteriors_from_features(
        self,
        feats: torch.Tensor,
        enrolls: Mapping[str, torch.Tensor],
        *,
        progress: Optional[Progress] = None,
    ) -> Dict[str, np.ndarray]:
        """(T, F) recording features and speaker -> (E, F) enrollment features -> speaker -> (T, C)
        posteriors.

        ``progress(done, total)`` is called after every batch (items = targets x windows).
        """
        num_frames = feats.size(0)
        spans = self.plan(num_frames)
        speakers = list(enrolls)
        for spk, e in enrolls.items():
            if e.dim() != 2 or e.size(0) < 1:
                raise ValueError(f"enrollment of {spk!r} must have shape (E >= 1, F), got {tuple(e.shape)}")
        items = [(s, w) for s in range(len(speakers)) for w in range(len(spans))]
        chunks: Dict[Tuple[int, int], np.ndarray] = {}
        bs = self.knobs.batch_size
        for i in range(0, len(items), bs):
            batch = items[i : i + bs]
            x, x_lens = _pad([feats[spans[w][0] : spans[w][1]] for _, w in batch])
            e, e_lens = _pad([enrolls[speakers[s]] for s, _ in batch])
            logits, _ = self.model.network(x, x_lens.to(self.device), e, e_lens.to(self.device))
            post = posteriors_from_logits(logits, self.readout).cpu().numpy()
            for k, item in enumerate(batch):
                chunks[item] = post[k, : int(x_lens[k])]
            if progress is not None:
                progress(min(i + bs, len(items)), len(items))
        out: Dict[str, np.ndarray] = {}
        for s, spk in enumerate(speakers):
            out[spk] = stitch([chunks[(s, w)] for w in range(len(spans))], spans, num_frames).reshape(
                num_frames, self.readout.num_classes
            )
        return out

    def enrollment_features(
        self,
        feats: torch.Tensor,
        enroll_clips: Mapping[str, np.ndarray],
        enroll_regions: Mapping[str, Tuple[int, int]],
        *,
        speech: Optional[np.ndarray] = None,
    ) -> Dict[str, torch.Tensor]:
        """speaker -> (E, F) enrollment features: rows ``[start, end)`` of the recording's
        ``feats`` for a region, the frontend's features of the waveform for a clip (normalised
        with the mean of the recording ``speech`` when given)."""
        out: Dict[str, torch.Tensor] = {}
        both = set(enroll_clips) & set(enroll_regions)
        if both:
            raise ValueError(f"speakers with both a clip and a region: {sorted(both)}")
        for spk, (a, b) in enroll_regions.items():
            if not 0 <= a < b <= feats.size(0):
                raise ValueError(f"enrollment region [{a}, {b}) of {spk!r} is outside the {feats.size(0)} frames")
            out[spk] = feats[a:b]
        mean = self.recording_mean(speech) if enroll_clips and speech is not None else None
        for spk, clip in enroll_clips.items():
            e = self.features(clip, feats_mean=mean)
            if e.size(0) == 0:
                raise ValueError(
                    f"the enrollment clip of {spk!r} ({len(clip)} samples) is shorter than one frame "
                    f"({self.grid.shift} samples)"
                )
            out[spk] = e
        return {k: out[k] for k in sorted(out)}

    def __call__(
        self,
        speech: np.ndarray,
        *,
        reco: str,
        enroll_clips: Optional[Mapping[str, np.ndarray]] = None,
        enroll_regions: Optional[Mapping[str, Tuple[int, int]]] = None,
        progress: Optional[Progress] = None,
    ) -> TSDiaResult:
        """Diarize one recording for the given targets.

        Args:
            speech: (L,) float waveform at :attr:`fs`.
            reco: recording id for the turns.
            enroll_clips: speaker -> (L_e,) enrollment waveform at :attr:`fs`.
            enroll_regions: speaker -> ``(start, end)`` frames of this recording (oracle).
            progress: called as ``progress(done, total)`` after every batch.
        """
        feats = self.features(speech)
        enrolls = self.enrollment_features(feats, enroll_clips or {}, enroll_regions or {}, speech=speech)
        if not enrolls:
            raise ValueError(f"recording {reco!r}: no target speaker (no enrollment clip or region given)")
        post = self.posteriors_from_features(feats, enrolls, progress=progress)
        return self.decide(post, reco=reco)

    # ------------------------------------------------------------------ decisions
    def decide(self, posteriors: Mapping[str, np.ndarray], *, reco: str) -> TSDiaResult:
        """Posteriors per speaker -> activity and turns (post-processing options of this object)."""
        from espnet2_tsdia.formats.rttm import sort_turns
        from espnet2_tsdia.labels.activity import activity_to_turns

        frame_rate = 1.0 / self.grid.shift_seconds
        prob, active, turns = {}, {}, []
        for spk, p in posteriors.items():
            prob[spk] = target_probability(p, self.readout).astype(np.float32)
            active[spk] = target_activity(p, self.readout, self.postprocess, frame_rate=frame_rate)
            turns.extend(activity_to_turns(active[spk], reco=reco, speaker=spk, grid=self.grid))
        return TSDiaResult(posteriors=dict(posteriors), target_prob=prob, activity=active, turns=sort_turns(turns))


def _pad(seqs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """(L_i, F) tensors -> (B, max L, F) zero-padded and (B,) lengths (on CPU)."""
    lens = torch.tensor([s.size(0) for s in seqs], dtype=torch.long)
    if bool((lens == lens[0]).all()):
        return torch.stack(list(seqs)), lens
    out = seqs[0].new_zeros(len(seqs), int(lens.max()), seqs[0].size(1))
    for i, s in enumerate(seqs):
        out[i, : s.size(0)] = s
    return out, lens
