"""tsdia_inference: posteriors (npy + scp), RTTM and plots for a data set; oracle and clip enrollment."""

import argparse

import numpy as np
import pytest
import soundfile
import torch
import yaml

from espnet2_tsdia.bin.tsdia_inference import main
from espnet2_tsdia.formats.kaldi import read_scp
from espnet2_tsdia.formats.rttm import Turn, read_rttm, write_rttm

CONFIG = {
    "frontend": "tsdia_fbank",
    "frontend_conf": {},
    "normalize": None,
    "normalize_conf": {},
    "input_size": None,
    "model_type": "encoder",
    "model_type_conf": {},
    "encoder": "transformer",
    "encoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "attention_type": "softmax"},
    "decoder": "transformer",
    "decoder_conf": {},
    "label_scheme": "powerset",
    "max_speakers": 4,
    "loss_conf": {},
    "eval_knobs": {"batch_size": 3, "sliding_window": 30},
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    d = tmp_path_factory.mktemp("exp")
    (d / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    torch.manual_seed(0)
    torch.save(TSDiarizationTask.build_model(argparse.Namespace(**CONFIG)).state_dict(), d / "model.pth")
    return d


def noise(seconds, sr, seed):
    return 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * sr))


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    soundfile.write(d / "r1.wav", noise(6.0, 8000, 0), 8000, subtype="PCM_16")
    soundfile.write(d / "r2.wav", noise(5.0, 16000, 1), 16000, subtype="PCM_16")  # resampled to 8 kHz
    (d / "wav.scp").write_text(f"r1 {d / 'r1.wav'}\nr2 {d / 'r2.wav'}\n")
    write_rttm(
        d / "rttm",
        [
            Turn("r1", 0.0, 2.5, "A"),
            Turn("r1", 2.0, 3.0, "B"),
            Turn("r2", 0.5, 1.5, "B"),
            Turn("r2", 3.0, 1.0, "C"),
        ],
    )
    soundfile.write(d / "alice.wav", noise(1.5, 8000, 2), 8000, subtype="PCM_16")
    (d / "enroll.scp").write_text("alice alice.wav\nr2__bob alice.wav\n")
    return d


def test_oracle_enrollment_writes_posteriors_rttm_and_plots(model_dir, data_dir, tmp_path):
    out = tmp_path / "decode"
    rc = main(
        [
            "--train_config",
            str(model_dir / "config.yaml"),
            "--model_file",
            str(model_dir / "model.pth"),
            "--data_path_and_name_and_type",
            f"{data_dir / 'wav.scp'},speech,sound",
            "--data_path_and_name_and_type",
            f"{data_dir / 'rttm'},rttm,rttm",
            "--output_dir",
            str(out),
            "--num_plots",
            "1",
            "--threshold",
            "0.2",
            "--log_level",
            "WARNING",
        ]
    )
    assert rc == 0
    scp = read_scp(out / "posteriors.scp")
    assert sorted(scp) == ["r1__A", "r1__B", "r2__B", "r2__C"]
    assert np.load(scp["r1__A"]).shape == (60, 4) and np.load(scp["r2__C"]).shape == (50, 4)
    np.testing.assert_allclose(np.load(scp["r1__B"]).sum(1), 1.0, atol=1e-5)
    hyp = read_rttm(out / "rttm")
    assert {(t.reco, t.speaker) for t in hyp} <= set(tuple(k.split("__")) for k in scp)
    for line in (out / "rttm").read_text().splitlines():
        assert len(line.split()) == 10
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == ["r1.timeline.png", "r1__A.posteriors.png", "r1__B.posteriors.png"]


def test_clip_enrollment_per_recording(model_dir, data_dir, tmp_path):
    out = tmp_path / "decode"
    rc = main(
        [
            "--train_config",
            str(model_dir / "config.yaml"),
            "--model_file",
            str(model_dir / "model.pth"),
            "--data_path_and_name_and_type",
            f"{data_dir / 'wav.scp'},speech,sound",
            "--data_path_and_name_and_type",
            f"{data_dir / 'enroll.scp'},enroll,sound",
            "--enrollment",
            "clips",
            "--output_dir",
            str(out),
            "--batch_size",
            "1",
            "--log_level",
            "WARNING",
        ]
    )
    assert rc == 0
    scp = read_scp(out / "posteriors.scp")
    assert sorted(scp) == ["r1__alice", "r2__alice", "r2__bob"]
    # the same clip as two names in one recording gives the same posteriors
    np.testing.assert_array_equal(np.load(scp["r2__alice"]), np.load(scp["r2__bob"]))


def test_errors(model_dir, data_dir, tmp_path, capsys):
    base = ["--output_dir", str(tmp_path / "o"), "--log_level", "ERROR"]
    with pytest.raises(SystemExit) as e:
        main(
            base
            + [
                "--train_config",
                "c",
                "--model_file",
                "m",
                "--data_path_and_name_and_type",
                f"{data_dir / 'rttm'},rttm,rttm",
            ]
        )
    assert e.value.code == 2 and "a 'speech' entry (wav.scp,speech,sound) is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(base + ["--model_tag", "x.zip", "--data_path_and_name_and_type", f"{data_dir / 'wav.scp'},speech,sound"])
    assert "--enroll_source oracle needs the reference" in capsys.readouterr().err
    rc = main(
        base
        + [
            "--train_config",
            str(model_dir / "config.yaml"),
            "--model_file",
            str(tmp_path / "none.pth"),
            "--data_path_and_name_and_type",
            f"{data_dir / 'wav.scp'},speech,sound",
            "--data_path_and_name_and_type",
            f"{data_dir / 'rttm'},rttm,rttm",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("tsdia_inference: error: ") and "none.pth: no such model file" in err[-1]


def test_config_yaml_sets_options_nested_ones_included(model_dir, data_dir, tmp_path, monkeypatch):
    """--config conf/decode.yaml: flat keys become the options' values, a nested frontend_conf
    mapping reaches the model loader as it is, and the command line wins over the yaml."""
    from espnet2_tsdia.inference.speech2tsdia import Speech2TSDiarization

    seen = {}

    def from_files(cls, train_config, model_file, **kwargs):
        seen.update(kwargs)
        raise ValueError("stop after loading")

    monkeypatch.setattr(Speech2TSDiarization, "from_files", classmethod(from_files))
    fbank = {"fs": 8000, "hop_length": 80, "n_mels": 23, "context": 7, "subsampling": 10}
    conf = tmp_path / "decode.yaml"
    conf.write_text(yaml.safe_dump({"threshold": 0.3, "median_filter": 5, "frontend_conf": fbank}))
    argv = [
        "--config",
        str(conf),
        "--median_filter",
        "7",
        "--train_config",
        str(model_dir / "config.yaml"),
        "--model_file",
        str(model_dir / "model.pth"),
        "--data_path_and_name_and_type",
        f"{data_dir / 'wav.scp'},speech,sound",
        "--data_path_and_name_and_type",
        f"{data_dir / 'rttm'},rttm,rttm",
        "--output_dir",
        str(tmp_path / "o"),
    ]
    assert main(argv) == 2
    assert seen["frontend_conf"] == fbank
    assert {k: seen["overrides"][k] for k in ("threshold", "median_filter")} == {"threshold": 0.3, "median_filter": 7}


@pytest.mark.parametrize(
    "conf, message",
    [
        ({"treshold": 0.3}, "treshold: not an option of tsdia_inference"),
        ({"median_filter": 0.5}, "median_filter: invalid literal for int()"),
        ({"enroll_source": "both"}, "enroll_source: invalid choice 'both' (choose from oracle, clips, first_pass)"),
    ],
)
def test_config_yaml_errors_name_the_file_and_key(tmp_path, capsys, conf, message):
    path = tmp_path / "decode.yaml"
    path.write_text(yaml.safe_dump(conf))
    with pytest.raises(SystemExit) as e:
        main(["--config", str(path), "--output_dir", str(tmp_path / "o")])
    assert e.value.code == 2
    assert capsys.readouterr().err.startswith(f"tsdia_inference: error: --config {path}: {message}")


def tones(turns, seconds, sr=8000):
    """Two "voices" (300 Hz and 1200 Hz tones) at ``turns`` [(start s, end s, Hz)] in silence."""
    x = np.zeros(int(seconds * sr), np.float32)
    for a, b, hz in turns:
        t = np.arange(int((b - a) * sr)) / sr
        x[int(a * sr) : int(a * sr) + t.size] = 0.3 * np.sin(2 * np.pi * hz * t)
    return x


def test_first_pass_enrollment_writes_every_pass(model_dir, tmp_path):
    """--enroll_source first_pass: the first pass's own RTTM (exactly --num_speakers speakers,
    speech where the tones are), the regions of each pass, one RTTM per pass, posteriors per
    found speaker."""
    from test.inference.spk_helpers import write_spk_dir

    d = tmp_path / "data"
    d.mkdir()
    soundfile.write(d / "m1.wav", tones([(1, 4, 300), (6, 9, 1200), (11, 13, 300)], 14), 8000, subtype="FLOAT")
    soundfile.write(d / "m2.wav", np.zeros(8000 * 3, np.float32), 8000, subtype="FLOAT")  # silence
    (d / "wav.scp").write_text(f"m1 {d / 'm1.wav'}\nm2 {d / 'm2.wav'}\n")
    out = tmp_path / "decode"
    argv = ["--train_config", str(model_dir / "config.yaml"), "--model_file", str(model_dir / "model.pth")]
    argv += ["--data_path_and_name_and_type", f"{d / 'wav.scp'},speech,sound", "--output_dir", str(out)]
    argv += ["--enroll_source", "first_pass", "--spk_model", str(write_spk_dir(tmp_path / "spk"))]
    assert main([*argv, "--num_speakers", "2", "--iterations", "1", "--log_level", "WARNING"]) == 0
    first = read_rttm(out / "first_pass.rttm")
    assert {t.speaker for t in first} == {"spk1", "spk2"} and {t.reco for t in first} == {"m1"}
    frames = sorted(round(10 * t.onset) + i for t in first for i in range(round(10 * t.duration)))
    assert frames == list(range(10, 40)) + list(range(60, 90)) + list(range(110, 130))
    assert (out / "rttm").read_text() == (out / "rttm.pass1").read_text()
    assert (out / "rttm.pass0").is_file()
    regions = [ln.split() for ln in (out / "first_pass_regions").read_text().splitlines()]
    # every speaker with a region is decoded (the tones give both one)
    assert (
        sorted(read_scp(out / "posteriors.scp")) == sorted({f"m1__{r[1]}" for r in regions}) == ["m1__spk1", "m1__spk2"]
    )
    assert sorted((r[1], r[5]) for r in regions) == [
        ("spk1", "pass0"),
        ("spk1", "pass1"),
        ("spk2", "pass0"),
        ("spk2", "pass1"),
    ]
    for _, _, start, end, kind, _ in regions:
        assert kind in ("clean", "unclean", "solo") and 0 <= float(start) < float(end) <= 14
    # without a speaker model there is nothing to cluster with
    assert main([*argv[:-2], "--log_level", "ERROR"]) == 2
