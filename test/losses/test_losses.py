"""Losses: every registered loss, hand-computed values, padding, reductions, auxiliary terms."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.losses.auxiliary import enrollment_info_nce, norm_regularizer
from espnet2_tsdia.losses.frame_losses import FRAME_LOSSES
from espnet2_tsdia.losses.tsdia_loss import TSDiaLoss, build_loss

B, T, C = 2, 5, 4
LENS = torch.tensor([5, 3])
REAL = torch.arange(T)[None, :] < LENS[:, None]


def index_targets(seed=0):
    y = torch.randint(0, C, (B, T), generator=torch.Generator().manual_seed(seed))
    return y.masked_fill(~REAL, -1)


def multi_hot_targets(seed=0):
    return (torch.rand(B, T, C, generator=torch.Generator().manual_seed(seed)) > 0.5).float()


def logits(seed=0):
    return torch.randn(B, T, C, generator=torch.Generator().manual_seed(seed + 100))


def test_registry_is_the_plan_list():
    assert sorted(FRAME_LOSSES) == ["bce", "bce_with_logits", "cross_entropy", "focal", "mae", "mse"]


@pytest.mark.parametrize("main", sorted(FRAME_LOSSES))
@pytest.mark.parametrize("kind", ["index", "multi_hot"])
def test_every_loss_runs_and_ignores_padded_frames(main, kind):
    if main == "cross_entropy" and kind == "multi_hot":
        with pytest.raises(ValueError, match="class-index targets"):
            build_loss(main=main)(logits(), multi_hot_targets(), LENS)
        return
    targets = index_targets() if kind == "index" else multi_hot_targets()
    x = logits().requires_grad_(True)
    loss, stats = build_loss(main=main)(x, targets, LENS)
    assert loss.dim() == 0 and torch.isfinite(loss) and loss > 0
    assert torch.equal(stats["loss_main"], loss.detach())
    # Other logits and targets on padded frames: same loss, zero gradient there.
    x2 = torch.where(REAL[..., None], x.detach(), torch.full_like(x, 50.0))
    t2 = targets.clone()
    t2[1, 3:] = 1 if kind == "index" else 1.0 - t2[1, 3:]
    loss2, _ = build_loss(main=main)(x2, t2, LENS)
    torch.testing.assert_close(loss, loss2)
    loss.backward()
    assert torch.all(x.grad[1, 3:] == 0)


def test_cross_entropy_matches_torch_with_smoothing_and_weights():
    x, y = logits(), index_targets()
    w = [1.0, 2.0, 0.5, 1.5]
    loss, _ = build_loss(label_smoothing=0.1, class_weights=w, reduction="sum")(x, y, LENS)
    ref = F.cross_entropy(x[REAL], y[REAL], weight=torch.tensor(w), label_smoothing=0.1, reduction="none")
    torch.testing.assert_close(loss, ref.sum())
    mean, _ = build_loss(label_smoothing=0.1, class_weights=w)(x, y, LENS)
    torch.testing.assert_close(mean, ref.sum() / 8)  # divided by frames, not by weights


def test_label_smoothing_by_hand():
    # One frame, 2 classes, equal logits: p = (0.5, 0.5); CE = log 2 whatever the smoothing.
    x = torch.zeros(1, 1, 2)
    y = torch.tensor([[1]])
    loss, _ = build_loss(label_smoothing=0.2)(x, y, torch.tensor([1]))
    assert loss.item() == pytest.approx(math.log(2))
    # logits (0, log 3): p = (1/4, 3/4); q = (0.1, 0.9) with e = 0.2 over 2 classes.
    x = torch.tensor([[[0.0, math.log(3.0)]]])
    loss, _ = build_loss(label_smoothing=0.2)(x, y, torch.tensor([1]))
    assert loss.item() == pytest.approx(-(0.1 * math.log(0.25) + 0.9 * math.log(0.75)), rel=1e-6)


def test_focal_by_hand_and_as_cross_entropy_with_gamma():
    x = torch.tensor([[[0.0, math.log(3.0)]]])  # p = (1/4, 3/4)
    y, lens = torch.tensor([[1]]), torch.tensor([1])
    expected = -(0.25**2) * math.log(0.75)
    assert build_loss(main="focal")(x, y, lens)[0].item() == pytest.approx(expected, rel=1e-6)
    assert build_loss(focal_gamma=2.0)(x, y, lens)[0].item() == pytest.approx(expected, rel=1e-6)
    # alpha weights the positive classes (here class 1) by alpha.
    alpha = build_loss(main="focal", focal_alpha=0.25)(x, y, lens)[0].item()
    assert alpha == pytest.approx(0.25 * expected, rel=1e-6)
    negative = build_loss(main="focal", focal_alpha=0.25)(x, torch.tensor([[0]]), lens)[0].item()
    assert negative == pytest.approx(-0.75 * 0.75**2 * math.log(0.25), rel=1e-6)
    # gamma 0 is plain cross-entropy.
    torch.testing.assert_close(
        build_loss(main="focal", focal_gamma=0.0)(logits(), index_targets(), LENS)[0],
        build_loss()(logits(), index_targets(), LENS)[0],
    )


def test_sigmoid_focal_by_hand():
    x = torch.tensor([[[0.0, math.log(3.0)]]])  # sigmoids (1/2, 3/4)
    y = torch.tensor([[[0.0, 1.0]]])
    loss = build_loss(main="bce_with_logits", focal_gamma=1.0, focal_alpha=0.25)(x, y, torch.tensor([1]))[0]
    neg = -0.75 * 0.5 * math.log(0.5)
    pos = -0.25 * 0.25 * math.log(0.75)
    assert loss.item() == pytest.approx((neg + pos) / 2, rel=1e-6)


def test_bce_with_logits_matches_torch_for_both_target_kinds():
    x = logits()
    y = multi_hot_targets()
    loss = build_loss(main="bce_with_logits")(x, y, LENS)[0]
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(x[REAL], y[REAL]))
    yi = index_targets()
    loss = build_loss(main="bce_with_logits")(x, yi, LENS)[0]
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(x[REAL], F.one_hot(yi[REAL], C).float()))
    smoothed = build_loss(main="bce_with_logits", label_smoothing=0.2)(x, y, LENS)[0]
    torch.testing.assert_close(smoothed, F.binary_cross_entropy_with_logits(x[REAL], y[REAL] * 0.8 + 0.1))


def test_probability_losses_by_hand():
    x = torch.tensor([[[0.0, math.log(3.0)]]])  # softmax (1/4, 3/4)
    y, lens = torch.tensor([[1]]), torch.tensor([1])
    assert build_loss(main="mse")(x, y, lens)[0].item() == pytest.approx((0.25**2 + 0.25**2) / 2)
    assert build_loss(main="mae")(x, y, lens)[0].item() == pytest.approx(0.25)
    bce = -(math.log(0.75) + math.log(0.75)) / 2
    assert build_loss(main="bce")(x, y, lens)[0].item() == pytest.approx(bce, rel=1e-6)
    # multi-hot: sigmoids (1/2, 3/4) against (0, 1)
    ym = torch.tensor([[[0.0, 1.0]]])
    assert build_loss(main="mae")(x, ym, lens)[0].item() == pytest.approx((0.5 + 0.25) / 2)


def test_reductions():
    x, y = logits(), index_targets()
    none, _ = build_loss(reduction="none")(x, y, LENS)
    assert none.shape == (B, T) and torch.all(none[~REAL] == 0)
    total, _ = build_loss(reduction="sum")(x, y, LENS)
    mean, _ = build_loss(reduction="mean")(x, y, LENS)
    torch.testing.assert_close(total, none.sum())
    torch.testing.assert_close(mean, none.sum() / REAL.sum())


def test_ignore_index_inside_the_length():
    x, y = logits(), index_targets()
    y_ignored = y.clone()
    y_ignored[0, 1] = -1
    none, _ = build_loss(reduction="none")(x, y, LENS)
    mean, _ = build_loss()(x, y_ignored, LENS)
    keep = REAL.clone()
    keep[0, 1] = False
    torch.testing.assert_close(mean, none[keep].mean())


@settings(max_examples=25, deadline=None)
@given(lens=st.lists(st.integers(1, T), min_size=B, max_size=B), fill=st.floats(-1e3, 1e3))
def test_padded_frames_never_contribute(lens, fill):
    lens = torch.tensor(lens)
    real = torch.arange(T)[None, :] < lens[:, None]
    x = logits()
    y = index_targets().clamp_min(0)
    loss, _ = build_loss(label_smoothing=0.1)(x, y, lens)
    x_fill = torch.where(real[..., None], x, torch.full_like(x, fill))
    loss_fill, _ = build_loss(label_smoothing=0.1)(x_fill, y, lens)
    torch.testing.assert_close(loss, loss_fill)


def test_norm_regularizer_by_hand():
    emb = torch.tensor([[[3.0, 4.0], [1.0, 0.0]], [[0.0, 2.0], [9.0, 9.0]]])
    valid = torch.tensor([[True, True], [True, False]])
    assert norm_regularizer(emb, valid).item() == pytest.approx((25 + 1 + 4) / 3)
    x, y = logits(), index_targets()
    base, _ = build_loss()(x, y, LENS)
    with_reg, stats = build_loss(norm_reg=0.5)(x, y, LENS)
    torch.testing.assert_close(with_reg, base + 0.5 * norm_regularizer(x, REAL))  # logits when no embeddings
    frame_emb = torch.randn(B, T, 3)
    with_emb, stats = build_loss(norm_reg=0.5)(x, y, LENS, frame_emb=frame_emb)
    torch.testing.assert_close(stats["loss_norm_reg"], norm_regularizer(frame_emb, REAL))


def test_info_nce_by_hand():
    # Two examples; frame embeddings equal to their own enrollment or to the other one.
    enroll = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    frames = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 2.0], [5.0, 5.0]]])
    active = torch.tensor([[True, False], [True, False]])
    tau = 0.5
    # Each active frame: cos 1 with its own enrollment, 0 with the other one.
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + math.exp(0.0)))
    got = enrollment_info_nce(frames, enroll, active, temperature=tau)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # A frame closer to the other enrollment costs more.
    swapped = enrollment_info_nce(frames, enroll.flip(0), active, temperature=tau)
    assert swapped > got
    # Batch of one: no negatives, no loss; no active frame: no loss.
    assert enrollment_info_nce(frames[:1], enroll[:1], active[:1]).item() == 0.0
    assert enrollment_info_nce(frames, enroll, torch.zeros_like(active)).item() == 0.0


def test_contrastive_term_is_added_with_its_weight():
    x, y = logits(), index_targets()
    frame_emb, enroll_emb = torch.randn(B, T, 3), torch.randn(B, 3)
    active = (y == 1) | (y == 3)
    base, _ = build_loss()(x, y, LENS)
    total, stats = build_loss(contrastive=0.3)(
        x, y, LENS, frame_emb=frame_emb, enroll_emb=enroll_emb, target_active=active
    )
    nce = enrollment_info_nce(frame_emb, enroll_emb, active & REAL, temperature=0.1)
    torch.testing.assert_close(total, base + 0.3 * nce)
    torch.testing.assert_close(stats["loss_contrastive"], nce)
    with pytest.raises(ValueError, match="contrastive > 0 needs"):
        build_loss(contrastive=0.3)(x, y, LENS)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(main="hinge"), r"'hinge'.*bce_with_logits"),
        (dict(reduction="avg"), "'avg'"),
        (dict(label_smoothing=1.0), "got 1.0"),
        (dict(main="mse", focal_gamma=2.0), "main='mse' with focal_alpha=None, focal_gamma=2.0"),
        (dict(focal_alpha=1.5), "got 1.5"),
        (dict(focal_gamma=-1.0), "got -1.0"),
        (dict(norm_reg=-0.1), "norm_reg must be >= 0 or None, got -0.1"),
        (dict(reduction="none", contrastive=0.1), "reduction='none' with norm_reg=None, contrastive=0.1"),
        (dict(contrastive_temperature=0.0), "got 0.0"),
    ],
)
def test_bad_configurations_raise_naming_the_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TSDiaLoss(**kwargs)


def test_shape_and_class_weight_mismatches_raise():
    with pytest.raises(ValueError, match=r"expected \(2, 5\)"):
        build_loss()(logits(), index_targets()[:, :4], LENS)
    with pytest.raises(ValueError, match="class_weights has 3 entries but the logits have 4"):
        build_loss(class_weights=[1.0, 1.0, 1.0])(logits(), index_targets(), LENS)
