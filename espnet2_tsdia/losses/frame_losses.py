"""Per-frame main losses and their registry.

Every function maps ``(logits (B, T, C), targets, options)`` to a per-frame loss (B, T);
:class:`~espnet2_tsdia.losses.tsdia_loss.TSDiaLoss` masks padding and reduces.

Targets come in two kinds:

- class indices (B, T) long, single-label schemes (``powerset``, ``binary``); -1 marks
  padding or frames to ignore. The network output is a softmax over C classes.
- multi-hot (B, T, C) float, the multi-label ``speaker_id`` scheme. Each output is a sigmoid.

Conventions shared by all losses:

- ``label_smoothing`` e moves every target toward the uniform value of its output: one-hot
  y -> (1 - e) y + e / C for softmax outputs; y -> (1 - e) y + e / 2 for sigmoid outputs.
- element-wise losses (``bce``, ``bce_with_logits``, ``mse``, ``mae``) average over the C
  classes of a frame, so a mean over frames equals torch's element-wise mean.
- ``class_weights`` (C,) multiply the per-class terms; a mean reduction still divides by the
  number of frames, not by the sum of weights (unlike ``F.cross_entropy(weight=...)``).
- focal (Lin et al., 2017): ``focal_gamma`` g multiplies each class term by (1 - p_c)^g
  (softmax) or the binary term by (1 - p_t)^g (sigmoid); ``focal_alpha`` a weights positive
  classes by a and the negative one by 1 - a. For softmax outputs the negative class is class
  0 (silence in ``powerset``, "target inactive" in ``binary``), so with C = 2 this is exactly
  the binary alpha of the paper; for sigmoid outputs negative means y = 0.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F


def is_index_targets(targets: torch.Tensor) -> bool:
    """True for (B, T) integer class indices, False for (B, T, C) multi-hot floats."""
    return not torch.is_floating_point(targets)


def target_distribution(targets: torch.Tensor, num_classes: int, label_smoothing: float) -> torch.Tensor:
    """Smoothed (B, T, C) float targets from indices (softmax outputs) or multi-hot (sigmoid)."""
    if is_index_targets(targets):
        y = F.one_hot(targets.clamp_min(0).long(), num_classes).float()
        return y * (1.0 - label_smoothing) + label_smoothing / num_classes
    return targets.float() * (1.0 - label_smoothing) + label_smoothing / 2.0


def _alpha_weights(num_classes: int, focal_alpha: Optional[float], device) -> torch.Tensor:
    """Per-class alpha for softmax outputs: 1 - alpha for class 0, alpha for the others."""
    if focal_alpha is None:
        return torch.ones(num_classes, device=device)
    w = torch.full((num_classes,), float(focal_alpha), device=device)
    w[0] = 1.0 - focal_alpha
    return w


def _class_weights(class_weights: Optional[torch.Tensor], num_classes: int, device) -> torch.Tensor:
    if class_weights is None:
        return torch.ones(num_classes, device=device)
    if class_weights.numel() != num_classes:
        raise ValueError(f"class_weights has {class_weights.numel()} entries but the logits have {num_classes} classes")
    return class_weights.to(device=device, dtype=torch.float32)


def softmax_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    label_smoothing: float = 0.0,
    class_weights: Optional[torch.Tensor] = None,
    focal_alpha: Optional[float] = None,
    focal_gamma: Optional[float] = None,
) -> torch.Tensor:
    """-sum_c w_c a_c q_c (1 - p_c)^g log p_c per frame (softmax outputs, index targets).

    With g = 0 and no alpha this is ``F.cross_entropy(..., reduction="none",
    label_smoothing=e, weight=w)`` exactly.
    """
    if not is_index_targets(targets):
        raise ValueError(
            "cross_entropy/focal over a softmax need class-index targets (B, T); for multi-hot "
            f"targets of shape {tuple(targets.shape)} use bce_with_logits or focal"
        )
    c = logits.size(-1)
    logp = F.log_softmax(logits.float(), dim=-1)
    q = target_distribution(targets, c, label_smoothing)
    terms = q * _class_weights(class_weights, c, logits.device) * _alpha_weights(c, focal_alpha, logits.device)
    if focal_gamma:
        terms = terms * (1.0 - logp.exp()).pow(focal_gamma)
    return -(terms * logp).sum(-1)


def sigmoid_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    label_smoothing: float = 0.0,
    class_weights: Optional[torch.Tensor] = None,
    focal_alpha: Optional[float] = None,
    focal_gamma: Optional[float] = None,
) -> torch.Tensor:
    """Binary cross-entropy with logits per class, mean over classes (sigmoid outputs).

    Index targets are turned into one-hot vectors first. The focal form is
    -[a y (1 - p)^g log p + (1 - a)(1 - y) p^g log(1 - p)].
    """
    c = logits.size(-1)
    x = logits.float()
    if is_index_targets(targets):
        y = F.one_hot(targets.clamp_min(0).long(), c).float()
        y = y * (1.0 - label_smoothing) + label_smoothing / 2.0
    else:
        y = target_distribution(targets, c, label_smoothing)
    log_p, log_not_p = F.logsigmoid(x), F.logsigmoid(-x)
    pos, neg = y, 1.0 - y
    if focal_alpha is not None:
        pos, neg = pos * focal_alpha, neg * (1.0 - focal_alpha)
    if focal_gamma:
        pos = pos * (1.0 - log_p.exp()).pow(focal_gamma)
        neg = neg * log_p.exp().pow(focal_gamma)
    loss = -(pos * log_p + neg * log_not_p) * _class_weights(class_weights, c, logits.device)
    return loss.mean(-1)


def focal(
    logits: torch.Tensor, targets: torch.Tensor, *, focal_gamma: Optional[float] = None, **options
) -> torch.Tensor:
    """Focal loss: softmax focal for index targets, sigmoid focal for multi-hot targets.

    ``focal_gamma`` None means the paper's default 2.0; ``cross_entropy`` with
    ``focal_gamma`` set computes the same softmax focal loss.
    """
    gamma = 2.0 if focal_gamma is None else focal_gamma
    if is_index_targets(targets):
        return softmax_cross_entropy(logits, targets, focal_gamma=gamma, **options)
    return sigmoid_cross_entropy(logits, targets, focal_gamma=gamma, **options)


def probabilities(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Softmax over classes for index targets, element-wise sigmoid for multi-hot."""
    x = logits.float()
    return x.softmax(-1) if is_index_targets(targets) else x.sigmoid()


def _elementwise(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    def loss(
        logits: torch.Tensor,
        targets: torch.Tensor,
        *,
        label_smoothing: float = 0.0,
        class_weights: Optional[torch.Tensor] = None,
        **_unused,
    ) -> torch.Tensor:
        c = logits.size(-1)
        p = probabilities(logits, targets)
        y = target_distribution(targets, c, label_smoothing)
        return (fn(p, y) * _class_weights(class_weights, c, logits.device)).mean(-1)

    return loss


#: ``bce``: binary cross-entropy on the probabilities (softmax for index targets, sigmoid
#: for multi-hot), log clamped at -100 as torch does.
bce = _elementwise(lambda p, y: F.binary_cross_entropy(p, y, reduction="none"))
#: ``mse``: squared error between probabilities and (smoothed) one-hot / multi-hot targets.
mse = _elementwise(lambda p, y: (p - y) ** 2)
#: ``mae``: absolute error between probabilities and targets.
mae = _elementwise(lambda p, y: (p - y).abs())

FRAME_LOSSES: Dict[str, Callable[..., torch.Tensor]] = {
    "cross_entropy": softmax_cross_entropy,
    "focal": focal,
    "bce": bce,
    "bce_with_logits": sigmoid_cross_entropy,
    "mse": mse,
    "mae": mae,
}

#: Main losses that accept focal_alpha / focal_gamma.
FOCAL_CAPABLE = ("cross_entropy", "focal", "bce_with_logits")
