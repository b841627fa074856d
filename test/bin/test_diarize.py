"""diarize: one recording of the offline corpus -> RTTM + picture; bad inputs end with one line, exit 2."""

import argparse
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml

from espnet2_tsdia.bin.diarize import main
from espnet2_tsdia.formats.rttm import read_rttm

REPO = Path(__file__).resolve().parents[2]
CONFIG = {
    "frontend": "tsdia_fbank",
    "frontend_conf": {},
    "normalize": None,
    "normalize_conf": {},
    "input_size": None,
    "model_type": "encoder",
    "model_type_conf": {},
    "encoder": "transformer",
    "encoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "attention_type": "linear", "nb_features": 8},
    "decoder": "transformer",
    "decoder_conf": {},
    "label_scheme": "powerset",
    "max_speakers": 4,
    "loss_conf": {},
    "eval_knobs": {"batch_size": 4, "threshold": 0.3},
}


@pytest.fixture(scope="module")
def model_zip(tmp_path_factory):
    from espnet2_tsdia.inference.pack import pack_model
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    d = tmp_path_factory.mktemp("exp") / "train"
    d.mkdir()
    (d / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    torch.manual_seed(0)
    torch.save(TSDiarizationTask.build_model(argparse.Namespace(**CONFIG)).state_dict(), d / "model.pth")
    return pack_model(train_config=d / "config.yaml", model_file=d / "model.pth", outpath=d.parent / "model.zip")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A 3-speaker recording with known turns from the offline corpus, and a clip per speaker."""
    from espnet2_tsdia.corpora.offline_speech import MissingPackagesError, prepare_offline_speech
    from espnet2_tsdia.formats.kaldi import read_scp, read_utt2spk, utt2spk_to_spk2utt

    out = tmp_path_factory.mktemp("offline")
    speakers = ["en_allison", "it_carlo", "fr_june"]
    try:
        prepare_offline_speech(out / "corpus", sources=speakers, max_utts_per_speaker=3)
    except MissingPackagesError as e:
        pytest.skip(f"offline speech packages missing: {e}")
    wavs = read_scp(out / "corpus" / "data" / "wav.scp")
    spk2utt = utt2spk_to_spk2utt(read_utt2spk(out / "corpus" / "data" / "utt2spk"))
    pieces, clips = [], {}
    gap = np.zeros(4000, np.float32)
    for round_ in range(2):
        for spk in speakers:
            x, sr = soundfile.read(wavs[spk2utt[spk][round_]], dtype="float32")
            assert sr == 8000
            pieces += [x, gap]
    for spk in speakers:
        clips[spk] = out / f"{spk}.wav"
        x, _ = soundfile.read(wavs[spk2utt[spk][2]], dtype="float32")
        soundfile.write(clips[spk], x, 8000, subtype="PCM_16")
    meeting = out / "meeting.wav"
    # stored at 16 kHz: "any sample rate in"
    import torchaudio.functional as AF

    x16 = AF.resample(torch.from_numpy(np.concatenate(pieces)), 8000, 16000).numpy()
    soundfile.write(meeting, x16, 16000, subtype="PCM_16")
    return meeting, clips


def test_diarize_writes_rttm_and_picture(model_zip, corpus, tmp_path):
    meeting, clips = corpus
    rttm, png = tmp_path / "out" / "meeting.rttm", tmp_path / "meeting.png"
    argv = [
        "--model",
        str(model_zip),
        str(meeting),
        "-o",
        str(rttm),
        "--plot",
        str(png),
        "--quiet",
        "--cachedir",
        str(tmp_path / "cache"),
    ]
    for spk, path in clips.items():
        argv += ["--enroll", f"{spk}={path}"]
    assert main(argv) == 0
    duration = soundfile.info(str(meeting)).duration
    turns = read_rttm(rttm)
    for line in rttm.read_text().splitlines():
        assert len(line.split()) == 10
    assert {t.reco for t in turns} <= {"meeting"} and {t.speaker for t in turns} <= set(clips)
    assert all(0 <= t.onset and t.end <= duration + 1e-6 for t in turns)
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    from espnet2_tsdia.inference.result_picture import picture_height_px

    assert struct.unpack(">II", head[16:24]) == (1600, picture_height_px(3))  # a row per enrolled speaker


def _run_main(argv, capsys):
    rc = main(argv + ["--quiet"])
    err = capsys.readouterr().err.strip()
    return rc, err


@pytest.fixture
def inputs(tmp_path):
    ok = tmp_path / "ok.wav"
    soundfile.write(ok, 0.1 * np.random.default_rng(0).standard_normal(16000), 8000, subtype="PCM_16")
    return tmp_path, ok


def test_wrong_sample_rate(model_zip, inputs, capsys):
    tmp, ok = inputs
    low = tmp / "low.wav"
    soundfile.write(low, np.zeros(8000), 4000, subtype="PCM_16")
    rc, err = _run_main(
        [
            "--model",
            str(model_zip),
            str(low),
            "--enroll",
            f"a={ok}",
            "-o",
            str(tmp / "o.rttm"),
            "--cachedir",
            str(tmp / "cache"),
        ],
        capsys,
    )
    assert rc == 2 and err.count("\n") == 0
    assert (
        err
        == f"diarize: error: {low}: sample rate 4000 Hz is below the model's 8000 Hz; use a recording made at 8000 Hz or more (upsampling cannot restore the missing band)"
    )


def test_stereo_file(model_zip, inputs, capsys):
    tmp, ok = inputs
    stereo = tmp / "stereo.wav"
    soundfile.write(stereo, np.zeros((8000, 2)), 8000, subtype="PCM_16")
    rc, err = _run_main(
        ["--model", str(model_zip), str(stereo), "--enroll", f"a={ok}", "-o", str(tmp / "o.rttm")], capsys
    )
    assert rc == 2 and err.count("\n") == 0
    assert err.endswith("has 2 channels; choose one with --channel 0..1, or --channel mean to average them")


def test_empty_and_silent_enrollment_clips(model_zip, inputs, capsys):
    tmp, ok = inputs
    empty = tmp / "empty.wav"
    soundfile.write(empty, np.zeros(0), 8000, subtype="PCM_16")
    rc, err = _run_main(
        ["--model", str(model_zip), str(ok), "--enroll", f"a={empty}", "-o", str(tmp / "o.rttm")], capsys
    )
    assert rc == 2 and err == f"diarize: error: enrollment clip {empty} of 'a': the file holds no audio (0 samples)"
    silent = tmp / "silent.wav"
    soundfile.write(silent, np.zeros(8000), 8000, subtype="PCM_16")
    rc, err = _run_main(
        [
            "--model",
            str(model_zip),
            str(ok),
            "--enroll",
            f"a={silent}",
            "-o",
            str(tmp / "o.rttm"),
            "--cachedir",
            str(tmp / "cache"),
        ],
        capsys,
    )
    assert rc == 2 and err.endswith("the enrollment clip is digital silence (every sample is 0)")


def test_bad_enroll_argument(inputs, capsys):
    tmp, ok = inputs
    rc, err = _run_main(["--model", "m.zip", str(ok), "--enroll", "alice", "-o", str(tmp / "o.rttm")], capsys)
    assert rc == 2 and err == "diarize: error: --enroll expects NAME=AUDIO (e.g. alice=alice.wav), got 'alice'"


def test_corrupt_zip_in_a_fresh_process(inputs):
    tmp, ok = inputs
    bad = tmp / "model.zip"
    bad.write_bytes(b"PK\x03\x04garbage, not a zip")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "espnet2_tsdia.bin.diarize",
            "--model",
            str(bad),
            "--enroll",
            f"a={ok}",
            str(ok),
            "-o",
            str(tmp / "o.rttm"),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        timeout=300,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert (
        proc.stderr.strip().splitlines()[-1]
        == f"diarize: error: {bad}: not a valid zip archive (File is not a zip file)"
    )
    assert not (tmp / "o.rttm").exists()


def test_recording_shorter_than_one_frame(model_zip, inputs, capsys):
    tmp, ok = inputs
    short = tmp / "short.wav"
    soundfile.write(short, 0.1 * np.ones(500), 8000, subtype="PCM_16")
    rc, err = _run_main(
        [
            "--model",
            str(model_zip),
            str(short),
            "--enroll",
            f"a={ok}",
            "-o",
            str(tmp / "o.rttm"),
            "--cachedir",
            str(tmp / "cache"),
        ],
        capsys,
    )
    assert rc == 2 and err == f"diarize: error: {short}: the recording lasts 0.062 s, shorter than one frame (0.1 s)"


# ----------------------------------------------------------------------------- no enrollment
@pytest.fixture(scope="module")
def zip_with_speaker_model(model_zip, tmp_path_factory):
    """The TS-DIA model of ``model_zip`` packed again with a tiny speaker-embedding model."""
    from espnet2_tsdia.inference.pack import pack_model, unpack_model
    from test.inference.spk_helpers import write_spk_dir

    d = tmp_path_factory.mktemp("spk")
    files = unpack_model(model_zip, cachedir=d / "cache")
    return pack_model(
        train_config=files["train_config"],
        model_file=files["model_file"],
        outpath=d / "with_spk.zip",
        spk_model=write_spk_dir(d / "spk"),
    )


def test_diarize_without_enrollment(zip_with_speaker_model, corpus, tmp_path):
    """``diarize meeting.wav -o out.rttm --model demo.zip``: the first pass names the speakers
    spk1.., its own RTTM has exactly --num_speakers speakers, and the TS-DIA output uses them."""
    meeting, _ = corpus
    rttm, first = tmp_path / "out.rttm", tmp_path / "first.rttm"
    cache = ["--cachedir", str(tmp_path / "cache"), "--quiet"]
    assert main([str(meeting), "-o", str(rttm), "--model", str(zip_with_speaker_model), *cache]) == 0
    assert {t.speaker for t in read_rttm(rttm)} <= {f"spk{i}" for i in range(1, 9)}
    argv = [str(meeting), "-o", str(rttm), "--model", str(zip_with_speaker_model), "--num_speakers", "3"]
    assert main([*argv, "--first_pass_rttm", str(first), "--iterations", "1", *cache]) == 0
    fp_turns = read_rttm(first)
    assert {t.speaker for t in fp_turns} == {"spk1", "spk2", "spk3"} and {t.reco for t in fp_turns} == {"meeting"}
    assert {t.speaker for t in read_rttm(rttm)} <= {"spk1", "spk2", "spk3"}
    # one speaker per frame in the first pass: its turns never overlap
    spans = sorted((t.onset, t.end) for t in fp_turns)
    assert all(a_end <= b_start + 1e-9 for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))
    duration = soundfile.info(str(meeting)).duration
    assert all(0 <= t.onset and t.end <= duration + 1e-6 for t in fp_turns)


def test_without_enrollment_needs_a_speaker_model(model_zip, zip_with_speaker_model, inputs, capsys):
    tmp, ok = inputs
    rc, err = _run_main([str(ok), "-o", str(tmp / "o.rttm"), "--model", str(model_zip)], capsys)
    assert rc == 2 and "no speaker-embedding model for the first pass" in err and "--spk_model" in err
    rc, err = _run_main([str(ok), "-o", str(tmp / "o.rttm"), "--model", str(model_zip), "--num_speakers", "0"], capsys)
    assert rc == 2 and "num_speakers must be >= 1 or None, got 0" in err
    rc, err = _run_main(
        [str(ok), "-o", str(tmp / "o.rttm"), "--model", str(zip_with_speaker_model), "--enroll", f"a={ok}"]
        + ["--num_speakers", "2"],
        capsys,
    )
    assert rc == 2 and "are for diarization without --enroll" in err


# ----------------------------------------------------------------------------- packed decode options
def pack_with_decode(zip_path, options, out):
    """``zip_path``'s models packed again with ``options`` as the packed inference config."""
    from espnet2_tsdia.inference.model_files import SPK_CONFIG_KEY, SPK_MODEL_KEY
    from espnet2_tsdia.inference.pack import pack_model, unpack_model

    files = unpack_model(zip_path, cachedir=out / "cache")
    (out / "decode.yaml").write_text(yaml.safe_dump(options))
    spk = None
    if SPK_CONFIG_KEY in files:
        spk = out / "spk"
        spk.mkdir()
        (spk / "config.yaml").write_bytes(Path(files[SPK_CONFIG_KEY]).read_bytes())
        (spk / "valid.eer.best.pth").write_bytes(Path(files[SPK_MODEL_KEY]).read_bytes())
    return pack_model(
        train_config=files["train_config"],
        model_file=files["model_file"],
        outpath=out / "with_decode.zip",
        spk_model=spk,
        inference_config=out / "decode.yaml",
    )


def test_packed_decode_options_are_the_defaults(zip_with_speaker_model, corpus, tmp_path):
    meeting, clips = corpus
    model = pack_with_decode(zip_with_speaker_model, {"num_speakers": 2, "median_filter": 5}, tmp_path)
    first = tmp_path / "first.rttm"
    argv = [str(meeting), "-o", str(tmp_path / "o.rttm"), "--model", str(model), "--first_pass_rttm", str(first)]
    cache = ["--cachedir", str(tmp_path / "cache2"), "--quiet"]
    assert main([*argv, *cache]) == 0
    assert {t.speaker for t in read_rttm(first)} == {"spk1", "spk2"}  # the packed num_speakers
    assert main([*argv, "--num_speakers", "3", *cache]) == 0
    assert {t.speaker for t in read_rttm(first)} == {"spk1", "spk2", "spk3"}  # the command line wins

    # a packed first-pass option does not stand against voice samples given on the command line
    enrolled = [f"--enroll={spk}={path}" for spk, path in clips.items()]
    assert main([str(meeting), "-o", str(tmp_path / "e.rttm"), "--model", str(model), *enrolled, *cache]) == 0
    assert {t.speaker for t in read_rttm(tmp_path / "e.rttm")} <= set(clips)

    from espnet2_tsdia.bin.diarize import get_parser, packed_defaults
    from espnet2_tsdia.inference.pack import unpack_model

    parser = get_parser()
    files = unpack_model(model, cachedir=tmp_path / "cache2")
    args, extra = packed_defaults(parser, [*argv, *cache], parser.parse_args([*argv, *cache]), files)
    assert args.num_speakers == 2 and extra == {"median_filter": 5}  # no diarize option: an override


def test_unknown_packed_key_is_named(zip_with_speaker_model, inputs, capsys):
    tmp, ok = inputs
    model = pack_with_decode(zip_with_speaker_model, {"thresold": 0.4}, tmp)
    rc, err = _run_main(
        [str(ok), "-o", str(tmp / "o.rttm"), "--model", str(model), "--cachedir", str(tmp / "c")], capsys
    )
    assert rc == 2 and "['thresold']" in err and str(model) in err
