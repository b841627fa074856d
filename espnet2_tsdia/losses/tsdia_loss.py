"""The TS-DIA training loss: a registered main frame loss plus optional auxiliary terms."""

from __future__ import annotations

import logging
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from espnet2_tsdia.layers.mask import lengths_to_mask
from espnet2_tsdia.losses.auxiliary import enrollment_info_nce, norm_regularizer
from espnet2_tsdia.losses.frame_losses import FOCAL_CAPABLE, FRAME_LOSSES, is_index_targets

logger = logging.getLogger(__name__)

REDUCTIONS = ("mean", "sum", "none")


class TSDiaLoss(nn.Module):
    """Main frame loss (plan ``training.loss.*``) + ``norm_reg``, ``contrastive`` and
    ``speaker_contrastive`` terms.

    total = reduce(main per frame) + norm_reg * R + contrastive * N + speaker_contrastive * S where

    - R (:func:`~espnet2_tsdia.losses.auxiliary.norm_regularizer`) is the mean squared L2
      norm of the frame embeddings (the head's input) when given, else of the logits;
    - N (:func:`~espnet2_tsdia.losses.auxiliary.enrollment_info_nce`) is InfoNCE between the
      target-active frames and the batch's enrollment embeddings;
    - S is the same InfoNCE on the speaker embeddings of the speaker-similarity conditioning
      (:mod:`espnet2_tsdia.networks.speaker_similarity`), over the frames where the target talks
      alone: it trains the frame speaker encoder to tell voices apart.

    Padded frames (t >= lens[b]) and frames with index target -1 never contribute. The
    auxiliary terms are batch means whatever ``reduction`` says, so they cannot be used
    with ``reduction="none"``.

    Args:
        main: a key of :data:`~espnet2_tsdia.losses.frame_losses.FRAME_LOSSES`.
        label_smoothing: e in [0, 1); see :mod:`espnet2_tsdia.losses.frame_losses`.
        reduction: mean (over real frames), sum (over real frames) or none (B, T).
        focal_alpha: in [0, 1] or None; cross_entropy, focal and bce_with_logits only.
        focal_gamma: >= 0 or None; with cross_entropy it turns CE into the focal loss.
        norm_reg: weight of R, or None/0 for none.
        contrastive: weight of N, or None/0 for none.
        class_weights: (C,) per-class weights, or None.
        contrastive_temperature: tau of the InfoNCE.
        speaker_contrastive: weight of S, or None/0 for none.
    """

    def __init__(
        self,
        *,
        main: str = "cross_entropy",
        label_smoothing: float = 0.0,
        reduction: str = "mean",
        focal_alpha: Optional[float] = None,
        focal_gamma: Optional[float] = None,
        norm_reg: Optional[float] = None,
        contrastive: Optional[float] = None,
        class_weights: Optional[Sequence[float]] = None,
        contrastive_temperature: float = 0.1,
        speaker_contrastive: Optional[float] = None,
    ):
        super().__init__()
        if main not in FRAME_LOSSES:
            raise ValueError(f"unknown loss {main!r}; valid: {sorted(FRAME_LOSSES)}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; valid: {list(REDUCTIONS)}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        if focal_alpha is not None and not 0.0 <= focal_alpha <= 1.0:
            raise ValueError(f"focal_alpha must be in [0, 1] or None, got {focal_alpha}")
        if focal_gamma is not None and focal_gamma < 0:
            raise ValueError(f"focal_gamma must be >= 0 or None, got {focal_gamma}")
        if (focal_alpha is not None or focal_gamma is not None) and main not in FOCAL_CAPABLE:
            raise ValueError(
                f"focal_alpha/focal_gamma apply to {list(FOCAL_CAPABLE)}, got main={main!r} "
                f"with focal_alpha={focal_alpha}, focal_gamma={focal_gamma}"
            )
        for name, value in (
            ("norm_reg", norm_reg),
            ("contrastive", contrastive),
            ("speaker_contrastive", speaker_contrastive),
        ):
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0 or None, got {value}")
        if reduction == "none" and (norm_reg or contrastive or speaker_contrastive):
            raise ValueError(
                "auxiliary terms are batch means and need reduction 'mean' or 'sum', got "
                f"reduction='none' with norm_reg={norm_reg}, contrastive={contrastive}, "
                f"speaker_contrastive={speaker_contrastive}"
            )
        if contrastive_temperature <= 0:
            raise ValueError(f"contrastive_temperature must be > 0, got {contrastive_temperature}")
        self.main = main
        self.reduction = reduction
        self.norm_reg = norm_reg or 0.0
        self.contrastive = contrastive or 0.0
        self.speaker_contrastive = speaker_contrastive or 0.0
        self.contrastive_temperature = contrastive_temperature
        self.options = dict(label_smoothing=label_smoothing, focal_alpha=focal_alpha, focal_gamma=focal_gamma)
        weights = None if class_weights is None else torch.tensor(list(class_weights), dtype=torch.float32)
        # Not persistent: configuration, rebuilt from the config; keeps checkpoints clean.
        self.register_buffer("class_weights", weights, persistent=False)

    def valid_frames(self, targets: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """(B, T) bool: within the length and (index targets) not -1."""
        valid = lengths_to_mask(lens, targets.size(1))
        if is_index_targets(targets):
            valid = valid & (targets >= 0)
        return valid

    def forward(
        self,
        logits: torch.Tensor,
        targets: torch.Tensor,
        lens: torch.Tensor,
        *,
        frame_emb: Optional[torch.Tensor] = None,
        enroll_emb: Optional[torch.Tensor] = None,
        target_active: Optional[torch.Tensor] = None,
        speaker_frames: Optional[torch.Tensor] = None,
        speaker_enroll: Optional[torch.Tensor] = None,
        target_solo: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Compute the loss.

        Args:
            logits: (B, T, C).
            targets: (B, T) long class indices (-1 = ignore) or (B, T, C) float multi-hot.
            lens: (B,) real frames per example.
            frame_emb: (B, T, D) frame embeddings (norm_reg, contrastive).
            enroll_emb: (B, D) enrollment embeddings (contrastive).
            target_active: (B, T) bool target activity (contrastive).
            speaker_frames: (B, T, D_s) frame speaker embeddings (speaker_contrastive).
            speaker_enroll: (B, D_s) enrollment speaker embeddings (speaker_contrastive).
            target_solo: (B, T) bool, the target talks alone (speaker_contrastive).

        Returns:
            (loss: scalar, or (B, T) with reduction none and 0 at ignored frames;
             stats: detached ``loss_main`` and, when enabled, ``loss_norm_reg``,
             ``loss_contrastive`` and ``loss_speaker``).
        """
        expected = logits.shape[:2] if is_index_targets(targets) else logits.shape
        if targets.shape != expected:
            raise ValueError(
                f"targets of shape {tuple(targets.shape)} do not fit logits of shape "
                f"{tuple(logits.shape)}: expected {tuple(expected)}"
            )
        valid = self.valid_frames(targets, lens)
        per_frame = FRAME_LOSSES[self.main](logits, targets, class_weights=self.class_weights, **self.options)
        per_frame = per_frame.masked_fill(~valid, 0.0)
        if self.reduction == "none":
            return per_frame, {}
        main = per_frame.sum()
        if self.reduction == "mean":
            main = main / valid.sum().clamp_min(1)
        loss = main
        stats = {"loss_main": main.detach()}
        if self.norm_reg:
            reg = norm_regularizer(logits if frame_emb is None else frame_emb, valid)
            loss = loss + self.norm_reg * reg
            stats["loss_norm_reg"] = reg.detach()
        if self.contrastive:
            if frame_emb is None or enroll_emb is None or target_active is None:
                raise ValueError("contrastive > 0 needs frame_emb, enroll_emb and target_active")
            nce = enrollment_info_nce(
                frame_emb, enroll_emb, target_active & valid, temperature=self.contrastive_temperature
            )
            loss = loss + self.contrastive * nce
            stats["loss_contrastive"] = nce.detach()
        if self.speaker_contrastive:
            if speaker_frames is None or speaker_enroll is None or target_solo is None:
                raise ValueError(
                    "speaker_contrastive > 0 needs the speaker embeddings of a network with speaker-similarity "
                    "conditioning (model_type_conf.similarity) and target_solo"
                )
            nce = enrollment_info_nce(
                speaker_frames, speaker_enroll, target_solo & valid, temperature=self.contrastive_temperature
            )
            loss = loss + self.speaker_contrastive * nce
            stats["loss_speaker"] = nce.detach()
        return loss, stats


def build_loss(
    *,
    main: str = "cross_entropy",
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    focal_alpha: Optional[float] = None,
    focal_gamma: Optional[float] = None,
    norm_reg: Optional[float] = None,
    contrastive: Optional[float] = None,
    class_weights: Optional[Sequence[float]] = None,
    contrastive_temperature: float = 0.1,
    speaker_contrastive: Optional[float] = None,
) -> TSDiaLoss:
    """Build :class:`TSDiaLoss` from the plan's ``training.loss`` keys (``auxiliary.norm_reg``
    and ``auxiliary.contrastive`` flattened; ``speaker_contrastive`` is an extension)."""
    return TSDiaLoss(
        main=main,
        label_smoothing=label_smoothing,
        reduction=reduction,
        focal_alpha=focal_alpha,
        focal_gamma=focal_gamma,
        norm_reg=norm_reg,
        contrastive=contrastive,
        class_weights=class_weights,
        contrastive_temperature=contrastive_temperature,
        speaker_contrastive=speaker_contrastive,
    )
