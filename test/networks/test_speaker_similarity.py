"""Speaker-similarity conditioning: shapes, padding, its loss, and that the enrollment decides the answer.

The behaviour tests train a tiny network on a toy target-speaker task where only the enrollment
says which voice to follow: every "voice" is a Gaussian cloud of frames around its own mean, a
mixture alternates two voices, and the label is "the enrolled voice talks". Voices of the test
mixtures are never seen in training. (With 6 training voices instead of 40 the same network
learns its voices and fails the first test: it then marks one voice whatever the enrollment.)
"""

import pytest
import torch

from espnet2_tsdia.losses.tsdia_loss import build_loss
from espnet2_tsdia.model import TSDiarizationModel
from espnet2_tsdia.networks.registry import build_network
from espnet2_tsdia.networks.speaker_similarity import FrameSpeakerEncoder, SpeakerSimilarity

F_IN = 6
STACK = dict(d_model=16, num_layers=1, num_heads=2, nb_features=8, dropout=0.0, attention_type="linear")
DEC = dict(STACK, causal=False)  # offline decoder of the encoder_decoder type
SIM = dict(dim=8, num_layers=1, kernel_size=3, dropout=0.0)


def test_shapes_norms_and_zero_padding():
    sim = SpeakerSimilarity(input_size=F_IN, output_size=16, **SIM)
    g = torch.Generator().manual_seed(0)
    feats, enroll = torch.randn(2, 7, F_IN, generator=g), torch.randn(2, 5, F_IN, generator=g)
    cond, z, e = sim(feats, torch.tensor([7, 4]), enroll, torch.tensor([5, 2]))
    assert cond.shape == (2, 7, 16) and z.shape == (2, 7, 8) and e.shape == (2, 8)
    assert torch.allclose(z[0].norm(dim=-1), torch.ones(7), atol=1e-5)
    assert torch.allclose(e.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert z[1, 4:].abs().sum() == 0 and cond[1, 4:].abs().sum() == 0


def test_embeddings_do_not_depend_on_padding():
    enc = FrameSpeakerEncoder(input_size=F_IN, dim=8, num_layers=2, kernel_size=3, dropout=0.0).eval()
    sim = SpeakerSimilarity(input_size=F_IN, output_size=16, **SIM).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 5, F_IN, generator=g)
    enroll = torch.randn(1, 3, F_IN, generator=g)
    padded = torch.cat([x, torch.full((1, 4, F_IN), 7.0)], dim=1)  # garbage after the real frames
    with torch.no_grad():
        assert torch.allclose(enc(x, torch.tensor([5])), enc(padded, torch.tensor([5]))[:, :5], atol=1e-6)
        alone = sim(x, torch.tensor([5]), enroll, torch.tensor([3]))
        batched = sim(
            torch.cat([padded, torch.randn(1, 9, F_IN, generator=g)]),
            torch.tensor([5, 9]),
            torch.cat([enroll, torch.randn(1, 3, F_IN, generator=g)]),
            torch.tensor([3, 3]),
        )
    cond, z, e = alone
    assert torch.allclose(cond[0], batched[0][0, :5], atol=1e-5)
    assert torch.allclose(z[0], batched[1][0, :5], atol=1e-6)
    assert torch.allclose(e[0], batched[2][0], atol=1e-6)


def test_bad_options_raise():
    with pytest.raises(ValueError, match="kernel_size must be odd and >= 1, got 4"):
        FrameSpeakerEncoder(input_size=F_IN, kernel_size=4)
    with pytest.raises(ValueError, match=r"similarity: unknown keys \['width'\]"):
        build_network("encoder_decoder", input_size=F_IN, encoder_conf=STACK, decoder_conf=DEC, similarity={"width": 3})
    net = build_network("encoder_decoder", input_size=F_IN, encoder_conf=STACK, decoder_conf=DEC)
    with pytest.raises(ValueError, match="speaker_contrastive needs a network with speaker-similarity conditioning"):
        TSDiarizationModel(frontend=None, normalize=None, network=net, loss=build_loss(speaker_contrastive=0.5))


@pytest.mark.parametrize("model_type", ["encoder", "decoder", "encoder_decoder"])
def test_every_model_type_takes_the_conditioning(model_type):
    dec = dict(STACK, attention_type="causal_linear", causal=True) if model_type == "decoder" else DEC
    net = build_network(model_type, input_size=F_IN, encoder_conf=STACK, decoder_conf=dec, similarity=SIM)
    g = torch.Generator().manual_seed(2)
    out = net.encode(
        torch.randn(2, 6, F_IN, generator=g),
        torch.tensor([6, 3]),
        torch.randn(2, 4, F_IN, generator=g),
        torch.tensor([4, 4]),
    )
    assert (
        out.logits.shape == (2, 6, 4) and out.speaker_frames.shape == (2, 6, 8) and out.speaker_enroll.shape == (2, 8)
    )


# --------------------------------------------------------------------------- the toy task
def voices(n, seed):
    """n voice means, far apart in feature space."""
    return 3.0 * torch.randn(n, F_IN, generator=torch.Generator().manual_seed(seed))


def toy_batch(means, batch, g, frames=24, enroll_frames=6):
    """Mixtures of two voices talking in turns (blocks of 4 frames) and silence; the target
    (powerset labels: 0 silence, 1 target, 2 others) is the voice of the enrollment."""
    feats, enroll, labels = [], [], []
    for _ in range(batch):
        a, b = torch.randperm(len(means), generator=g)[:2].tolist()
        who = torch.randint(0, 3, (frames // 4,), generator=g).repeat_interleave(4)  # 0 silence, 1 a, 2 b
        x = 0.3 * torch.randn(frames, F_IN, generator=g)
        x[who == 1] += means[a]
        x[who == 2] += means[b]
        feats.append(x)
        enroll.append(means[a] + 0.3 * torch.randn(enroll_frames, F_IN, generator=g))
        labels.append(torch.where(who == 1, 1, torch.where(who == 2, 2, 0)))
    n = torch.full((batch,), frames)
    return torch.stack(feats), n, torch.stack(enroll), torch.full((batch,), enroll_frames), torch.stack(labels), n


def train_toy(similarity, steps=200, seed=0, num_voices=40):
    torch.manual_seed(seed)
    net = build_network("encoder_decoder", input_size=F_IN, encoder_conf=STACK, decoder_conf=DEC, similarity=similarity)
    model = TSDiarizationModel(frontend=None, normalize=None, network=net, loss=build_loss())
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    train_voices = voices(num_voices, seed=10)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        loss, _, _ = model(*toy_batch(train_voices, 16, g))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def target_prob(model, feats, n, enroll, en):
    with torch.no_grad():
        logits, _ = model.network(feats, n, enroll, en)
    p = logits.softmax(-1)
    return p[..., 1] + p[..., 3]


@pytest.fixture(scope="module")
def toy_model():
    return train_toy(SIM)


def test_two_enrollments_of_one_mixture_give_different_answers(toy_model):
    # one mixture of two unseen voices; enrolling voice a or voice b must swap the answer
    means = voices(2, seed=99)
    g = torch.Generator().manual_seed(5)
    who = torch.tensor([1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0])
    x = 0.3 * torch.randn(24, F_IN, generator=g)
    x[who == 1] += means[0]
    x[who == 2] += means[1]
    feats = x[None].repeat(2, 1, 1)
    enroll = torch.stack([m + 0.3 * torch.randn(6, F_IN, generator=g) for m in means])
    p = target_prob(toy_model, feats, torch.tensor([24, 24]), enroll, torch.tensor([6, 6]))
    assert (p[0] - p[1]).abs().max() > 0.5
    decided = p > 0.5
    assert decided[0].tolist() == (who == 1).tolist()
    assert decided[1].tolist() == (who == 2).tolist()


def test_conditioning_generalises_to_unseen_voices(toy_model):
    g = torch.Generator().manual_seed(7)
    feats, n, enroll, en, labels, _ = toy_batch(voices(8, seed=123), 32, g)
    p = target_prob(toy_model, feats, n, enroll, en)
    # a third of the frames are the target's: answering "never" scores 0.67, a model that knows
    # only its training voices about 0.7
    assert ((p > 0.5) == (labels == 1)).float().mean() > 0.9
