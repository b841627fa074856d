"""The speaker-embedding model of the first pass: building, loading, embedding, packing."""

import argparse

import numpy as np
import pytest
import torch

from espnet2_tsdia.inference.model_files import ModelLoadError, speaker_model_dir_files
from espnet2_tsdia.inference.spk_model import (
    SpeakerEmbedder,
    build_speaker_model,
    load_speaker_embedder,
    speaker_files,
)
from test.inference.spk_helpers import SPK_CONFIG, write_spk_dir


def test_the_light_builder_builds_what_the_espnet_task_builds():
    from espnet2.tasks.spk import SpeakerTask

    ours = build_speaker_model(SPK_CONFIG)
    theirs = SpeakerTask.build_model(argparse.Namespace(**SPK_CONFIG))
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    # a class the light builder does not know goes through the task
    other = dict(SPK_CONFIG, specaug="specaug", specaug_conf={"apply_time_warp": False, "apply_time_mask": False})
    assert type(build_speaker_model(other).specaug).__name__ == "SpecAug"


def test_embeddings_are_unit_length_batched_equals_one_by_one(tmp_path):
    emb = load_speaker_embedder(write_spk_dir(tmp_path / "spk"))
    assert emb.fs == 8000
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(n).astype(np.float32) for n in (8000, 12000, 8000, 2000)]
    together = emb(waves)
    assert together.shape == (4, 6)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    alone = np.concatenate([emb([w]) for w in waves])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    # a waveform at another rate is resampled to the model's
    up = emb([np.repeat(waves[0], 2)], fs=16000)
    assert up.shape == (1, 6)
    with pytest.raises(ValueError, match=r"waveform 0: expected a non-empty 1-D array, got shape \(0,\)"):
        emb([np.zeros(0, np.float32)])


def test_loading_is_strict_and_names_the_files(tmp_path):
    d = write_spk_dir(tmp_path / "spk")
    state = torch.load(d / "valid.eer.best.pth", weights_only=True)
    state.pop(next(iter(state)))
    torch.save(state, d / "bad.pth")
    with pytest.raises(ModelLoadError, match="bad.pth: the weights do not fit the speaker model"):
        SpeakerEmbedder.from_files(d / "config.yaml", d / "bad.pth")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="empty: no config.yaml"):
        speaker_model_dir_files(tmp_path / "empty")
    (d / "valid.eer.best.pth").rename(d / "model.pth")
    with pytest.raises(ModelLoadError, match=r"no speaker model file \(looked for valid.eer.best.pth"):
        speaker_files(d)


def test_packed_with_the_tsdia_model_and_found_again(tmp_path):
    import yaml

    from espnet2_tsdia.inference.pack import pack_model, unpack_model

    spk = write_spk_dir(tmp_path / "spk")
    d = tmp_path / "train"
    d.mkdir()
    (d / "config.yaml").write_text(yaml.safe_dump({"encoder": "x", "normalize": None}))
    torch.save({"w": torch.zeros(2)}, d / "model.pth")
    zipped = pack_model(
        train_config=d / "config.yaml", model_file=d / "model.pth", outpath=tmp_path / "m.zip", spk_model=spk
    )
    files = unpack_model(zipped, cachedir=tmp_path / "cache")
    assert sorted(files) == ["model_file", "spk_model_file", "spk_train_config", "train_config"]
    config, model = speaker_files(zipped, cachedir=tmp_path / "cache")
    assert (config, model) == (files["spk_train_config"], files["spk_model_file"])
    a = load_speaker_embedder(zipped, cachedir=tmp_path / "cache")
    b = load_speaker_embedder(spk)
    x = [np.random.default_rng(1).standard_normal(8000).astype(np.float32)]
    np.testing.assert_array_equal(a(x), b(x))
