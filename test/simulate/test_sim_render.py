import sys
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from espnet2_tsdia.bin import materialize as materialize_cli
from espnet2_tsdia.bin import render_mixture as render_cli
from espnet2_tsdia.bin import simulate as simulate_cli
from espnet2_tsdia.formats.kaldi import read_scp
from espnet2_tsdia.simulate.config import SimulationConfig
from espnet2_tsdia.simulate.generate import generate_set
from espnet2_tsdia.simulate.materialize import materialize
from espnet2_tsdia.simulate.render import MixtureReader, render_mixture
from espnet2_tsdia.simulate.spec import AudioRegion, MixtureSpec, NoiseSpec, Placement
from test.simulate.sim_tone_corpus import write_tone_corpus


def _cfg(**kw):
    base = dict(
        name="r", num_conversations=3, speaker_counts={2: 1}, overlap_range=(0.0, 0.3), min_utts=2, max_utts=2, seed=1
    )
    return SimulationConfig(**{**base, **kw})


def _tone_file(path, fs, dur, freq=440.0, amp=0.5):
    t = np.arange(int(dur * fs)) / fs
    sf.write(path, amp * np.sin(2 * np.pi * freq * t), fs, subtype="PCM_16")
    return AudioRegion(path=str(path), start=0, stop=int(dur * fs), fs=fs)


def test_white_noise_snr_exact(tmp_path):
    reg = _tone_file(tmp_path / "a.wav", 8000, 1.0)
    clean = MixtureSpec(
        reco="m", duration_ms=1500, seed=7, speakers=("A",), placements=(Placement("A", "u", reg, 250, 1000, 0.0),)
    )
    noisy = replace(clean, noise=NoiseSpec(audio=None, offset=0, snr_db=10.0))
    x, y = render_mixture(clean), render_mixture(noisy)
    n = (y - x).astype(np.float64)
    snr = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean(n**2))
    assert snr == pytest.approx(10.0, abs=0.01)
    assert render_mixture(noisy).tobytes() == y.tobytes()
    assert render_mixture(replace(noisy, seed=8)).tobytes() != y.tobytes()


def test_gain_and_resampling_to_other_rate(tmp_path):
    reg = _tone_file(tmp_path / "a.wav", 16000, 0.5, amp=0.25)
    spec = MixtureSpec(
        reco="m", duration_ms=500, seed=0, speakers=("A",), placements=(Placement("A", "u", reg, 0, 500, 6.0),)
    )
    y8 = render_mixture(spec, fs=8000)
    y16 = render_mixture(spec, fs=16000)
    assert y8.size == 4000 and y16.size == 8000
    # +6 dB doubles the amplitude; at 16 kHz (no resampling) it is the file times the gain
    x = sf.read(reg.path, dtype="float32")[0]
    np.testing.assert_allclose(y16, x * np.float32(10**0.3), rtol=1e-6)
    assert np.abs(y8[400:-400]).max() == pytest.approx(0.25 * 10**0.3, rel=0.02)
    with pytest.raises(ValueError, match="multiple of 1000 Hz"):
        render_mixture(spec, fs=22050)


def test_rir_delta_keeps_signal_and_real_rir_changes_it(tmp_path):
    reg = _tone_file(tmp_path / "a.wav", 8000, 0.5)
    delta = np.zeros(400)
    delta[30] = 1.0
    sf.write(tmp_path / "delta.wav", delta, 8000, subtype="FLOAT")
    decay = np.exp(-np.arange(800) / 100.0) * np.random.default_rng(0).standard_normal(800) * 0.3
    decay[0] = 1.0
    sf.write(tmp_path / "room.wav", decay, 8000, subtype="FLOAT")
    base = MixtureSpec(
        reco="m", duration_ms=600, seed=0, speakers=("A",), placements=(Placement("A", "u", reg, 100, 500, 0.0),)
    )
    dry = render_mixture(base)
    wet_delta = render_mixture(replace(base, rirs=(AudioRegion(str(tmp_path / "delta.wav"), 0, 400, 8000),)))
    np.testing.assert_allclose(wet_delta, dry, atol=1e-6)  # shifted to the direct path: same place
    wet = render_mixture(replace(base, rirs=(AudioRegion(str(tmp_path / "room.wav"), 0, 800, 8000),)))
    assert np.abs(wet - dry).max() > 0.05
    assert np.all(wet[:800] == 0) and np.all(wet[4800:] == 0)  # still inside the labelled turn


def test_noise_and_rir_dirs_in_a_set(tmp_path):
    src = write_tone_corpus(tmp_path / "c", n_speakers=3, n_utts=3)
    (tmp_path / "noise").mkdir()
    sf.write(
        tmp_path / "noise" / "n1.wav", np.random.default_rng(1).standard_normal(16000) * 0.1, 16000, subtype="PCM_16"
    )
    (tmp_path / "rir" / "sub").mkdir(parents=True)
    sf.write(tmp_path / "rir" / "sub" / "r1.wav", np.r_[1.0, np.zeros(99)], 8000, subtype="FLOAT")
    c = _cfg(noise_dir=str(tmp_path / "noise"), noise_snrs=(5, 10), rir_dir=str(tmp_path / "rir"), rir_probability=1.0)
    generate_set(c, src, tmp_path / "o")
    assert (tmp_path / "o" / "noises.tsv").read_text().splitlines()[1].startswith("n1\t")
    assert (tmp_path / "o" / "rirs.tsv").read_text().splitlines()[1].startswith("sub_r1\t")
    r = MixtureReader(str(tmp_path / "o" / "mixture.scp"))
    spec = r.spec("r-0000000")
    assert spec.noise is not None and spec.noise.audio is not None and spec.noise.snr_db in (5.0, 10.0)
    assert all(x is not None for x in spec.rirs) and len(spec.rirs) == 2
    assert r["r-0000000"].tobytes() == r["r-0000000"].tobytes()


def test_materialize_equals_render(tmp_path):
    src = write_tone_corpus(tmp_path / "c", n_speakers=3, n_utts=3)
    generate_set(_cfg(), src, tmp_path / "o")
    rep = materialize(tmp_path / "o", tmp_path / "wav", out_data_dir=tmp_path / "o_wav", subtype="FLOAT")
    assert rep.recordings == 3 and rep.clipped_samples == 0
    reader = MixtureReader(str(tmp_path / "o" / "mixture.scp"))
    scp = read_scp(tmp_path / "o_wav" / "wav.scp")
    for reco in reader:
        x, fs = sf.read(scp[reco], dtype="float32")
        assert fs == 8000 and x.tobytes() == reader[reco].tobytes()
    assert (tmp_path / "o_wav" / "rttm").read_text() == (tmp_path / "o" / "rttm").read_text()


def test_clipping_is_counted(tmp_path):
    reg = _tone_file(tmp_path / "a.wav", 8000, 0.5, amp=0.9)
    from espnet2_tsdia.simulate.materialize import clip_for

    x = render_mixture(MixtureSpec("m", 500, 0, ("A",), (Placement("A", "u", reg, 0, 500, 6.0),)))
    y, n = clip_for(x, "PCM_16")
    assert n == int(np.count_nonzero((x > 1 - 2**-15) | (x < -1))) > 0
    assert y.max() <= 1 - 2**-15 and y.min() >= -1


def test_clis(tmp_path, capsys):
    src = write_tone_corpus(tmp_path / "c", n_speakers=3, n_utts=3)
    conf = tmp_path / "s.yaml"
    conf.write_text(
        "common: {min_utts: 2, max_utts: 2, num_conversations: 50}\n"
        "sets:\n  - {name: a, source: s1, speaker_counts: {2: 1}, overlap_range: [0.1, 0.2]}\n"
        "  - {name: b, source: s2, speaker_counts: {1: 1}, overlap_range: [0, 0]}\n"
    )
    assert simulate_cli.main(["--list", str(conf)]) == 0
    assert capsys.readouterr().out == "a s1\nb s2\n"
    out = tmp_path / "o"
    argv = [
        "--set",
        "a",
        "--source_dir",
        str(src),
        "--out_dir",
        str(out),
        "--num_conversations",
        "2",
        "--python",
        sys.executable,
        str(conf),
    ]
    assert simulate_cli.main(argv) == 0
    assert len((out / "reco2dur").read_text().splitlines()) == 2
    assert simulate_cli.main(["--verify", str(out)]) == 0
    assert "OK: 2 recordings" in capsys.readouterr().out
    assert (
        simulate_cli.main(argv[:2] + ["--source_dir", str(tmp_path / "nowhere"), "--out_dir", str(out), str(conf)]) == 2
    )
    assert "not a source data dir (no wav.scp)" in capsys.readouterr().err
    assert (
        render_cli.main([str(out / "mixture.scp"), "a-0000001", "--out", str(tmp_path / "m.wav"), "--subtype", "FLOAT"])
        == 0
    )
    x, fs = sf.read(tmp_path / "m.wav", dtype="float32")
    assert fs == 8000 and x.tobytes() == MixtureReader(str(out / "mixture.scp"))["a-0000001"].tobytes()
    assert render_cli.main([str(out / "mixture.scp"), "nope"]) == 2
    assert materialize_cli.main([str(out), str(tmp_path / "w"), "--nj", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["a-0000000.wav", "a-0000001.wav"]
