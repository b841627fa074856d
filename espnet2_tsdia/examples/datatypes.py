"""ESPnet data types of TS-DIA: audio, features, labels, means and enrollment per example/chunk.

Register them with :func:`register_data_types` (idempotent) before ESPnet builds its datasets;
then name an example list (``<example dir>/chunks`` or ``<example dir>/examples``, see
:mod:`espnet2_tsdia.examples.example_dir`) as the path of every data name, e.g. for training on chunks::

    --train_data_path_and_name_and_type dump/train/tsdia/chunks,speech,tsdia_feats
    --train_data_path_and_name_and_type dump/train/tsdia/chunks,enroll,tsdia_enroll_feats
    --train_data_path_and_name_and_type dump/train/tsdia/chunks,labels,tsdia_labels
    --valid_data_path_and_name_and_type dump/dev/tsdia/examples,enroll,tsdia_enroll_feats_fixed

Every loader is a Mapping from the list's keys to one numpy array; all of them read the list and
``tsdia.json`` of its dir, so the keys always agree. Types (names start with ``tsdia_``, which no
stock ESPnet type prefixes; ESPnet matches types with ``re.match`` in insertion order):

=============================  ================================================================
``tsdia_audio``                float32 waveform of the span, ``(stop-start) * shift`` samples at
                               the grid's fs (wav.scp or the simulator's mixtures, whichever the
                               example dir was made from); only the span is read from files
``tsdia_mixture``              the same, but the example dir must use a mixture spec; or, given a
                               mixture spec scp itself, the whole rendered mixture per recording
``tsdia_wav``                  a plain wav.scp: whole recordings at 8 kHz, first channel
``tsdia_feats``                float32 (stop-start, 345) rows of ``feats.scp`` (extract_feats.py)
``tsdia_labels``               labels of the span: int64 (T,) class ids (single-label schemes) or
                               float32 (T, C) multi-hot (multi-label schemes)
``tsdia_mean``                 float32 (n_mels,) log-mel mean of the span's recording (``mean.scp``):
                               the ``speech_mean`` for on-the-fly features of chunks
``tsdia_enroll[_feats|_mean]`` an enrollment region of the target speaker (training: a new random
``[_fixed]``                   draw on every load; ``_fixed``: one choice per example id, for
                               validation/test): waveform, features (rows of feats.scp), or the
                               (n_mels,) mean of the recording it came from (``enroll_mean``)
=============================  ================================================================

A training draw is a function of (list key, ``enroll_options.seed``, data epoch) only: the
training iterator (:class:`espnet2_tsdia.train.iterators.TSDiaIterFactory`) loads every example
inside :func:`enrollment_epoch`, so one process, DDP ranks and DataLoader workers draw the same
enrollments, a run resumed mid-epoch draws what an uninterrupted one would, and
``tsdia_enroll`` and ``tsdia_enroll_mean`` on the same list draw the same region. Outside that
block (ESPnet's collect_stats, direct use) the loaders draw for epoch 0.

The two feature paths (both normalise with the mean of the whole recording, docs/preprocessing.md):

(a) stored features, exact and simplest (after ``extract_feats``): ``speech`` = ``tsdia_feats``,
    ``enroll`` = ``tsdia_enroll_feats`` (``_fixed`` for validation), ``labels`` =
    ``tsdia_labels``; the model has no frontend (input size 345).
(b) waveforms with the frontend in the model: ``speech`` = ``tsdia_audio``, ``speech_mean`` =
    ``tsdia_mean``, ``enroll`` = ``tsdia_enroll``, ``enroll_mean`` = ``tsdia_enroll_mean`` (both
    ``_fixed`` for validation), ``labels`` = ``tsdia_labels``; the model calls
    ``frontend(speech, speech_lengths, feats_mean=speech_mean)`` and
    ``frontend(enroll, enroll_lengths, feats_mean=enroll_mean)`` (``mean.scp`` comes from
    ``extract_feats --mean_only``). Chunk features
    equal the stored ones except the first and last frame of each chunk, whose outer splice
    context is reflected instead of read from the neighbouring audio.

Batch with :class:`espnet2_tsdia.examples.collate.TSDiaCollateFn` (means are stacked, not padded).

Lengths are never trimmed: a stored feature or label array whose length differs from the frames
of its recording raises ValueError naming the file and the key.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from espnet2_tsdia.examples.enrollment import Region, example_rng, parse_enroll_spec, select_enrollment
from espnet2_tsdia.examples.example_dir import ExampleSpan, load_meta, read_example_list, resolve
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import iter_lines

logger = logging.getLogger(__name__)

#: The data epoch that training enrollment loaders draw for (see :func:`enrollment_epoch`).
_DRAW_EPOCH: ContextVar[int] = ContextVar("tsdia_enrollment_epoch", default=0)


@contextmanager
def enrollment_epoch(epoch: int) -> Iterator[None]:
    """Inside this block, training (not ``_fixed``) enrollment loaders draw for data epoch
    ``epoch``: the region of a list key then depends on (key, seed, epoch) only."""
    token = _DRAW_EPOCH.set(epoch)
    try:
        yield
    finally:
        _DRAW_EPOCH.reset(token)


# ----------------------------------------------------------------------------- sources
class _MixtureSource:
    """The simulator's renderer as a region source (keeps the last rendered recording)."""

    def __init__(self, path: str, *, fs: int):
        from espnet2_tsdia.simulate.render import MixtureReader  # lazy: optional at import time

        self.path = path
        self.reader = MixtureReader(path, fs=fs)
        self._last: Tuple[Optional[str], Optional[np.ndarray]] = (None, None)

    def full(self, reco: str) -> np.ndarray:
        if self._last[0] != reco:
            self._last = (reco, np.asarray(self.reader[reco], dtype=np.float32))
        return self._last[1]

    def region(self, reco: str, start: int, end: Optional[int]) -> np.ndarray:
        x = self.full(reco)
        end = len(x) if end is None else end
        if not 0 <= start <= end <= len(x):
            raise ValueError(f"{self.path}: region [{start}, {end}) outside mixture {reco!r} of {len(x)} samples")
        return x[start:end].copy()  # never hand out a view of the cached recording


class ExampleDirView:
    """What the loaders of one example list share: the spans, ``tsdia.json`` and lazily opened
    indexes (labels, features, means, enrollment specs, audio)."""

    def __init__(self, list_path: str):
        self.list_path = Path(list_path)
        self.dir = self.list_path.parent
        self.meta = load_meta(self.dir)
        self.spans: "OrderedDict[str, ExampleSpan]" = read_example_list(self.list_path)
        self.grid = self.meta.frame_grid
        self._cache: Dict[str, object] = {}

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def file(self, name: str) -> Path:
        return resolve(self.dir, self.meta.files[name])

    def _once(self, name: str, build):
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    def span(self, key: str) -> ExampleSpan:
        try:
            return self.spans[key]
        except KeyError:
            raise KeyError(f"{self.list_path}: no key {key!r}") from None

    def ark_index(self, name: str) -> Dict[str, str]:
        from espnet2_tsdia.frontend.storage import read_ark_scp

        def build():
            path = self.file(name)
            if not path.is_file():
                hint = " (run espnet2_tsdia.bin.extract_feats)" if name in ("feats", "mean") else ""
                raise FileNotFoundError(f"{path}: missing{hint}")
            return read_ark_scp(path)

        return self._once(f"ark:{name}", build)

    def lookup(self, name: str, key: str) -> str:
        index = self.ark_index(name)
        if key not in index:
            raise KeyError(f"{self.file(name)}: no entry {key!r}")
        return index[key]

    def reco_frames(self, reco: str) -> int:
        def build():
            out = {}
            path = self.file("reco2num_samples")
            for n, line in iter_lines(path):
                f = line.split()
                if len(f) != 2 or not f[1].isdigit():
                    raise DataFormatError(path, n, f"expected '<reco> <samples>', got {line!r}")
                out[f[0]] = self.grid.num_frames(int(f[1]))
            return out

        frames = self._once("frames", build)
        if reco not in frames:
            raise KeyError(f"{self.file('reco2num_samples')}: no recording {reco!r}")
        return frames[reco]

    def enroll_regions(self, eid: str) -> List[Region]:
        def build():
            out = {}
            path = self.file("enroll")
            for n, line in iter_lines(path):
                key, _, spec = line.strip().partition(" ")
                try:
                    out[key] = parse_enroll_spec(spec)
                except ValueError as e:
                    raise DataFormatError(path, n, str(e)) from None
            return out

        specs = self._once("enroll", build)
        if eid not in specs:
            raise KeyError(f"{self.file('enroll')}: no enrollment spec for example {eid!r}")
        return specs[eid]

    def audio(self, *, mixture: Optional[bool] = None):
        """The audio source: a WavScpReader or the mixture renderer (``mixture=True`` requires it)."""
        meta = self.meta
        use_mixture = meta.mixture_scp is not None
        if mixture is True and not use_mixture:
            raise ValueError(
                f"{self.dir / 'tsdia.json'}: type tsdia_mixture needs an example dir made from a mixture spec"
            )

        def build():
            if use_mixture:
                return _MixtureSource(str(resolve(self.dir, meta.mixture_scp)), fs=self.grid.fs)
            from espnet2_tsdia.audio.reader import WavScpReader

            return WavScpReader(resolve(self.dir, meta.wav_scp), fs=self.grid.fs, channel=meta.channel)

        return self._once("audio", build)

    def audio_region(self, reco: str, start: int, stop: int, *, mixture: Optional[bool] = None) -> np.ndarray:
        s = self.grid.shift
        return self.audio(mixture=mixture).region(reco, start * s, stop * s)

    def feats_rows(self, reco: str, start: int, stop: int) -> np.ndarray:
        from espnet2_tsdia.frontend.storage import matrix_shape, read_rows

        spec = self.lookup("feats", reco)
        want = self.reco_frames(reco)
        shape = matrix_shape(spec)
        if shape is not None and shape[0] != want:
            raise ValueError(
                f"{self.file('feats')}: features of {reco!r} have {shape[0]} frames, the recording has {want} "
                "(features extracted with another frame grid or from other audio?)"
            )
        return read_rows(spec, start, stop)

    def mean(self, reco: str) -> np.ndarray:
        from espnet2_tsdia.frontend.storage import read_array

        return np.array(read_array(self.lookup("mean", reco)), dtype=np.float32)  # a writable copy


@lru_cache(maxsize=64)
def _view(list_path: str, list_mtime: int, meta_mtime: int) -> ExampleDirView:
    return ExampleDirView(list_path)


def open_view(list_path: str) -> ExampleDirView:
    """The shared (per process, per list file) view on an example list; a rewritten list or
    ``tsdia.json`` gives a fresh view."""
    path = Path(list_path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"{list_path}: no such example list")
    meta = path.parent / "tsdia.json"
    return _view(str(path), path.stat().st_mtime_ns, meta.stat().st_mtime_ns if meta.is_file() else 0)


# ----------------------------------------------------------------------------- loaders
class _SpanLoader(Mapping):
    """Base: a Mapping over the keys of one example list."""

    def __init__(self, list_path: str):
        self.list_path = str(list_path)
        self.view = open_view(self.list_path)

    def __iter__(self) -> Iterator[str]:
        return iter(self.view.spans)

    def __len__(self) -> int:
        return len(self.view.spans)

    def __contains__(self, key) -> bool:
        return key in self.view.spans

    def __getitem__(self, key: str) -> np.ndarray:
        return self.load(self.view.span(key))

    def load(self, span: ExampleSpan) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class AudioLoader(_SpanLoader):
    """``tsdia_audio`` / ``tsdia_mixture``: the span's waveform, float32 (frames * shift,)."""

    def __init__(self, list_path: str, *, mixture: Optional[bool] = None):
        super().__init__(list_path)
        self.mixture = mixture
        self.view.audio(mixture=mixture)  # fail early on a wrong source

    def load(self, span: ExampleSpan) -> np.ndarray:
        return self.view.audio_region(span.reco, span.start, span.stop, mixture=self.mixture)


class FeatsLoader(_SpanLoader):
    """``tsdia_feats``: rows ``[start, stop)`` of the recording's stored features."""

    def __init__(self, list_path: str):
        super().__init__(list_path)
        self.view.ark_index("feats")

    def load(self, span: ExampleSpan) -> np.ndarray:
        return self.view.feats_rows(span.reco, span.start, span.stop)


class LabelsLoader(_SpanLoader):
    """``tsdia_labels``: int64 (T,) or float32 (T, C) labels of the span."""

    def __init__(self, list_path: str):
        super().__init__(list_path)
        self.view.ark_index("labels")

    def load(self, span: ExampleSpan) -> np.ndarray:
        from espnet2_tsdia.frontend.storage import read_array

        labels = read_array(self.view.lookup("labels", span.example_id))
        want = self.view.reco_frames(span.reco)
        if labels.shape[0] != want:
            raise ValueError(
                f"{self.view.file('labels')}: labels of {span.example_id!r} have {labels.shape[0]} frames, "
                f"the recording has {want}"
            )
        labels = labels[span.start : span.stop]
        return labels.astype(np.float32) if self.view.meta.multi_label else labels.astype(np.int64)


class MeanLoader(_SpanLoader):
    """``tsdia_mean``: the (n_mels,) log-mel mean of the span's recording."""

    def load(self, span: ExampleSpan) -> np.ndarray:
        return self.view.mean(span.reco)


ENROLL_WHAT = ("wav", "feats", "mean")


class EnrollLoader(_SpanLoader):
    """``tsdia_enroll[_feats|_mean][_fixed]``: an enrollment of the span's target speaker.

    Args:
        list_path: the example list.
        what: ``wav`` (float32 samples), ``feats`` (float32 (L, D) rows of feats.scp) or ``mean``
            (the (n_mels,) mean of the recording the enrollment comes from).
        fixed: one deterministic choice per example id (validation/test); else a draw per list
            key and data epoch (training, :func:`enrollment_epoch`).
    """

    def __init__(self, list_path: str, *, what: str = "wav", fixed: bool = False):
        super().__init__(list_path)
        if what not in ENROLL_WHAT:
            raise ValueError(f"what must be one of {ENROLL_WHAT}, got {what!r}")
        self.what = what
        self.fixed = fixed
        self.options = self.view.meta.enroll_options

    def choose(self, span: ExampleSpan) -> Region:
        """The enrollment region (reco, start frame, stop frame) for this load."""
        regions = self.view.enroll_regions(span.example_id)
        if self.fixed:
            rng = example_rng(span.example_id, seed=self.options.seed)
        else:
            rng = example_rng(span.key, seed=self.options.seed, draw=_DRAW_EPOCH.get())
        return select_enrollment(regions, own_reco=span.reco, options=self.options, rng=rng)

    def load(self, span: ExampleSpan) -> np.ndarray:
        reco, a, b = self.choose(span)
        if self.what == "wav":
            return self.view.audio_region(reco, a, b)
        if self.what == "feats":
            return self.view.feats_rows(reco, a, b)
        return self.view.mean(reco)


# ----------------------------------------------------------------------------- ESPnet glue
_ENROLL_TYPE = re.compile(r"^tsdia_enroll(?:_(feats|mean|wav))?(_fixed)?$")


def _load_audio(path: str) -> AudioLoader:
    return AudioLoader(path)


def _load_mixture(path: str):
    if (Path(path).parent / "tsdia.json").is_file() and path_is_list(path):
        return AudioLoader(path, mixture=True)
    from espnet2_tsdia.simulate.render import MixtureReader  # lazy

    return MixtureReader(str(path), fs=8000)


def path_is_list(path: str) -> bool:
    """True when ``path`` is an example list (5 fields on its first line)."""
    for _, line in iter_lines(path):
        return len(line.split()) == 5
    return False


def _load_wav(path: str):
    from espnet2_tsdia.audio.reader import WavScpReader

    return WavScpReader(path)


def _load_enroll(path: str, loader_type: str = "tsdia_enroll") -> EnrollLoader:
    m = _ENROLL_TYPE.match(loader_type)
    if m is None:
        raise ValueError(f"unknown enrollment type {loader_type!r}; expected tsdia_enroll[_feats|_mean][_fixed]")
    return EnrollLoader(path, what=m.group(1) or "wav", fixed=bool(m.group(2)))


#: name -> ESPnet DATA_TYPES entry (``func(path, **kwargs)``, kwargs from ESPnet's list, help).
TSDIA_DATA_TYPES: Dict[str, dict] = {
    "tsdia_audio": dict(
        func=_load_audio, kwargs=[], help="TS-DIA example list -> waveform of each span (8 kHz float32)"
    ),
    "tsdia_mixture": dict(
        func=_load_mixture,
        kwargs=[],
        help="TS-DIA example list of simulated mixtures (or a mixture spec scp) -> waveform",
    ),
    "tsdia_wav": dict(func=_load_wav, kwargs=[], help="wav.scp (paths or pipes) -> whole waveforms resampled to 8 kHz"),
    "tsdia_feats": dict(
        func=FeatsLoader, kwargs=[], help="TS-DIA example list -> stored (T, 345) features of each span"
    ),
    "tsdia_labels": dict(func=LabelsLoader, kwargs=[], help="TS-DIA example list -> frame labels of each span"),
    "tsdia_mean": dict(
        func=MeanLoader, kwargs=[], help="TS-DIA example list -> (23,) log-mel mean of each span's recording"
    ),
    "tsdia_enroll": dict(
        func=_load_enroll,
        kwargs=["loader_type"],
        help="TS-DIA example list -> enrollment: tsdia_enroll[_feats|_mean][_fixed] (waveform, features or its "
        "recording's mean; random draw, or _fixed per example id)",
    ),
}


def register_data_types(data_types: Optional[dict] = None) -> dict:
    """Insert the ``tsdia_*`` types into ESPnet's ``DATA_TYPES`` (or ``data_types``); idempotent.

    Raises:
        RuntimeError: an existing key that is not ours would capture one of our type names
            through ESPnet's prefix matching.
    """
    if data_types is None:
        from espnet2.train.dataset import DATA_TYPES as data_types
    examples = list(TSDIA_DATA_TYPES) + ["tsdia_enroll_feats_fixed", "tsdia_enroll_mean"]
    for key in data_types:
        if key in TSDIA_DATA_TYPES:
            continue
        caught = [name for name in examples if re.match(key, name)]
        if caught:
            raise RuntimeError(f"ESPnet data type {key!r} would capture {caught}: rename the tsdia types")
    for key, entry in TSDIA_DATA_TYPES.items():
        data_types[key] = entry
    return data_types
