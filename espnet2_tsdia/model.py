"""TSDiarizationModel: the AbsESPnetModel that ESPnet's trainer drives."""

from __future__ import annotations

import logging
from typing import Callable, Dict, Optional, Tuple

import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel

from espnet2_tsdia.layers.mel_warp import MelWarp
from espnet2_tsdia.losses.frame_losses import is_index_targets
from espnet2_tsdia.losses.tsdia_loss import TSDiaLoss
from espnet2_tsdia.networks.abs_network import AbsTSDiaNetwork

logger = logging.getLogger(__name__)


def _powerset_activity(logits: torch.Tensor) -> torch.Tensor:
    p = logits.float().softmax(-1)
    return (p[..., 1] + p[..., 3]) > 0.5


# scheme -> (target activity from labels, target activity predicted from logits).
# powerset: class = target + 2 * [others active]; target active in classes 1 and 3.
TARGET_ACTIVITY: Dict[str, Tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]] = {
    "powerset": (lambda y: (y == 1) | (y == 3), _powerset_activity),
    "binary": (lambda y: y == 1, lambda x: x.argmax(-1) == 1),
    "speaker_id": (lambda y: y[..., 0] > 0.5, lambda x: x[..., 0] > 0.0),
}


# scheme -> frames where the target talks and nobody else does (binary labels do not say
# whether others talk: every target frame counts).
TARGET_SOLO: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "powerset": lambda y: y == 1,
    "binary": lambda y: y == 1,
    "speaker_id": lambda y: (y[..., 0] > 0.5) & ~(y[..., 1:] > 0.5).any(-1),
}


class TSDiarizationModel(AbsESPnetModel):
    """Frontend -> normalisation -> network -> loss, for speech, enrollment and frame labels.

    Args:
        frontend: waveform -> features (B, L) -> (B, T, F), applied to speech and
            enrollment; None when the inputs already are features.
        normalize: feature normalisation (e.g. GlobalMVN), applied to both; or None.
        network: an :class:`AbsTSDiaNetwork` (encoder, decoder or encoder_decoder).
        loss: a :class:`TSDiaLoss` with reduction mean or sum (the trainer needs a scalar).
        label_scheme: powerset, binary or speaker_id: how target activity is read from the
            labels (contrastive loss, target-activity error); None for a custom scheme
            (then neither is available).
        mel_warp: training-time vocal-tract-length perturbation of the mixture and enrollment
            features (one factor per example, before normalisation); None: none.
    """

    def __init__(
        self,
        *,
        frontend: Optional[AbsFrontend],
        normalize: Optional[AbsNormalize],
        network: AbsTSDiaNetwork,
        loss: TSDiaLoss,
        label_scheme: Optional[str] = "powerset",
        mel_warp: Optional[MelWarp] = None,
    ):
        super().__init__()
        if loss.reduction not in ("mean", "sum"):
            raise ValueError(f"training needs a scalar loss: reduction must be 'mean' or 'sum', got {loss.reduction!r}")
        if label_scheme is not None and label_scheme not in TARGET_ACTIVITY:
            raise ValueError(f"unknown label_scheme {label_scheme!r}; valid: {sorted(TARGET_ACTIVITY)} or None")
        if label_scheme is None and (loss.contrastive or loss.speaker_contrastive):
            raise ValueError("the contrastive loss needs target activity: set label_scheme")
        if loss.speaker_contrastive and getattr(network, "similarity", None) is None:
            raise ValueError(
                "loss_conf.speaker_contrastive needs a network with speaker-similarity conditioning "
                "(model_type_conf.similarity)"
            )
        self.frontend = frontend
        self.normalize = normalize
        self.network = network
        self.loss = loss
        self.label_scheme = label_scheme
        self.mel_warp = mel_warp

    def _frontend(
        self, x: torch.Tensor, x_lens: torch.Tensor, mean: Optional[torch.Tensor]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The frontend (if any), given the recording mean when the data supplies one."""
        if self.frontend is None:
            return x, x_lens
        if mean is None:
            return self.frontend(x, x_lens)
        return self.frontend(x, x_lens, feats_mean=mean)

    def _features(
        self, x: torch.Tensor, x_lens: torch.Tensor, mean: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, L) waveforms or (B, T, F) features -> normalised features (B, T, F), lengths.

        ``mean`` (B, n_mels) is the per-recording log-mel mean that chunked waveform training
        supplies (data names ``speech_mean`` / ``enroll_mean``): a chunk is normalised with its
        recording's mean, as the whole recording is at inference (docs/preprocessing.md).
        """
        x, x_lens = self._frontend(x, x_lens, mean)
        return self._normalize(x, x_lens)

    def _normalize(self, x: torch.Tensor, x_lens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.normalize is not None:
            x, x_lens = self.normalize(x, x_lens)
        return x, x_lens

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        enroll: torch.Tensor,
        enroll_lengths: torch.Tensor,
        labels: torch.Tensor,
        labels_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """One training/validation step.

        Args:
            speech: (B, L) waveforms with a frontend, else (B, T, F) features.
            speech_lengths: (B,) samples or frames.
            enroll: (B, L_e) or (B, E, F) enrollment.
            enroll_lengths: (B,).
            labels: (B, T) class indices (-1 padding) or (B, T, C) multi-hot floats.
            labels_lengths: (B,) label frames; must equal the feature frame counts.
            kwargs: optional ``speech_mean`` / ``enroll_mean`` (B, n_mels) per-recording
                log-mel means for the frontend (chunked waveform training).

        Returns:
            (loss, stats, weight) made gatherable; stats: loss, accuracy, loss_main and the
            auxiliary terms, and ``target_error`` (see :meth:`target_activity_error`).

        Raises:
            ValueError: when the feature frame counts differ from ``labels_lengths`` (it
                never trims; reading the counts costs one device sync per batch).
        """
        feats, feats_lens = self._frontend(speech, speech_lengths, kwargs.get("speech_mean"))
        enroll_feats, enroll_lens = self._frontend(enroll, enroll_lengths, kwargs.get("enroll_mean"))
        if self.mel_warp is not None:  # identity in eval mode
            feats, enroll_feats = self.mel_warp(feats, enroll_feats)
        feats, feats_lens = self._normalize(feats, feats_lens)
        enroll_feats, enroll_lens = self._normalize(enroll_feats, enroll_lens)
        if feats_lens.shape != labels_lengths.shape or not torch.equal(feats_lens.cpu(), labels_lengths.cpu()):
            raise ValueError(
                f"feature frames {feats_lens.tolist()} differ from label frames "
                f"{labels_lengths.tolist()}; the frontend and the labels disagree on the frame rate"
            )
        # Equal lengths: whatever differs between the two tensors' sizes is padding only.
        t = min(feats.size(1), labels.size(1))
        feats, labels = feats[:, :t], labels[:, :t]
        if is_index_targets(labels):
            labels = labels.long()

        out = self.network.encode(feats, feats_lens, enroll_feats, enroll_lens)
        active = solo = None
        if self.label_scheme is not None:
            active = TARGET_ACTIVITY[self.label_scheme][0](labels)
            solo = TARGET_SOLO[self.label_scheme](labels)
        loss, loss_stats = self.loss(
            out.logits,
            labels,
            feats_lens,
            frame_emb=out.frame_emb,
            enroll_emb=out.enroll_emb,
            target_active=active,
            speaker_frames=out.speaker_frames,
            speaker_enroll=out.speaker_enroll,
            target_solo=solo,
        )
        valid = self.loss.valid_frames(labels, feats_lens)
        stats: Dict[str, torch.Tensor] = {"loss": loss.detach(), **loss_stats}
        stats["accuracy"] = self.frame_accuracy(out.logits.detach(), labels, valid)
        if active is not None:
            predicted = TARGET_ACTIVITY[self.label_scheme][1](out.logits.detach())
            stats["target_error"] = self.target_activity_error(predicted, active, valid)
        weight = torch.tensor(feats.size(0), device=loss.device)
        return force_gatherable((loss, stats, weight), loss.device)

    @staticmethod
    def frame_accuracy(logits: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Share of real frames whose argmax equals the label (index labels), or of real
        (frame, class) pairs whose sigmoid decision (logit > 0) equals the label (multi-hot)."""
        if is_index_targets(labels):
            correct = (logits.argmax(-1) == labels) & valid
            return correct.sum() / valid.sum().clamp_min(1)
        correct = ((logits > 0) == (labels > 0.5)) & valid[..., None]
        return correct.sum() / (valid.sum() * labels.size(-1)).clamp_min(1)

    @staticmethod
    def target_activity_error(predicted: torch.Tensor, reference: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(missed + false-alarm target frames) / reference target frames, over real frames:
        a DER restricted to the target speaker, without collar (0 when the target never speaks
        and nothing is predicted)."""
        miss = (reference & ~predicted & valid).sum()
        false_alarm = (predicted & ~reference & valid).sum()
        return (miss + false_alarm) / (reference & valid).sum().clamp_min(1)

    def collect_feats(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        enroll: Optional[torch.Tensor] = None,
        enroll_lengths: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Dict[str, torch.Tensor]:
        """Features of the mixture before normalisation, for ESPnet's ``collect_stats``
        (the statistics GlobalMVN uses). Returns {"feats": (B, T, F), "feats_lengths": (B,)}."""
        feats, feats_lens = self._frontend(speech, speech_lengths, kwargs.get("speech_mean"))
        return {"feats": feats, "feats_lengths": feats_lens}

    def maybe_redraw_projections(self) -> bool:
        """Count one training step for FAVOR+ redraws (stacks with auto_check_redraw=False)."""
        return self.network.maybe_redraw_projections()

    def redraw_projections(self) -> int:
        """Redraw every FAVOR+ projection now; returns how many."""
        return self.network.redraw_projections()
