"""make_spk_data: ESPnet speaker-task lists and verification trials from a Kaldi-style dir."""

import numpy as np
import pytest
import soundfile

from espnet2_tsdia.bin.make_spk_data import main, make_trials, read_dir
from espnet2_tsdia.formats.errors import DataFormatError


def source_dir(tmp_path, rates=None):
    d = tmp_path / "src"
    d.mkdir()
    utts = {"a-1": "a", "a-2": "a", "a-3": "a", "b-1": "b", "b-2": "b"}
    for i, u in enumerate(utts):
        sr = (rates or {}).get(u, 8000)
        soundfile.write(d / f"{u}.wav", np.zeros(800 * (i + 1)), sr, subtype="PCM_16")
    (d / "wav.scp").write_text("".join(f"{u} {d / u}.wav\n" for u in utts))
    (d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utts.items()))
    return d


def test_training_lists(tmp_path):
    assert main([str(source_dir(tmp_path)), str(tmp_path / "out"), "--fs", "8000"]) == 0
    out = tmp_path / "out"
    assert (out / "speech_shape").read_text().split("\n")[:2] == ["a-1 800", "a-2 1600"]
    assert (out / "spk2utt").read_text() == "a a-1 a-2 a-3\nb b-1 b-2\n"
    assert (out / "category2utt").read_text() == (out / "spk2utt").read_text()
    assert len((out / "wav.scp").read_text().splitlines()) == 5


def test_trials_are_balanced_and_keyed_as_espnet_reads_them(tmp_path):
    assert main([str(source_dir(tmp_path)), str(tmp_path / "out"), "--fs", "8000", "--trials", "6"]) == 0
    labels = [ln.split() for ln in (tmp_path / "out" / "trial_label").read_text().splitlines()]
    assert [lab for _, lab in labels] == ["1", "0", "1", "0", "1", "0"]
    utt2spk = {u: u[0] for u in ("a-1", "a-2", "a-3", "b-1", "b-2")}
    for key, lab in labels:
        a, b = key.split("*")
        assert (utt2spk[a] == utt2spk[b]) == (lab == "1")
    keys = [ln.split()[0] for ln in (tmp_path / "out" / "trial2.scp").read_text().splitlines()]
    assert keys == [k for k, _ in labels]
    assert make_trials(utt2spk, 6, 0) == make_trials(utt2spk, 6, 0)


def test_a_file_at_another_rate_is_named(tmp_path):
    src = source_dir(tmp_path, rates={"b-1": 16000})
    assert main([str(src), str(tmp_path / "out"), "--fs", "8000"]) == 2
    assert not (tmp_path / "out").exists()
    with pytest.raises(DataFormatError) as e:
        read_dir(src, 8000)
    assert (e.value.path, e.value.line) == (str(src / "wav.scp"), 4)
    assert e.value.message == f"{src / 'b-1.wav'} is at 16000 Hz; the speaker model reads 8000 Hz"
