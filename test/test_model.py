"""TSDiarizationModel: ESPnet's (loss, stats, weight) contract, frame-count checks, metrics."""

from typing import Tuple

import pytest
import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend

from espnet2_tsdia.losses.tsdia_loss import build_loss
from espnet2_tsdia.model import TSDiarizationModel
from espnet2_tsdia.networks.registry import build_network

F_IN = 4
STACK = dict(d_model=8, num_layers=1, num_heads=2, nb_features=8, dropout=0.0)


class FramingFrontend(AbsFrontend):
    """Test double: cuts a waveform into non-overlapping frames of F_IN samples."""

    def output_size(self) -> int:
        return F_IN

    def forward(self, x: torch.Tensor, x_lens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        n = x.size(1) // F_IN
        return x[:, : n * F_IN].reshape(x.size(0), n, F_IN), x_lens // F_IN


def make_model(model_type="encoder", frontend=None, num_classes=4, label_scheme="powerset", **loss):
    net = build_network(model_type, input_size=F_IN, num_classes=num_classes, encoder_conf=STACK, decoder_conf=STACK)
    return TSDiarizationModel(
        frontend=frontend, normalize=None, network=net, loss=build_loss(**loss), label_scheme=label_scheme
    )


def feature_batch():
    g = torch.Generator().manual_seed(0)
    lens = torch.tensor([6, 4])
    labels = torch.randint(0, 4, (2, 6), generator=g).masked_fill(torch.arange(6)[None, :] >= lens[:, None], -1)
    return dict(
        speech=torch.randn(2, 6, F_IN, generator=g),
        speech_lengths=lens,
        enroll=torch.randn(2, 3, F_IN, generator=g),
        enroll_lengths=torch.tensor([3, 2]),
        labels=labels,
        labels_lengths=lens.clone(),
    )


def test_forward_returns_gatherable_loss_stats_weight():
    model = make_model(contrastive=0.1, norm_reg=0.01)
    loss, stats, weight = model(**feature_batch())
    assert loss.shape == (1,) and torch.isfinite(loss).all() and loss.requires_grad
    assert set(stats) == {"loss", "loss_main", "loss_norm_reg", "loss_contrastive", "accuracy", "target_error"}
    assert all(v.shape == (1,) and not v.requires_grad for v in stats.values())
    assert weight.tolist() == [2]


@pytest.mark.parametrize("model_type", ["encoder", "decoder", "encoder_decoder"])
def test_every_model_type_trains_through_the_wrapper(model_type):
    torch.manual_seed(0)
    model = make_model(model_type)
    batch = feature_batch()
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    first = None
    for _ in range(30):
        loss, stats, _ = model(**batch)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    _, stats, _ = model(**batch)
    assert stats["accuracy"].item() == 1.0 and stats["target_error"].item() == 0.0
    assert stats["loss"].item() < 0.2 * first


def test_frame_count_mismatch_raises_and_never_trims():
    batch = feature_batch()
    batch["labels_lengths"] = torch.tensor([6, 3])
    with pytest.raises(ValueError, match=r"feature frames \[6, 4\] differ from label frames \[6, 3\]"):
        make_model()(**batch)


def test_waveforms_go_through_the_frontend_and_are_checked():
    g = torch.Generator().manual_seed(0)
    model = make_model(frontend=FramingFrontend())
    batch = dict(
        speech=torch.randn(2, 24, generator=g),
        speech_lengths=torch.tensor([24, 17]),  # 6 and 4 frames
        enroll=torch.randn(2, 12, generator=g),
        enroll_lengths=torch.tensor([12, 8]),
        labels=torch.zeros(2, 6, dtype=torch.long),
        labels_lengths=torch.tensor([6, 4]),
    )
    loss, _, _ = model(**batch)
    assert torch.isfinite(loss).all()
    batch["speech_lengths"] = torch.tensor([24, 20])  # 5 frames: one more than labelled
    with pytest.raises(ValueError, match=r"\[6, 5\] differ from label frames \[6, 4\]"):
        model(**batch)
    feats = model.collect_feats(speech=batch["speech"], speech_lengths=batch["speech_lengths"])
    assert feats["feats"].shape == (2, 6, F_IN)
    assert feats["feats_lengths"].tolist() == [6, 5]


def test_collect_feats_without_frontend_returns_the_features():
    batch = feature_batch()
    out = make_model().collect_feats(**batch)
    assert torch.equal(out["feats"], batch["speech"])
    assert torch.equal(out["feats_lengths"], batch["speech_lengths"])


def test_multi_hot_speaker_id_labels():
    batch = feature_batch()
    batch["labels"] = (torch.rand(2, 6, 3, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    model = make_model(num_classes=3, label_scheme="speaker_id", main="bce_with_logits", contrastive=0.1)
    loss, stats, _ = model(**batch)
    assert torch.isfinite(loss).all() and 0.0 <= stats["accuracy"].item() <= 1.0


def test_frame_accuracy_and_target_error_by_hand():
    # powerset classes: 0 silence, 1 target, 2 others, 3 target + others
    labels = torch.tensor([[1, 3, 0, 2, -1]])
    logits = torch.full((1, 5, 4), -5.0)
    for t, c in enumerate([1, 2, 0, 3, 1]):  # predicted classes
        logits[0, t, c] = 5.0
    valid = torch.tensor([[True, True, True, True, False]])
    acc = TSDiarizationModel.frame_accuracy(logits, labels, valid)
    assert acc.item() == pytest.approx(2 / 4)
    ref = (labels == 1) | (labels == 3)
    pred = logits.softmax(-1)[..., [1, 3]].sum(-1) > 0.5
    # reference target frames 0, 1; predicted 0, 3: one miss (1), one false alarm (3).
    err = TSDiarizationModel.target_activity_error(pred, ref, valid)
    assert err.item() == pytest.approx(2 / 2)


def test_bad_model_configurations_raise():
    net = build_network("encoder", input_size=F_IN, encoder_conf=STACK)
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum', got 'none'"):
        TSDiarizationModel(frontend=None, normalize=None, network=net, loss=build_loss(reduction="none"))
    with pytest.raises(ValueError, match="unknown label_scheme 'bio'"):
        TSDiarizationModel(frontend=None, normalize=None, network=net, loss=build_loss(), label_scheme="bio")
    with pytest.raises(ValueError, match="contrastive loss needs target activity"):
        TSDiarizationModel(
            frontend=None, normalize=None, network=net, loss=build_loss(contrastive=0.1), label_scheme=None
        )


def test_redraw_hooks_are_exposed_for_the_trainer():
    net = build_network(
        "encoder",
        input_size=F_IN,
        encoder_conf=dict(STACK, attention_type="linear", feature_redraw_interval=1, auto_check_redraw=False),
    )
    model = TSDiarizationModel(frontend=None, normalize=None, network=net, loss=build_loss())
    before = net.stack.blocks[0].self_attn.kernel.projection.clone()
    model.train()
    assert model.maybe_redraw_projections() is True
    assert not torch.equal(before, net.stack.blocks[0].self_attn.kernel.projection)
    assert model.redraw_projections() == 1


def test_recording_mean_reaches_the_frontend_for_chunks():
    """Chunked waveform training: a chunk is normalised with its recording's log-mel mean
    (``speech_mean``), so its features equal the same frames of the whole recording's features."""
    from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend

    frontend = TSDiaFbankFrontend()
    g = torch.Generator().manual_seed(0)
    wave = torch.randn(1, 8000 * 4, generator=g) * torch.linspace(0.1, 1.0, 8000 * 4)  # 4 s, 40 frames
    whole, _ = frontend(wave, torch.tensor([wave.size(1)]))
    _, mean = frontend.extract(wave[0])
    chunk = wave[:, 8000:16000]  # frames 10..19
    model = TSDiarizationModel(
        frontend=frontend,
        normalize=None,
        network=build_network("encoder", input_size=345, num_classes=4, encoder_conf=STACK),
        loss=build_loss(),
    )
    lens = torch.tensor([chunk.size(1)])
    with_mean = model.collect_feats(speech=chunk, speech_lengths=lens, speech_mean=mean[None])["feats"]
    own_mean = model.collect_feats(speech=chunk, speech_lengths=lens)["feats"]
    # Inner frames (whose splicing context lies inside the chunk) match the whole recording.
    assert torch.allclose(with_mean[0, 1:-1], whole[0, 11:19], atol=1e-4)
    assert not torch.allclose(own_mean[0, 1:-1], whole[0, 11:19], atol=1e-2)
    batch = dict(
        speech=chunk,
        speech_lengths=lens,
        enroll=chunk[:, :4000],
        enroll_lengths=torch.tensor([4000]),
        labels=torch.zeros(1, 10, dtype=torch.long),
        labels_lengths=torch.tensor([10]),
    )
    model.eval()
    loss_mean, _, _ = model(**batch, speech_mean=mean[None], enroll_mean=mean[None])
    loss_own, _, _ = model(**batch)
    assert not torch.allclose(loss_mean, loss_own)
