"""The standard 345-dim TS-DIA feature as an ESPnet ``AbsFrontend``.

Pipeline (defaults in brackets, every number a constructor argument):

1. STFT frames: frame ``j`` analyses ``win_length`` [200] samples centred on the middle of its hop
   span ``[j * hop, (j + 1) * hop)`` [80], i.e. samples ``[j*hop - (win-hop)/2, ...)``, with a
   periodic Hann window zero-padded to ``n_fft`` [256]. The signal is reflected at both ends of
   each item (at its own length, so a batch gives what one-by-one calls give).
2. Power spectrum -> ``n_mels`` [23] mel bands (Slaney mel scale and area normalisation, as
   librosa's defaults) -> ``log10(max(power, log_floor))``.
3. Mean normalisation [on]: subtract the mean log-mel vector over the STFT frames
   ``j in [0, T * subsampling)`` of the item, or the ``feats_mean`` given to :meth:`forward`
   (the mean of the whole recording when the input is a chunk of it).
4. Output frame ``t`` (see :mod:`espnet2_tsdia.frontend.frames`: it covers samples
   ``[t*S, (t+1)*S)``, ``S = hop * subsampling``) is the splice of the ``2 * context + 1`` [15]
   STFT frames centred on ``j = t * subsampling + subsampling // 2``: dims ordered context-major
   (``[frame j-7: 23 mels, frame j-6: 23 mels, ...]``), ``n_mels * (2 * context + 1)`` [345].
   Only the kept frames are spliced (a strided view, then one copy).

``T = num_frames(num_samples)`` exactly: 10 frames per second of 8 kHz audio.

Long inputs are analysed in blocks of ``block_frames`` STFT frames so the complex spectrum of a
whole hour is never held at once.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend

from espnet2_tsdia.frontend.frames import num_frames


def mel_filterbank(*, fs: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) Slaney-scale, area-normalised triangular filters (librosa's default)."""
    import torchaudio.functional as AF

    return AF.melscale_fbanks(
        n_freqs=n_fft // 2 + 1,
        f_min=float(fmin),
        f_max=float(fmax),
        n_mels=n_mels,
        sample_rate=fs,
        norm="slaney",
        mel_scale="slaney",
    )


class TSDiaFbankFrontend(AbsFrontend):
    """Log-mel + per-recording mean normalisation + splice + subsample: (B, L) -> (B, T, D).

    Args:
        fs: sample rate the input must have (the data loaders resample to it).
        n_fft: FFT size (>= win_length).
        win_length: analysis window in samples.
        hop_length: STFT hop in samples.
        n_mels: mel bands.
        context: spliced frames on each side of the centre frame.
        subsampling: STFT frames per output frame.
        mean_norm: subtract the mean log-mel vector (per item, or the given ``feats_mean``).
        log_floor: power floor before the log10.
        fmin: lowest mel filter edge in Hz.
        fmax: highest mel filter edge in Hz (None: fs / 2).
        block_frames: STFT frames analysed per block (memory bound for long inputs).
    """

    def __init__(
        self,
        *,
        fs: int = 8000,
        n_fft: int = 256,
        win_length: int = 200,
        hop_length: int = 80,
        n_mels: int = 23,
        context: int = 7,
        subsampling: int = 10,
        mean_norm: bool = True,
        log_floor: float = 1e-10,
        fmin: float = 0.0,
        fmax: Optional[float] = None,
        block_frames: int = 16384,
    ):
        super().__init__()
        fmax = fs / 2 if fmax is None else fmax
        if fs <= 0 or hop_length <= 0 or win_length <= 0 or n_mels <= 0 or subsampling <= 0 or block_frames <= 0:
            raise ValueError(
                "fs, hop_length, win_length, n_mels, subsampling and block_frames must be > 0, got "
                f"fs={fs} hop_length={hop_length} win_length={win_length} n_mels={n_mels} "
                f"subsampling={subsampling} block_frames={block_frames}"
            )
        if n_fft < win_length:
            raise ValueError(f"n_fft must be >= win_length, got n_fft={n_fft} win_length={win_length}")
        if win_length < hop_length:
            raise ValueError(
                f"win_length must be >= hop_length (no gaps between frames), got {win_length} < {hop_length}"
            )
        if context < 0:
            raise ValueError(f"context must be >= 0, got {context}")
        if not 0 <= fmin < fmax <= fs / 2:
            raise ValueError(f"expected 0 <= fmin < fmax <= fs/2 = {fs / 2}, got fmin={fmin} fmax={fmax}")
        if not log_floor > 0:
            raise ValueError(f"log_floor must be > 0, got {log_floor}")
        self.fs = fs
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.context = context
        self.subsampling = subsampling
        self.mean_norm = mean_norm
        self.log_floor = log_floor
        self.block_frames = block_frames
        # Deterministic constants, rebuilt from the config: not part of the state dict.
        self.register_buffer("window", torch.hann_window(win_length, periodic=True), persistent=False)
        self.register_buffer(
            "mel_fb", mel_filterbank(fs=fs, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax), persistent=False
        )

        # STFT frames computed for T output frames: j in [j_first, T * subsampling + j_tail).
        centre = subsampling // 2
        self._j_first = min(0, centre - context)
        self._j_tail = max(0, centre + context - subsampling + 1)  # frames after T*subsampling - 1
        # Orig-sample offset of the first padded sample: frame j's n_fft block starts at
        # j*hop - (win-hop)//2 - (n_fft-win)//2.
        self._left = -self._j_first * hop_length + (win_length - hop_length) // 2 + (n_fft - win_length) // 2

    def output_size(self) -> int:
        return self.n_mels * (2 * self.context + 1)

    def num_frames(self, num_samples):
        """Output frames for ``num_samples`` (int or tensor): the shared :func:`num_frames`."""
        return num_frames(num_samples, hop_length=self.hop_length, subsampling=self.subsampling)

    # ------------------------------------------------------------------ internals
    def _stft_frames(self, t: int) -> int:
        """STFT frames analysed for ``t`` output frames (context included)."""
        return t * self.subsampling - self._j_first + self._j_tail

    def _padded(self, x: torch.Tensor, lengths: torch.Tensor, total: int) -> torch.Tensor:
        """(B, L) -> (B, total): ``_left`` reflected samples, the signal, then each item reflected
        at its own end ``n`` (orig index ``n + r`` takes ``x[n - 2 - r]``), so a padded batch gives
        what one-by-one calls give."""
        b, L = x.shape
        left = self._left
        head = x[:, torch.arange(left, 0, -1, device=x.device).clamp_max(max(L - 1, 0))]
        # Samples an item with T frames needs past its last real sample, at most (any T >= 1).
        right = max(0, (self._stft_frames(0) - 1) * self.hop_length + self.n_fft - left)
        width = max(total, left + L + right)
        out = x.new_empty(b, width)
        out[:, :left] = head
        out[:, left : left + L] = x
        out[:, left + L :] = 0.0
        if right > 0:
            r = torch.arange(right, device=x.device)
            n = lengths.to(x.device).clamp(0, L).view(-1, 1)
            src = (n - 2 - r).clamp(min=0, max=max(L - 1, 0))
            out.scatter_(1, left + n + r, torch.gather(x, 1, src))
        return out[:, :total]

    def log_mel(self, x: torch.Tensor, lengths: torch.Tensor, t_max: int) -> torch.Tensor:
        """Log-mel of the STFT frames needed for ``t_max`` output frames: (B, L) -> (B, F, n_mels),
        ``F = t_max * subsampling - j_first + j_tail``; row ``k`` is STFT frame ``k + j_first``."""
        f_total = self._stft_frames(t_max)
        total = (f_total - 1) * self.hop_length + self.n_fft
        xp = self._padded(x, lengths, total)
        blocks = []
        for k0 in range(0, f_total, self.block_frames):
            k1 = min(f_total, k0 + self.block_frames)
            seg = xp[:, k0 * self.hop_length : (k1 - 1) * self.hop_length + self.n_fft]
            spec = torch.stft(
                seg,
                n_fft=self.n_fft,
                hop_length=self.hop_length,
                win_length=self.win_length,
                window=self.window,
                center=False,
                return_complex=True,
            )  # (B, n_fft//2+1, k1-k0)
            power = spec.real.square() + spec.imag.square()
            mel = torch.matmul(power.transpose(1, 2), self.mel_fb)
            blocks.append(torch.log10(mel.clamp_min(self.log_floor)))
        return torch.cat(blocks, dim=1) if len(blocks) > 1 else blocks[0]

    def mean(self, logmel: torch.Tensor, t_lengths: torch.Tensor) -> torch.Tensor:
        """(B, F, n_mels), (B,) output frames -> (B, n_mels) mean over STFT frames ``[0, T*subsampling)``."""
        k = torch.arange(logmel.size(1), device=logmel.device) + self._j_first
        valid = (k >= 0)[None, :] & (k[None, :] < (t_lengths.to(logmel.device) * self.subsampling)[:, None])
        weights = valid.to(logmel.dtype) / valid.sum(1, keepdim=True).clamp_min(1)
        return torch.bmm(weights[:, None, :], logmel)[:, 0]

    def recording_mean(self, waveform: torch.Tensor) -> torch.Tensor:
        """The (n_mels,) mean log-mel of a whole recording (1-D waveform): what :meth:`forward`
        subtracts for the whole recording, and what a chunk of it must be given as ``feats_mean``."""
        if waveform.dim() != 1:
            raise ValueError(f"expected a 1-D waveform, got shape {tuple(waveform.shape)}")
        x = waveform.float()[None]
        lengths = torch.tensor([x.size(1)], device=x.device)
        t = self.num_frames(x.size(1))
        if t == 0:
            return x.new_zeros(self.n_mels)
        with torch.no_grad():
            return self.mean(self.log_mel(x, lengths, t), self.num_frames(lengths))[0]

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        input: torch.Tensor,
        input_lengths: Optional[torch.Tensor] = None,
        feats_mean: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Waveforms -> spliced, subsampled, mean-normalised log-mel features.

        Args:
            input: (B, L) float waveforms at ``fs`` (padding after each item's length is ignored).
            input_lengths: (B,) samples per item (None: all L).
            feats_mean: (B, n_mels) log-mel means to subtract instead of the item's own mean: the
                per-recording mean when the items are chunks of longer recordings (ESPnet data
                name ``speech_mean`` / ``enroll_mean``). Needs ``mean_norm=True``.

        Returns:
            feats (B, T, n_mels * (2*context+1)) with ``T = num_frames(L)`` (frames past an item's
            own count are 0), and feats_lengths (B,) = ``num_frames(input_lengths)``.
        """
        if input.dim() != 2:
            raise ValueError(f"expected (B, L) waveforms, got shape {tuple(input.shape)}")
        b, L = input.shape
        if input_lengths is None:
            input_lengths = torch.full((b,), L, dtype=torch.long, device=input.device)
        if input_lengths.shape != (b,):
            raise ValueError(f"input_lengths must have shape ({b},), got {tuple(input_lengths.shape)}")
        if feats_mean is not None:
            if not self.mean_norm:
                raise ValueError("feats_mean was given but mean_norm=False")
            if feats_mean.shape != (b, self.n_mels):
                raise ValueError(f"feats_mean must have shape ({b}, {self.n_mels}), got {tuple(feats_mean.shape)}")
        feats, t_lens, _ = self._features(input.float(), input_lengths.long(), feats_mean)
        return feats, t_lens

    def _features(
        self, x: torch.Tensor, lengths: torch.Tensor, feats_mean: Optional[torch.Tensor]
    ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        b, L = x.shape
        t_max = self.num_frames(L)
        t_lens = self.num_frames(lengths)
        out_dim = self.output_size()
        if t_max == 0:
            return x.new_zeros(b, 0, out_dim), t_lens, None
        logmel = self.log_mel(x, lengths, t_max)  # (B, F, M)
        m = None
        if self.mean_norm:
            m = self.mean(logmel, t_lens) if feats_mean is None else feats_mean.to(logmel)
            logmel = logmel - m[:, None, :]
        # Output t uses rows [t*sub + centre - context - j_first, ... + 2*context].
        start = self.subsampling // 2 - self.context - self._j_first
        width = 2 * self.context + 1
        view = logmel[:, start:].unfold(1, width, self.subsampling)[:, :t_max]  # (B, T, M, width)
        feats = view.transpose(2, 3).reshape(b, t_max, out_dim)  # still a view of logmel
        mask = torch.arange(t_max, device=feats.device)[None, :] < t_lens.to(feats.device)[:, None]
        return feats * mask[..., None], t_lens, m  # the one copy

    def extract(self, waveform: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """One whole recording (1-D waveform) -> (features (T, D), its (n_mels,) log-mel mean):
        what ``extract_feats`` stores, from one analysis. The mean is zeros with ``mean_norm=False``
        and for recordings shorter than one frame."""
        if waveform.dim() != 1:
            raise ValueError(f"expected a 1-D waveform, got shape {tuple(waveform.shape)}")
        x = waveform.float()[None]
        with torch.no_grad():
            feats, _, m = self._features(x, torch.tensor([x.size(1)], device=x.device), None)
        if m is None:
            m = x.new_zeros(1, self.n_mels)
        return feats[0], m[0]
