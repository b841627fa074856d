"""Model types: packing, every type x attention builds, padding, batching, causality, overfit."""

import pytest
import torch

from espnet2_tsdia.networks.decoder import DecoderNetwork
from espnet2_tsdia.networks.encoder import EncoderNetwork
from espnet2_tsdia.networks.encoder_decoder import EncoderDecoderNetwork
from espnet2_tsdia.networks.joint import concat_enroll_mixture, take_mixture
from espnet2_tsdia.networks.registry import MODEL_STACKS, NETWORK_TYPES, build_network
from espnet2_tsdia.stacks.transformer import TransformerStack

F_IN, C = 5, 4
STACK = dict(d_model=8, num_layers=2, num_heads=2, nb_features=8, dropout=0.0)
# (model_type, attention_type) with the attention that fits each stack.
CASES = [
    ("encoder", "softmax"),
    ("encoder", "linear"),
    ("decoder", "softmax"),
    ("decoder", "causal_linear"),
    ("encoder_decoder", "softmax"),
    ("encoder_decoder", "causal_linear"),
]


def make_network(model_type, attention_type, **overrides):
    enc = dict(STACK, attention_type="linear" if attention_type == "causal_linear" else attention_type)
    dec = dict(STACK, attention_type=attention_type, **overrides)
    return build_network(model_type, input_size=F_IN, num_classes=C, encoder_conf=enc, decoder_conf=dec)


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    feats, enroll = torch.randn(3, 9, F_IN, generator=g), torch.randn(3, 4, F_IN, generator=g)
    return feats, torch.tensor([9, 6, 2]), enroll, torch.tensor([4, 1, 3])


def nan_padded(x, lens):
    pad = torch.arange(x.size(1))[None, :] >= lens[:, None]
    return x.masked_fill(pad[..., None], float("nan"))


def test_registry_is_the_three_model_types():
    assert sorted(NETWORK_TYPES) == ["decoder", "encoder", "encoder_decoder"]
    with pytest.raises(ValueError, match=r"'rnn'.*encoder_decoder"):
        build_network("rnn")


def test_packing_puts_real_enrollment_then_real_mixture_frames_first():
    enroll = torch.tensor([[[1.0], [2.0], [0.0]], [[5.0], [0.0], [0.0]]])
    feats = torch.tensor([[[10.0], [11.0]], [[20.0], [21.0]]])
    x, lens, segment = concat_enroll_mixture(enroll, torch.tensor([2, 1]), feats, torch.tensor([2, 1]))
    assert x[..., 0].tolist() == [[1, 2, 10, 11, 0], [5, 20, 0, 0, 0]]
    assert lens.tolist() == [4, 2]
    assert segment.tolist() == [[0, 0, 1, 1, 1], [0, 1, 1, 1, 1]]
    assert take_mixture(x, torch.tensor([2, 1]), 2)[..., 0].tolist() == [[10, 11], [20, 0]]


@pytest.mark.parametrize("model_type,attention_type", CASES)
def test_every_type_builds_and_runs(model_type, attention_type):
    net = make_network(model_type, attention_type).eval()
    feats, lens, enroll, enroll_lens = batch()
    logits, out_lens = net(feats, lens, enroll, enroll_lens)
    assert logits.shape == (3, 9, C)
    assert torch.equal(out_lens, lens)
    assert net.enrollment_embedding(enroll, enroll_lens).shape == (3, 8)


@pytest.mark.parametrize("model_type,attention_type", CASES)
def test_padding_invariance_and_batched_equals_one_by_one(model_type, attention_type):
    torch.manual_seed(0)
    net = make_network(model_type, attention_type).eval()
    feats, lens, enroll, enroll_lens = batch()
    logits, _ = net(feats, lens, enroll, enroll_lens)
    logits_nan, _ = net(nan_padded(feats, lens), lens, nan_padded(enroll, enroll_lens), enroll_lens)
    real = torch.arange(9)[None, :] < lens[:, None]
    torch.testing.assert_close(logits[real], logits_nan[real], atol=1e-5, rtol=0)
    for b in range(3):
        n, e = lens[b].item(), enroll_lens[b].item()
        alone, _ = net(feats[b : b + 1, :n], lens[b : b + 1], enroll[b : b + 1, :e], enroll_lens[b : b + 1])
        torch.testing.assert_close(logits[b : b + 1, :n], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("model_type,attention_type", [c for c in CASES if c[0] != "encoder"])
def test_decoder_types_are_online(model_type, attention_type):
    """Mixture frames after t do not change the logits up to t (the enrollment comes first)."""
    torch.manual_seed(0)
    net = make_network(model_type, attention_type).eval()
    feats, lens, enroll, enroll_lens = batch()
    t = 3
    later = feats.clone()
    later[:, t + 1 :] = torch.randn_like(later[:, t + 1 :])
    a, _ = net(feats, lens, enroll, enroll_lens)
    b, _ = net(later, lens, enroll, enroll_lens)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1], atol=1e-6, rtol=0)
    assert not torch.allclose(a[0, t + 1 :], b[0, t + 1 :])


def test_encoder_type_is_bidirectional():
    net = make_network("encoder", "softmax").eval()
    feats, lens, enroll, enroll_lens = batch()
    later = feats.clone()
    later[:, 5:] = torch.randn_like(later[:, 5:])
    assert not torch.allclose(
        net(feats, lens, enroll, enroll_lens)[0][0, :3], net(later, lens, enroll, enroll_lens)[0][0, :3]
    )


def test_enrollment_changes_the_output():
    net = make_network("encoder_decoder", "softmax").eval()
    feats, lens, enroll, enroll_lens = batch()
    other = torch.randn_like(enroll)
    assert not torch.allclose(net(feats, lens, enroll, enroll_lens)[0], net(feats, lens, other, enroll_lens)[0])


@pytest.mark.parametrize("model_type", ["decoder", "encoder_decoder"])
def test_enrollment_embedding_equals_the_one_of_the_pass(model_type):
    """Causal decoder: enrollment frames never see the mixture, so the standalone embedding
    equals the one pooled in the joint pass; encoder_decoder: same encoder pass."""
    net = make_network(model_type, "softmax").eval()
    feats, lens, enroll, enroll_lens = batch()
    out = net.encode(feats, lens, enroll, enroll_lens)
    torch.testing.assert_close(net.enrollment_embedding(enroll, enroll_lens), out.enroll_emb, atol=1e-5, rtol=1e-5)


def test_each_model_type_gives_its_stacks_their_role_defaults():
    """One stack class in every role: a decoder is causal unless told otherwise, the decoder of
    encoder_decoder cross-attends, an encoder is bidirectional."""
    assert {t: sorted(roles) for t, roles in MODEL_STACKS.items()} == {
        "encoder": ["encoder"],
        "decoder": ["decoder"],
        "encoder_decoder": ["decoder", "encoder"],
    }
    enc = build_network("encoder", encoder_conf=STACK).stack
    dec = build_network("decoder", decoder_conf=STACK).stack
    ed = build_network("encoder_decoder", encoder_conf=STACK, decoder_conf=STACK)
    assert (enc.causal, enc.use_cross_attention) == (False, False)
    assert (dec.causal, dec.use_cross_attention) == (True, False)
    assert (ed.encoder.causal, ed.encoder.use_cross_attention) == (False, False)
    assert (ed.decoder.causal, ed.decoder.use_cross_attention) == (True, True)
    # causal by default, so a decoder's linear attention needs the causal kernel ...
    with pytest.raises(ValueError, match="causal_linear"):
        build_network("decoder", decoder_conf=dict(STACK, attention_type="linear"))
    # ... and a config that says causal: false gets the bidirectional one
    assert (
        build_network("decoder", decoder_conf=dict(STACK, attention_type="linear", causal=False)).stack.causal is False
    )


def test_cross_attention_must_match_the_model_type():
    with pytest.raises(ValueError, match="cross-attention without an encoder"):
        DecoderNetwork(decoder=TransformerStack(causal=True, use_cross_attention=True, **STACK))
    with pytest.raises(ValueError, match="model_type 'encoder' has no encoder output"):
        EncoderNetwork(encoder=TransformerStack(use_cross_attention=True, **STACK))
    with pytest.raises(ValueError, match="needs decoder.use_cross_attention=True"):
        EncoderDecoderNetwork(
            encoder=TransformerStack(**STACK),
            decoder=TransformerStack(causal=True, use_cross_attention=False, **STACK),
        )
    with pytest.raises(ValueError, match="needs decoder.use_cross_attention=True"):
        make_network("encoder_decoder", "softmax", use_cross_attention=False)
    with pytest.raises(ValueError, match="encodes the enrollment alone"):
        build_network("encoder_decoder", encoder_conf=dict(STACK, use_cross_attention=True), decoder_conf=STACK)


def test_encoder_and_decoder_widths_may_differ():
    net = EncoderDecoderNetwork(
        encoder=TransformerStack(**dict(STACK, d_model=12, num_heads=3)),
        decoder=TransformerStack(causal=True, use_cross_attention=True, **STACK),
        input_size=F_IN,
        num_classes=C,
    )
    feats, lens, enroll, enroll_lens = batch()
    out = net.encode(feats, lens, enroll, enroll_lens)
    assert out.logits.shape == (3, 9, C) and out.enroll_emb.shape == (3, 8)


def test_redraw_hooks_reach_every_linear_layer():
    net = make_network("encoder_decoder", "causal_linear", feature_redraw_interval=1, auto_check_redraw=False)
    # encoder: 2 self-attention; decoder: 2 self + 2 cross.
    assert net.redraw_projections() == 6
    net.train()
    assert net.maybe_redraw_projections() is True
    net.eval()
    assert net.maybe_redraw_projections() is False


@pytest.mark.parametrize("model_type,attention_type", CASES)
def test_tiny_batch_overfits(model_type, attention_type):
    torch.manual_seed(0)
    net = make_network(model_type, attention_type)
    feats, lens, enroll, enroll_lens = batch()
    labels = torch.randint(0, C, (3, 9), generator=torch.Generator().manual_seed(1))
    real = torch.arange(9)[None, :] < lens[:, None]
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    for _ in range(40):
        logits, _ = net(feats, lens, enroll, enroll_lens)
        loss = torch.nn.functional.cross_entropy(logits[real], labels[real])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    logits, _ = net(feats, lens, enroll, enroll_lens)
    accuracy = (logits.argmax(-1)[real] == labels[real]).float().mean().item()
    assert accuracy == 1.0, accuracy
