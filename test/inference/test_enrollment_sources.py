"""Oracle enrollment regions, clip lists, and reading user audio (rates, channels, empty clips)."""

import numpy as np
import pytest
import soundfile

from espnet2_tsdia.audio.user_input import AudioInputError, check_enrollment_clip, load_audio, parse_channel
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.inference.enrollment_sources import (
    OracleOptions,
    clips_for_recording,
    oracle_enrollment_frames,
    oracle_enrollments,
    read_enroll_scp,
)

# A: 0-3 s, B: 2-5 s, A again 6-6.5 s, C: 5.5-5.8 s. At 10 fps: A alone in frames [0, 20) and
# [60, 65); B alone in [30, 50); C alone in [55, 58).
TURNS = [
    Turn("r", 0.0, 3.0, "A"),
    Turn("r", 2.0, 3.0, "B"),
    Turn("r", 6.0, 0.5, "A"),
    Turn("r", 5.5, 0.3, "C"),
]


def test_oracle_region_is_the_longest_solo_run():
    assert oracle_enrollment_frames(TURNS, "A", 70, max_frames=100) == (0, 20)
    assert oracle_enrollment_frames(TURNS, "B", 70, max_frames=100) == (30, 50)


def test_oracle_region_is_cut_around_its_centre():
    assert oracle_enrollment_frames(TURNS, "A", 70, max_frames=10) == (5, 15)
    assert oracle_enrollment_frames(TURNS, "B", 70, max_frames=10) == (35, 45)
    assert oracle_enrollment_frames(TURNS, "B", 70, max_frames=11) == (34, 45)


def test_oracle_region_too_short_is_none_and_unknown_speaker_raises():
    assert oracle_enrollment_frames(TURNS, "C", 70, max_frames=50, min_frames=4) is None
    assert oracle_enrollment_frames(TURNS, "C", 70, max_frames=50, min_frames=3) == (55, 58)
    with pytest.raises(ValueError, match="speaker 'Z' has no turn"):
        oracle_enrollment_frames(TURNS, "Z", 70, max_frames=10)


def test_oracle_enrollments_of_a_recording():
    spans, missing = oracle_enrollments(TURNS, 70, OracleOptions(max_duration=1.0, min_duration=0.5))
    assert spans == {"A": (5, 15), "B": (35, 45)}
    assert missing == ["C"]


def test_enroll_scp_and_per_recording_override(tmp_path):
    scp = tmp_path / "enroll.scp"
    scp.write_text("alice a.wav\nbob /abs/b.wav\nr2__alice a2.wav\n")
    clips = read_enroll_scp(scp)
    assert clips["alice"] == str(tmp_path / "a.wav") and clips["bob"] == "/abs/b.wav"
    assert clips_for_recording(clips, "r1") == {"alice": str(tmp_path / "a.wav"), "bob": "/abs/b.wav"}
    assert clips_for_recording(clips, "r2") == {"alice": str(tmp_path / "a2.wav"), "bob": "/abs/b.wav"}
    scp.write_text("alice a.wav\nalice b.wav\n")
    with pytest.raises(DataFormatError, match="duplicate key 'alice'"):
        read_enroll_scp(scp)


def _write(path, x, sr):
    soundfile.write(str(path), x, sr, subtype="PCM_16")
    return path


def test_load_audio_resamples_any_rate_at_or_above_the_model(tmp_path):
    t = np.arange(16000) / 16000
    x = 0.5 * np.sin(2 * np.pi * 440 * t)
    y = load_audio(_write(tmp_path / "a.wav", x, 16000), fs=8000)
    assert y.dtype == np.float32 and y.shape == (8000,)
    np.testing.assert_allclose(y[100:7900], 0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)[100:7900], atol=2e-3)


def test_load_audio_refuses_a_rate_below_the_model(tmp_path):
    path = _write(tmp_path / "low.wav", np.zeros(4000), 4000)
    with pytest.raises(AudioInputError, match="sample rate 4000 Hz is below the model's 8000 Hz"):
        load_audio(path, fs=8000)


def test_stereo_needs_a_channel_choice(tmp_path):
    x = np.stack([np.full(800, 0.25), np.full(800, -0.5)], axis=1)
    path = _write(tmp_path / "st.wav", x, 8000)
    with pytest.raises(AudioInputError, match=r"has 2 channels; choose one with --channel 0\.\.1, or --channel mean"):
        load_audio(path, fs=8000)
    np.testing.assert_allclose(load_audio(path, fs=8000, channel=1), -0.5, atol=1e-4)
    np.testing.assert_allclose(load_audio(path, fs=8000, channel="mean"), -0.125, atol=1e-4)
    with pytest.raises(AudioInputError, match="--channel must be in 0..1"):
        load_audio(path, fs=8000, channel=2)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(AudioInputError, match="no such file"):
        load_audio(tmp_path / "none.wav", fs=8000)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(AudioInputError, match="not a readable audio file"):
        load_audio(bad, fs=8000)


def test_enrollment_clip_checks():
    with pytest.raises(AudioInputError, match="clip is empty"):
        check_enrollment_clip(np.zeros(0, np.float32), fs=8000, frame_samples=800, what="a.wav")
    with pytest.raises(AudioInputError, match="lasts 0.050 s; at least 0.100 s"):
        check_enrollment_clip(np.ones(400, np.float32), fs=8000, frame_samples=800, what="a.wav")
    with pytest.raises(AudioInputError, match="digital silence"):
        check_enrollment_clip(np.zeros(8000, np.float32), fs=8000, frame_samples=800, what="a.wav")
    x = np.ones(800, np.float32)
    assert check_enrollment_clip(x, fs=8000, frame_samples=800, what="a.wav") is x


def test_parse_channel():
    assert parse_channel(None) is None and parse_channel("mean") == "mean" and parse_channel("1") == 1
    with pytest.raises(AudioInputError, match="0-based channel index or 'mean', got 'left'"):
        parse_channel("left")


def test_mono_files_ignore_the_channel_choice(tmp_path):
    path = _write(tmp_path / "mono.wav", np.full(800, 0.25), 8000)
    np.testing.assert_allclose(load_audio(path, fs=8000, channel=1), 0.25, atol=1e-4)
