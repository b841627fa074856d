"""Batching for TS-DIA: pad with lengths, and refuse feature/label frame mismatches.

ESPnet's ``CommonCollateFn`` pads and adds ``<name>_lengths`` too, but importing it pulls in
ESPnet's text preprocessors (seconds of import time), and it cannot check that the labels have
as many frames as the speech will give. This one does both:

- float arrays are padded with ``float_pad_value`` (0.0), integer arrays with ``int_pad_value``
  (-1, the ignore index of the losses), along the first axis; ``<name>_lengths`` (int64) holds
  each item's first-axis length;
- names in ``not_sequence`` (``speech_mean``, ``enroll_mean``: fixed-size vectors) are stacked
  without lengths;
- with ``labels`` and ``speech`` in a batch, each item's label frames must equal
  ``num_frames(samples)`` for a waveform (1-D) or the feature rows (2-D); otherwise ValueError
  naming the item.
"""

from __future__ import annotations

from typing import Collection, Dict, List, Sequence, Tuple

import numpy as np
import torch

from espnet2_tsdia.frontend.frames import num_frames

NOT_SEQUENCE = ("speech_mean", "enroll_mean")


def pad_arrays(arrays: Sequence[np.ndarray], pad_value) -> torch.Tensor:
    """(B items of (L_i, ...)) -> (B, max L_i, ...) tensor padded with ``pad_value``."""
    tensors = [torch.as_tensor(np.ascontiguousarray(a)) for a in arrays]
    tail = tensors[0].shape[1:]
    for t in tensors:
        if t.shape[1:] != tail:
            raise ValueError(f"items differ in trailing shape: {tuple(t.shape)} vs (L, {', '.join(map(str, tail))})")
    longest = max(t.shape[0] for t in tensors)
    out = tensors[0].new_full((len(tensors), longest, *tail), pad_value)
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t
    return out


class TSDiaCollateFn:
    """Collate ``[(key, {name: array})]`` into ``(keys, {name: tensor, name_lengths: tensor})``.

    Args:
        float_pad_value: padding of float arrays.
        int_pad_value: padding of integer arrays (labels: -1).
        not_sequence: names stacked as they are, without ``_lengths``.
        hop_length, subsampling: the frame grid, to check labels against waveforms.
        check_lengths: compare label frames with speech frames (see the module doc).
    """

    def __init__(
        self,
        *,
        float_pad_value: float = 0.0,
        int_pad_value: int = -1,
        not_sequence: Collection[str] = NOT_SEQUENCE,
        hop_length: int = 80,
        subsampling: int = 10,
        check_lengths: bool = True,
    ):
        self.float_pad_value = float_pad_value
        self.int_pad_value = int_pad_value
        self.not_sequence = set(not_sequence)
        self.hop_length = hop_length
        self.subsampling = subsampling
        self.check_lengths = check_lengths

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(float_pad_value={self.float_pad_value}, int_pad_value={self.int_pad_value}, "
            f"not_sequence={sorted(self.not_sequence)}, hop_length={self.hop_length}, subsampling={self.subsampling})"
        )

    def expected_frames(self, speech: np.ndarray) -> int:
        if speech.ndim == 1:
            return num_frames(speech.shape[0], hop_length=self.hop_length, subsampling=self.subsampling)
        return speech.shape[0]

    def __call__(
        self, data: Collection[Tuple[str, Dict[str, np.ndarray]]]
    ) -> Tuple[List[str], Dict[str, torch.Tensor]]:
        keys = [k for k, _ in data]
        items = [d for _, d in data]
        if not items:
            raise ValueError("empty batch")
        names = list(items[0])
        for k, d in zip(keys, items, strict=True):
            if set(d) != set(names):
                raise ValueError(f"item {k!r} has data {sorted(d)}, the first item {sorted(names)}")
        for name in names:
            if name.endswith("_lengths"):
                raise ValueError(f"data name {name!r}: names ending in '_lengths' are reserved")
        if self.check_lengths and "labels" in names and "speech" in names:
            for k, d in zip(keys, items, strict=True):
                want = self.expected_frames(d["speech"])
                if d["labels"].shape[0] != want:
                    what = (
                        f"{d['speech'].shape[0]} samples"
                        if d["speech"].ndim == 1
                        else f"{d['speech'].shape[0]} feature frames"
                    )
                    raise ValueError(
                        f"item {k!r}: labels have {d['labels'].shape[0]} frames, the speech ({what}) gives {want}; "
                        "frames are never trimmed"
                    )
        out: Dict[str, torch.Tensor] = {}
        for name in names:
            arrays = [d[name] for d in items]
            if name in self.not_sequence:
                out[name] = torch.as_tensor(np.stack(arrays))
                continue
            integer = np.issubdtype(arrays[0].dtype, np.integer)
            out[name] = pad_arrays(arrays, self.int_pad_value if integer else self.float_pad_value)
            out[f"{name}_lengths"] = torch.tensor([a.shape[0] for a in arrays], dtype=torch.long)
        return keys, out
