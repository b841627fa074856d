"""Auxiliary loss terms: an L2 norm regulariser and an enrollment-vs-frames InfoNCE."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def norm_regularizer(emb: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean over real frames of the squared L2 norm of ``emb``.

    Args:
        emb: (B, T, D) frame embeddings (the head's input) or logits (B, T, C).
        valid: (B, T) bool, real frames.

    Returns:
        scalar; 0 when no frame is real.
    """
    sq = emb.float().pow(2).sum(-1)
    return (sq * valid).sum() / valid.sum().clamp_min(1)


def enrollment_info_nce(
    frame_emb: torch.Tensor,
    enroll_emb: torch.Tensor,
    active: torch.Tensor,
    *,
    temperature: float = 0.1,
) -> torch.Tensor:
    """InfoNCE between each target-active frame and the enrollments of the batch.

    Each example b of the batch is (recording, target speaker). For every frame t where
    the target of b is active, the frame embedding h_bt should be closer (cosine) to b's own
    enrollment embedding e_b than to the enrollments e_k of the other examples, which are
    the negatives (other target speakers):

        loss_bt = -log( exp(cos(h_bt, e_b) / tau) / sum_k exp(cos(h_bt, e_k) / tau) )

    averaged over all active real frames of the batch. Examples do not carry global speaker
    ids, so two examples with the same target speaker in one batch count as negatives of
    each other (rare with a shuffled corpus). With batch size 1 there are no negatives and
    the term is 0.

    Args:
        frame_emb: (B, T, D) frame embeddings.
        enroll_emb: (B, D) enrollment embeddings in the same space.
        active: (B, T) bool, real frames where the target is active.
        temperature: tau > 0.

    Returns:
        scalar; 0 when no frame is active.
    """
    h = F.normalize(frame_emb.float(), dim=-1)
    e = F.normalize(enroll_emb.float(), dim=-1)
    logits = torch.einsum("btd,kd->btk", h, e) / temperature  # (B, T, B)
    own = torch.arange(h.size(0), device=h.device)
    logp_own = logits.log_softmax(-1)[own, :, own]  # (B, T): log p(own enrollment)
    return -(logp_own * active).sum() / active.sum().clamp_min(1)
