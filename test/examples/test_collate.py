"""Collate: padding values, lengths, fixed-size names, and the frame-count check."""

import numpy as np
import pytest
import torch

from espnet2_tsdia.examples.collate import TSDiaCollateFn, pad_arrays


def item(n_samples, n_labels, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "speech": rng.standard_normal(n_samples).astype(np.float32),
        "labels": rng.integers(0, 4, n_labels).astype(np.int64),
        "speech_mean": np.full(23, seed, np.float32),
    }


def test_pads_with_lengths_and_stacks_means():
    keys, batch = TSDiaCollateFn()([("a", item(1600, 2, 1)), ("b", item(2400, 3, 2))])
    assert keys == ["a", "b"]
    assert batch["speech"].shape == (2, 2400) and batch["speech"][0, 1600:].eq(0).all()
    assert batch["speech_lengths"].tolist() == [1600, 2400]
    assert batch["labels"].dtype == torch.int64 and batch["labels"][0, 2].item() == -1
    assert batch["labels_lengths"].tolist() == [2, 3]
    assert batch["speech_mean"].shape == (2, 23) and "speech_mean_lengths" not in batch
    assert batch["speech_mean"][1, 0].item() == 2


def test_features_and_multi_hot_labels():
    data = [
        ("a", {"speech": np.ones((4, 345), np.float32), "labels": np.ones((4, 3), np.float32)}),
        ("b", {"speech": np.ones((6, 345), np.float32), "labels": np.ones((6, 3), np.float32)}),
    ]
    _, batch = TSDiaCollateFn()(data)
    assert batch["speech"].shape == (2, 6, 345) and batch["labels"].shape == (2, 6, 3)
    assert batch["labels"][0, 4:].eq(0).all() and batch["labels_lengths"].tolist() == [4, 6]


def test_frame_mismatch_raises_instead_of_trimming():
    with pytest.raises(ValueError, match=r"item 'b': labels have 3 frames, the speech \(2399 samples\) gives 2"):
        TSDiaCollateFn()([("a", item(1600, 2)), ("b", item(2399, 3))])
    bad = {"speech": np.ones((5, 345), np.float32), "labels": np.zeros(4, np.int64)}
    with pytest.raises(ValueError, match=r"labels have 4 frames, the speech \(5 feature frames\) gives 5"):
        TSDiaCollateFn()([("x", bad)])
    _, batch = TSDiaCollateFn(check_lengths=False)([("x", bad)])
    assert batch["labels_lengths"].tolist() == [4]


def test_other_grid_and_errors():
    _, batch = TSDiaCollateFn(hop_length=160, subsampling=5)([("a", item(1600, 2))])
    assert batch["labels_lengths"].tolist() == [2]
    with pytest.raises(ValueError, match="item 'b' has data"):
        TSDiaCollateFn()([("a", item(800, 1)), ("b", {"speech": np.zeros(800, np.float32)})])
    with pytest.raises(ValueError, match="names ending in '_lengths' are reserved"):
        TSDiaCollateFn()([("a", {"x_lengths": np.zeros(2, np.int64)})])
    with pytest.raises(ValueError, match="items differ in trailing shape"):
        pad_arrays([np.zeros((2, 3)), np.zeros((2, 4))], 0.0)
