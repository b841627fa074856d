"""wav.scp reading at 8 kHz: regions equal the whole resampled file, pipes, channels, errors."""

import numpy as np
import pytest
import soundfile as sf

from espnet2_tsdia.audio.reader import WavEntry, WavScpReader, read_audio, read_wav_scp, resampled_num_samples
from espnet2_tsdia.formats.errors import DataFormatError


@pytest.fixture()
def wav_dir(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for sr in (8000, 16000, 44100):
        x = (0.1 * rng.standard_normal((sr * 2 + 17, 2))).astype(np.float32)
        sf.write(tmp_path / f"a{sr}.wav", x, sr, subtype="FLOAT")
        lines.append(f"a{sr} {tmp_path / f'a{sr}.wav'}")
    lines.append(f"p16 sox {tmp_path / 'a16000.wav'} -t wav - |")
    lines.append(f"gone {tmp_path / 'missing.wav'}")
    lines.append("bad false |")
    (tmp_path / "wav.scp").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_resampled_num_samples_is_torchaudios_ceil():
    import torch
    import torchaudio.functional as AF

    for n, orig in [(32_017, 16000), (88_217, 44100), (16_000, 16000), (7, 22050)]:
        assert resampled_num_samples(n, orig, 8000) == AF.resample(torch.zeros(n), orig, 8000).shape[0]


@pytest.mark.parametrize("key", ["a8000", "a16000", "a44100", "p16"])
def test_regions_equal_the_whole_resampled_recording(wav_dir, key):
    r = WavScpReader(wav_dir / "wav.scp")
    whole = r[key]
    n = r.num_samples(key)
    assert len(whole) == n and whole.dtype == np.float32
    for a, b in [(0, 1000), (5000, 9000), (n - 3000, n), (n, n)]:
        np.testing.assert_allclose(r.region(key, a, b), whole[a:b], atol=1e-6, rtol=0)


def test_first_channel_by_default_and_mean_on_request(wav_dir):
    data, _ = sf.read(wav_dir / "a8000.wav", dtype="float32")
    np.testing.assert_array_equal(WavScpReader(wav_dir / "wav.scp")["a8000"], data[:, 0])
    np.testing.assert_allclose(WavScpReader(wav_dir / "wav.scp", channel=None)["a8000"], data.mean(1), atol=1e-7)
    with pytest.raises(DataFormatError, match="channel 2 requested, the audio has 2 channel"):
        WavScpReader(wav_dir / "wav.scp", channel=2)["a8000"]


def test_missing_file_names_the_wav_scp_line(wav_dir):
    r = WavScpReader(wav_dir / "wav.scp")
    with pytest.raises(
        DataFormatError, match=r"wav.scp:5: recording 'gone' .* audio file '.*missing.wav' does not exist"
    ):
        r["gone"]
    with pytest.raises(DataFormatError, match=r"wav.scp:5: .*does not exist"):
        r.num_samples("gone")


def test_failing_pipe_and_bad_region(wav_dir):
    r = WavScpReader(wav_dir / "wav.scp")
    with pytest.raises(DataFormatError, match=r"wav.scp:6: recording 'bad' .*pipe failed"):
        r["bad"]
    with pytest.raises(DataFormatError, match=r"region \[0, 99999\) outside the recording of 16017 samples"):
        r.region("a8000", 0, 99_999)
    with pytest.raises(KeyError, match="no recording 'zzz'"):
        r["zzz"]


def test_read_wav_scp_errors(tmp_path):
    (tmp_path / "wav.scp").write_text("a x.wav\na y.wav\n")
    with pytest.raises(DataFormatError, match="wav.scp:2: duplicate recording id 'a'"):
        read_wav_scp(tmp_path / "wav.scp")
    (tmp_path / "wav.scp").write_text("lonely\n")
    with pytest.raises(DataFormatError, match="wav.scp:1: expected '<recording> <path or command |>'"):
        read_wav_scp(tmp_path / "wav.scp")


def test_read_audio_on_an_entry(wav_dir):
    e = WavEntry("x", str(wav_dir / "a16000.wav"))
    assert read_audio(e, fs=16000, start=10, end=20).shape == (10,)
    assert not e.is_pipe and WavEntry("p", "cat f.wav |").is_pipe
