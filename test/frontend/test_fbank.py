"""The standard frontend: exact frame counts, an independent librosa computation, batching,
per-recording mean for chunks, configuration errors."""

import numpy as np
import pytest
import torch

from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend
from espnet2_tsdia.frontend.frames import num_frames

# Tolerance of the comparison with librosa, in log10 units of the mean-normalised log-mel
# (float32 arithmetic in both; measured differences are about 2e-6).
LIBROSA_ATOL = 1e-4


def signal(n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 8000
    x = 0.1 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 440 * t) * (t % 1 < 0.5)
    return x.astype(np.float32)


def librosa_reference(x, *, context=7, sub=10, n_mels=23):
    """The standard features computed independently: librosa's mel spectrogram of the signal
    reflect-padded by numpy, then splice/subsample/mean by explicit loops."""
    librosa = pytest.importorskip("librosa")
    n = len(x)
    t = n // (80 * sub)
    centre = sub // 2
    first = min(0, centre - context)  # first STFT frame analysed (-2)
    frames = t * sub - first + max(0, centre + context - sub + 1)
    left = -first * 80 + 60 + 28  # frame j's 256-sample block starts at 80 j - 60 - 28
    need = (frames - 1) * 80 + 256
    xp = np.pad(x, (left, max(0, need - left - n)), mode="reflect")[:need]
    mel = librosa.feature.melspectrogram(
        y=xp, sr=8000, n_fft=256, hop_length=80, win_length=200, window="hann", center=False, power=2.0, n_mels=n_mels
    )
    logmel = np.log10(np.maximum(mel, 1e-10)).T  # (frames, n_mels); row k is STFT frame k + first
    logmel = logmel - logmel[-first : -first + t * sub].mean(axis=0)
    out = np.zeros((t, n_mels * (2 * context + 1)), np.float32)
    for i in range(t):
        j = i * sub + centre - first
        out[i] = np.concatenate([logmel[j + c] for c in range(-context, context + 1)])
    return out


def test_output_size_and_exact_frame_counts():
    f = TSDiaFbankFrontend()
    assert f.output_size() == 345
    for seconds in (1, 3):
        y, lens = f(torch.from_numpy(signal(8000 * seconds))[None])
        assert y.shape == (1, 10 * seconds, 345)
        assert lens.tolist() == [10 * seconds]
    for n in (799, 800, 1599, 8799):
        y, lens = f(torch.from_numpy(signal(n))[None])
        assert y.shape[1] == lens.item() == num_frames(n)


@pytest.mark.parametrize("n", [8000 * 2, 8000 * 2 + 555, 8000 * 3 + 799])
def test_matches_independent_librosa_computation(n):
    x = signal(n, seed=n)
    ours, _ = TSDiaFbankFrontend()(torch.from_numpy(x)[None])
    ref = librosa_reference(x)
    assert ours.shape[1:] == ref.shape
    np.testing.assert_allclose(ours[0].numpy(), ref, atol=LIBROSA_ATOL, rtol=0)


def test_other_numbers_match_librosa_too():
    x = signal(8000 * 2 + 300, seed=3)
    f = TSDiaFbankFrontend(context=3, subsampling=4, n_mels=20)
    ours, _ = f(torch.from_numpy(x)[None])
    assert ours.shape == (1, num_frames(len(x), subsampling=4), 20 * 7)
    np.testing.assert_allclose(
        ours[0].numpy(), librosa_reference(x, context=3, sub=4, n_mels=20), atol=LIBROSA_ATOL, rtol=0
    )


def test_batched_equals_one_by_one():
    f = TSDiaFbankFrontend()
    lengths = [8000 * 3 + 123, 16_000, 8799, 500]
    xs = [torch.from_numpy(signal(n, seed=i)) for i, n in enumerate(lengths)]
    batch = torch.zeros(len(xs), max(lengths))
    for i, x in enumerate(xs):
        batch[i, : len(x)] = x
    y, lens = f(batch, torch.tensor(lengths))
    assert lens.tolist() == [num_frames(n) for n in lengths]
    for i, x in enumerate(xs):
        yi, _ = f(x[None])
        torch.testing.assert_close(y[i, : lens[i]], yi[0], atol=1e-5, rtol=0)
        assert torch.all(y[i, lens[i] :] == 0)


def test_block_size_does_not_change_the_numbers():
    x = torch.from_numpy(signal(8000 * 2 + 17))[None]
    big, _ = TSDiaFbankFrontend()(x)
    small, _ = TSDiaFbankFrontend(block_frames=7)(x)
    torch.testing.assert_close(big, small, atol=1e-5, rtol=0)


def test_chunk_with_recording_mean_equals_whole_recording_inside_the_chunk():
    f = TSDiaFbankFrontend()
    x = torch.from_numpy(signal(8000 * 6, seed=5))
    whole, _ = f(x[None])
    mean = f.recording_mean(x)
    start, stop = 20, 45  # frames
    chunk, lens = f(x[None, start * 800 : stop * 800], feats_mean=mean[None])
    assert lens.item() == stop - start
    # Frames whose splice context lies inside the chunk are identical; the first and last
    # frame take their outer context from reflection instead of the neighbouring audio.
    torch.testing.assert_close(chunk[0, 1:-1], whole[0, start + 1 : stop - 1], atol=1e-5, rtol=0)
    assert not torch.allclose(chunk[0, 0], whole[0, start], atol=1e-3)
    own, _ = f(x[None, start * 800 : stop * 800])  # its own mean: a different normalisation
    assert not torch.allclose(own[0, 5], whole[0, start + 5], atol=1e-3)


def test_mean_norm_off_and_extract():
    x = torch.from_numpy(signal(8000 * 2, seed=7))
    on = TSDiaFbankFrontend()
    off = TSDiaFbankFrontend(mean_norm=False)
    y_on, _ = on(x[None])
    y_off, _ = off(x[None])
    mean = on.recording_mean(x)
    torch.testing.assert_close(y_off[0] - mean.repeat(15), y_on[0], atol=1e-5, rtol=0)
    feats, m = on.extract(x)
    torch.testing.assert_close(feats, y_on[0])
    torch.testing.assert_close(m, mean)
    with pytest.raises(ValueError, match="feats_mean was given but mean_norm=False"):
        off(x[None], feats_mean=mean[None])


def test_scale_invariance_of_mean_normalised_features():
    x = torch.from_numpy(signal(8000 * 2, seed=9))
    f = TSDiaFbankFrontend()
    torch.testing.assert_close(f(x[None])[0], f(4.0 * x[None])[0], atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n_fft=128), "n_fft must be >= win_length"),
        (dict(context=-1), "context must be >= 0"),
        (dict(fmax=5000.0), "fmax <= fs/2"),
        (dict(subsampling=0), "must be > 0"),
        (dict(log_floor=0.0), "log_floor must be > 0"),
        (dict(win_length=60), "win_length must be >= hop_length"),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TSDiaFbankFrontend(**kwargs)


def test_bad_inputs_raise():
    f = TSDiaFbankFrontend()
    with pytest.raises(ValueError, match=r"expected \(B, L\) waveforms"):
        f(torch.zeros(8000))
    with pytest.raises(ValueError, match=r"feats_mean must have shape \(1, 23\)"):
        f(torch.zeros(1, 8000), feats_mean=torch.zeros(1, 22))


def test_constants_are_buffers_outside_the_state_dict():
    f = TSDiaFbankFrontend()
    assert dict(f.state_dict()) == {}
    assert {n for n, _ in f.named_buffers()} == {"window", "mel_fb"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_gpu_equals_cpu():
    x = torch.from_numpy(signal(8000 * 3))[None]
    f = TSDiaFbankFrontend()
    cpu, _ = f(x)
    gpu, _ = f.to("cuda")(x.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)
