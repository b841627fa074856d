"""The tsdia_* ESPnet data types through ESPnet's own dataset: shapes, exact slices, both
feature paths, enrollment sync and determinism, registration, errors."""

import numpy as np
import pytest
import torch

from espnet2_tsdia.examples.datatypes import (
    TSDIA_DATA_TYPES,
    AudioLoader,
    EnrollLoader,
    FeatsLoader,
    LabelsLoader,
    enrollment_epoch,
    register_data_types,
)
from espnet2_tsdia.examples.example_dir import ExampleDirOptions, make_example_dir
from espnet2_tsdia.examples.features import extract_example_dir, merge_parts
from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend
from espnet2_tsdia.frontend.storage import read_ark_scp, read_array

from ..frontend.synth import make_data_dir


def copy_example_dir(src, dest, *, without=("feats*", "mean*")):
    """A copy of an example dir elsewhere, still reading the original wav.scp."""
    import shutil

    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(*without))
    meta = (dest / "tsdia.json").read_text()
    (dest / "tsdia.json").write_text(meta.replace('"wav_scp": "../wav.scp"', f'"wav_scp": "{src.parent / "wav.scp"}"'))
    return dest


def test_register_is_idempotent_and_nothing_captures_our_names():
    from espnet2.train.dataset import DATA_TYPES

    register_data_types()
    keys = list(DATA_TYPES)
    register_data_types()
    assert list(DATA_TYPES) == keys
    import re

    for name in ["tsdia_audio", "tsdia_enroll_feats_fixed", "tsdia_labels", "tsdia_mean", "tsdia_wav"]:
        first = next(k for k in DATA_TYPES if re.match(k, name))
        assert first in TSDIA_DATA_TYPES
    with pytest.raises(RuntimeError, match="ESPnet data type 'tsdia' would capture"):
        register_data_types({"tsdia": {}})


def test_espnet_dataset_loads_a_chunk(example_dir):
    from espnet2.train.dataset import ESPnetDataset

    register_data_types()
    lst = str(example_dir / "chunks")
    ds = ESPnetDataset(
        [
            (lst, "speech", "tsdia_audio"),
            (lst, "speech_mean", "tsdia_mean"),
            (lst, "enroll", "tsdia_enroll"),
            (lst, "enroll_mean", "tsdia_enroll_mean"),
            (lst, "labels", "tsdia_labels"),
            (lst, "feats", "tsdia_feats"),
            (lst, "enroll_feats", "tsdia_enroll_feats_fixed"),
        ]
    )
    key, item = ds["r1__A__0000100"]
    assert key == "r1__A__0000100"
    shapes = {k: (v.dtype.name, v.shape) for k, v in item.items()}
    assert shapes["speech"] == ("float32", (200 * 800,))
    assert shapes["speech_mean"] == shapes["enroll_mean"] == ("float32", (23,))
    assert shapes["labels"] == ("int64", (200,))
    assert shapes["feats"] == ("float32", (200, 345))
    assert item["enroll"].shape[0] % 800 == 0 and 15 * 800 <= item["enroll"].shape[0] <= 50 * 800
    assert item["enroll_feats"].shape[1] == 345
    stored = read_array(read_ark_scp(example_dir / "labels.scp")["r1__A"])
    assert item["labels"].tolist() == stored[100:300].tolist()


def test_stored_features_equal_the_frontend_on_the_whole_recording(example_dir):
    from espnet2_tsdia.audio.reader import WavScpReader

    f = TSDiaFbankFrontend()
    wav = WavScpReader(example_dir.parent / "wav.scp")
    feats = FeatsLoader(str(example_dir / "examples"))
    for key, reco in [("r1__A", "r1"), ("r2__F", "r2")]:
        whole, _ = f(torch.from_numpy(wav[reco])[None])
        torch.testing.assert_close(torch.from_numpy(feats[key]), whole[0], atol=1e-5, rtol=0)
    chunk = FeatsLoader(str(example_dir / "chunks"))["r1__B__0000200"]
    np.testing.assert_array_equal(chunk, feats["r1__B"][200:400])


def test_on_the_fly_chunk_features_match_stored_ones_inside_the_chunk(example_dir):
    lst = str(example_dir / "chunks")
    from espnet2_tsdia.examples.datatypes import MeanLoader

    f = TSDiaFbankFrontend()
    key = "r1__A__0000200"
    audio, mean, stored = AudioLoader(lst)[key], MeanLoader(lst)[key], FeatsLoader(lst)[key]
    fly, lens = f(torch.from_numpy(audio)[None], feats_mean=torch.from_numpy(mean)[None])
    assert lens.item() == stored.shape[0] == 200
    np.testing.assert_allclose(fly[0, 1:-1].numpy(), stored[1:-1], atol=1e-4, rtol=0)


def test_enrollment_waveform_and_mean_come_from_the_same_draw(example_dir):
    lst = str(example_dir / "chunks")
    wav, mean = EnrollLoader(lst, what="wav"), EnrollLoader(lst, what="mean")
    span = wav.view.span("r1__A__0000000")
    a, b = [], []
    for epoch in range(1, 16):
        with enrollment_epoch(epoch):
            a.append(wav.choose(span))
            b.append(mean.choose(span))
            assert wav.choose(span) == a[-1]  # within an epoch, a key always gets its draw
    assert a == b and {r for r, _, _ in a} == {"r1", "r2"}  # A also talks alone in r2
    assert len(set(a)) > 5  # training: a new draw every epoch
    fresh = EnrollLoader(lst, what="wav")  # another process, rank or worker: the same draws
    with enrollment_epoch(7):
        assert fresh.choose(span) == a[6]
    # another chunk of the same example draws on its own (its key differs)
    other = wav.view.span("r1__A__0000100")
    other_draws = []
    for epoch in range(1, 16):
        with enrollment_epoch(epoch):
            other_draws.append(wav.choose(other))
    assert other_draws != a


def test_fixed_enrollment_is_the_same_in_a_fresh_loader(example_dir):
    lst = str(example_dir / "examples")
    one = EnrollLoader(lst, what="feats", fixed=True)
    two = EnrollLoader(lst, what="feats", fixed=True)
    assert np.array_equal(one["r2__F"], two["r2__F"]) and np.array_equal(one["r2__F"], one["r2__F"])


def test_label_length_mismatch_raises(example_dir, tmp_path):
    bad = copy_example_dir(example_dir, tmp_path / "bad", without=())
    (bad / "reco2num_samples").write_text("r1 480000\nr2 240000\n")
    with pytest.raises(ValueError, match=r"labels of 'r1__A' have 620 frames, the recording has 600"):
        LabelsLoader(str(bad / "examples"))["r1__A"]
    with pytest.raises(ValueError, match="features of 'r1' have 620 frames, the recording has 600"):
        FeatsLoader(str(bad / "examples"))["r1__A"]


def test_missing_features_and_wrong_source_are_clear(tmp_path):
    data = make_data_dir(tmp_path, pipe_r2=False)
    make_example_dir(data, data / "tsdia")
    with pytest.raises(FileNotFoundError, match=r"feats.scp: missing \(run espnet2_tsdia.bin.extract_feats\)"):
        FeatsLoader(str(data / "tsdia" / "chunks"))
    with pytest.raises(ValueError, match="tsdia_mixture needs an example dir made from a mixture spec"):
        AudioLoader(str(data / "tsdia" / "chunks"), mixture=True)
    with pytest.raises(ValueError, match=r"unknown enrollment type 'tsdia_enroll_x'"):
        TSDIA_DATA_TYPES["tsdia_enroll"]["func"](str(data / "tsdia" / "chunks"), loader_type="tsdia_enroll_x")
    with pytest.raises(KeyError, match="no key 'zz'"):
        LabelsLoader(str(data / "tsdia" / "chunks"))["zz"]


def test_extract_in_parts_equals_one_job(example_dir, tmp_path):
    parts = copy_example_dir(example_dir, tmp_path / "parts")
    for j in range(2):
        extract_example_dir(parts, part=j, num_parts=2)
    merge_parts(parts, 2)
    a, b = read_ark_scp(example_dir / "feats.scp"), read_ark_scp(parts / "feats.scp")
    assert list(a) == list(b) == ["r1", "r2"]
    for k in a:
        np.testing.assert_array_equal(read_array(a[k]), read_array(b[k]))
    with pytest.raises(FileNotFoundError, match=r"feats.2.scp: part 2 of 3 is missing"):
        merge_parts(parts, 3)


class FakeMixtures:
    """Stands in for espnet2_tsdia.simulate.render.MixtureReader: reco -> float32 waveform."""

    def __init__(self, path, fs=None):
        self.keys = [line.split()[0] for line in open(path) if line.strip()]
        self.fs = fs

    def __getitem__(self, reco):
        return np.arange(8000 * 12, dtype=np.float32) / 1e6 + (0.5 if reco == "m2" else 0.0)

    def __iter__(self):
        return iter(self.keys)

    def __len__(self):
        return len(self.keys)


def test_mixture_examples_wrap_the_renderer(tmp_path, monkeypatch):
    import espnet2_tsdia.simulate.render as render

    monkeypatch.setattr(render, "MixtureReader", FakeMixtures)
    data = tmp_path / "sim"
    data.mkdir()
    (data / "mixture.scp").write_text("m1 specs.jsonl:0\nm2 specs.jsonl:100\n")
    (data / "rttm").write_text(
        "SPEAKER m1 1 0.0 5.0 <NA> <NA> s1 <NA> <NA>\nSPEAKER m1 1 4.0 6.0 <NA> <NA> s2 <NA> <NA>\n"
        "SPEAKER m2 1 1.0 9.0 <NA> <NA> s1 <NA> <NA>\n"
    )
    out = data / "tsdia"
    report = make_example_dir(
        data, out, ExampleDirOptions(chunk_frames=50, chunk_hop=50), mixture_scp=data / "mixture.scp"
    )
    assert report.examples == 3 and (out / "reco2num_samples").read_text() == "m1 96000\nm2 96000\n"
    register_data_types()
    loader = TSDIA_DATA_TYPES["tsdia_mixture"]["func"](str(out / "chunks"))
    x = loader["m2__s1__0000050"]
    np.testing.assert_array_equal(x, FakeMixtures(data / "mixture.scp")["m2"][50 * 800 : 100 * 800])
    enroll = EnrollLoader(str(out / "examples"), fixed=True)["m1__s2"]
    assert len(enroll) % 800 == 0 and len(enroll) >= 5 * 800


def test_extract_feats_cli(example_dir, tmp_path, capsys):
    from espnet2_tsdia.bin.extract_feats import main

    copy = copy_example_dir(example_dir, tmp_path / "copy")
    assert main([str(copy), "--frontend_conf", '{"context": 3}', "--log_level", "ERROR"]) == 0
    assert read_array(read_ark_scp(copy / "feats.scp")["r2"]).shape == (300, 23 * 7)
    assert main([str(copy), "--frontend_conf", '{"subsampling": 5}', "--log_level", "ERROR"]) == 2
    assert "differs from the example dir's" in capsys.readouterr().err


def test_mean_only_extraction(example_dir, tmp_path):
    from espnet2_tsdia.bin.extract_feats import main

    copy = copy_example_dir(example_dir, tmp_path / "m")
    assert main([str(copy), "--mean_only", "--log_level", "ERROR"]) == 0
    assert not (copy / "feats.scp").exists()
    a, b = read_ark_scp(example_dir / "mean.scp"), read_ark_scp(copy / "mean.scp")
    for k in ("r1", "r2"):
        np.testing.assert_allclose(read_array(a[k]), read_array(b[k]), atol=1e-6)
