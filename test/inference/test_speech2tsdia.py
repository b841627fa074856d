"""Speech2TSDiarization: one pass vs windows, batching, enrollment sources, RTTM, options, safe loading."""

import argparse
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from espnet2_tsdia.formats.rttm import read_rttm, write_rttm
from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend
from espnet2_tsdia.inference.model_files import ModelLoadError, load_model, load_state_dict
from espnet2_tsdia.inference.postprocess import PostprocessOptions
from espnet2_tsdia.inference.speech2tsdia import EvalKnobs, Speech2TSDiarization, resolve_options
from espnet2_tsdia.layers.mask import lengths_to_mask
from espnet2_tsdia.losses.tsdia_loss import build_loss
from espnet2_tsdia.model import TSDiarizationModel
from espnet2_tsdia.networks.abs_network import AbsTSDiaNetwork, NetworkOutput
from espnet2_tsdia.networks.registry import build_network

FS = 8000


class LocalNetwork(AbsTSDiaNetwork):
    """Test double: frame t's logits depend on frame t and the enrollment mean only."""

    num_classes = 4

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(345, 4)
        self.enroll_head = nn.Linear(345, 4)

    def encode(self, feats, feats_lens, enroll, enroll_lens):
        mask = lengths_to_mask(enroll_lens, enroll.size(1))[..., None]
        emb = (enroll * mask).sum(1) / enroll_lens[:, None]
        logits = self.head(feats) + self.enroll_head(emb)[:, None]
        return NetworkOutput(logits=logits, lens=feats_lens, frame_emb=feats, enroll_emb=emb)

    def enrollment_embedding(self, enroll, enroll_lens):
        raise NotImplementedError


def make_model(attention="softmax", network=None, seed=0):
    torch.manual_seed(seed)
    if network is None:
        stack = dict(d_model=16, num_layers=1, num_heads=2, attention_type=attention, nb_features=8, dropout=0.0)
        network = build_network("encoder", input_size=345, num_classes=4, encoder_conf=stack)
    return TSDiarizationModel(frontend=TSDiaFbankFrontend(), normalize=None, network=network, loss=build_loss())


def signal(seconds, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * FS))).astype(np.float32)


SPEECH = signal(7.35)  # 73 frames
CLIPS = {"alice": signal(1.0, 1), "bob": signal(2.3, 2)}


def test_softmax_one_pass_equals_a_window_that_covers_the_recording():
    model = make_model("softmax")
    whole = Speech2TSDiarization(model=model)(SPEECH, reco="r", enroll_clips=CLIPS)
    for window in (73, 100):
        s2d = Speech2TSDiarization(model=model, knobs=EvalKnobs(sliding_window=window))
        assert s2d.window == window and s2d.plan(73) == [(0, 73)]
        got = s2d(SPEECH, reco="r", enroll_clips=CLIPS)
        for spk in CLIPS:
            assert got.posteriors[spk].shape == (73, 4)
            np.testing.assert_array_equal(got.posteriors[spk], whole.posteriors[spk])


def test_windows_stitch_to_the_whole_for_a_local_model():
    model = make_model(network=LocalNetwork())
    whole = Speech2TSDiarization(model=model)(SPEECH, reco="r", enroll_clips=CLIPS)
    s2d = Speech2TSDiarization(model=model, knobs=EvalKnobs(max_duration=2.0, window_overlap=7, batch_size=3))
    assert s2d.plan(73) == [(0, 20), (13, 33), (26, 46), (39, 59), (52, 72), (53, 73)]
    got = s2d(SPEECH, reco="r", enroll_clips=CLIPS)
    for spk in CLIPS:
        np.testing.assert_allclose(got.posteriors[spk], whole.posteriors[spk], rtol=0, atol=1e-6)


def test_softmax_runs_windows_and_linear_one_pass():
    knobs = EvalKnobs(sliding_window=50)
    soft = Speech2TSDiarization(model=make_model("softmax"), knobs=knobs)
    assert soft.quadratic and (soft.window, soft.overlap) == (50, 12)
    lin = Speech2TSDiarization(model=make_model("linear"), knobs=knobs)
    assert not lin.quadratic and lin.window is None and lin.plan(5000) == [(0, 5000)]
    capped = Speech2TSDiarization(model=make_model("linear"), knobs=EvalKnobs(sliding_window=50, max_duration=3.0))
    assert (capped.window, capped.overlap) == (30, 7)
    with pytest.raises(ValueError, match=r"window_overlap \(50 frames\) must be shorter than the window \(50 frames\)"):
        Speech2TSDiarization(model=make_model("softmax"), knobs=EvalKnobs(sliding_window=50, window_overlap=50))


def test_softmax_windows_differ_from_one_pass_but_stay_posteriors():
    model = make_model("softmax")
    got = Speech2TSDiarization(model=model, knobs=EvalKnobs(sliding_window=30))(SPEECH, reco="r", enroll_clips=CLIPS)
    for p in got.posteriors.values():
        np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)


def test_batch_size_does_not_change_the_posteriors():
    model = make_model("softmax")
    calls = []
    one = Speech2TSDiarization(model=model, knobs=EvalKnobs(batch_size=1, sliding_window=30))
    a = one(SPEECH, reco="r", enroll_clips=CLIPS, progress=lambda d, t: calls.append((d, t)))
    b = Speech2TSDiarization(model=model, knobs=EvalKnobs(batch_size=8, sliding_window=30))(
        SPEECH, reco="r", enroll_clips=CLIPS
    )
    assert calls == [(k, 6) for k in range(1, 7)]  # 2 targets x 3 windows
    for spk in CLIPS:
        np.testing.assert_allclose(a.posteriors[spk], b.posteriors[spk], rtol=0, atol=1e-5)


def test_oracle_regions_are_rows_of_the_recording_features():
    s2d = Speech2TSDiarization(model=make_model("linear"))
    got = s2d(SPEECH, reco="r", enroll_regions={"A": (10, 30)})
    feats = s2d.features(SPEECH)
    want = s2d.posteriors_from_features(feats, {"A": feats[10:30]})
    np.testing.assert_array_equal(got.posteriors["A"], want["A"])
    with pytest.raises(ValueError, match=r"region \[60, 80\) of 'A' is outside the 73 frames"):
        s2d(SPEECH, reco="r", enroll_regions={"A": (60, 80)})
    with pytest.raises(ValueError, match="no target speaker"):
        s2d(SPEECH, reco="r")


def test_a_clip_is_normalised_with_the_mean_of_the_recording_it_enrolls_for():
    # a quiet first half and a loud second half: the clip (from the loud half) has its own mean
    rec = np.concatenate([signal(4.0, 3), 5 * signal(4.0, 4)])
    s2d = Speech2TSDiarization(model=make_model("linear"))
    feats = s2d.features(rec)
    clip = rec[5 * FS : 7 * FS]  # frames 50..70 of the recording, on the frame grid
    as_enrolled = s2d.enrollment_features(feats, {"A": clip}, {}, speech=rec)["A"]
    # away from the clip's edges (splicing context), its frames are the recording's frames
    inner = slice(2, -2)
    np.testing.assert_allclose(as_enrolled[inner].numpy(), feats[50:70][inner].numpy(), atol=1e-4)
    own_mean = s2d.features(clip)
    assert float((own_mean[inner] - feats[50:70][inner]).abs().mean()) > 0.5
    # and the whole call uses it: a clip cut from the recording decides like its oracle region
    by_clip = s2d(rec, reco="r", enroll_clips={"A": clip}).posteriors["A"]
    by_region = s2d(rec, reco="r", enroll_regions={"A": (50, 70)}).posteriors["A"]
    np.testing.assert_allclose(by_clip, by_region, atol=0.05)


def test_rttm_is_valid_and_round_trips(tmp_path):
    s2d = Speech2TSDiarization(model=make_model("linear"), postprocess=PostprocessOptions(threshold=0.3))
    result = s2d(SPEECH, reco="rec1", enroll_clips=CLIPS)
    assert result.turns, "threshold 0.3 on an untrained model should give some turns"
    for spk, active in result.activity.items():
        frames = sum(round(t.duration * 10) for t in result.turns if t.speaker == spk)
        assert frames == int(active.sum())
    path = tmp_path / "hyp.rttm"
    write_rttm(path, result.turns)
    for line in path.read_text().splitlines():
        f = line.split()
        assert len(f) == 10 and f[0] == "SPEAKER" and f[1] == "rec1" and float(f[4]) > 0 and f[7] in CLIPS
    back = read_rttm(path)
    assert [(t.speaker, round(t.onset, 3), round(t.end, 3)) for t in back] == [
        (t.speaker, round(t.onset, 3), round(t.end, 3)) for t in result.turns
    ]


def test_resolve_options_config_then_overrides():
    knobs, post = resolve_options(
        {"batch_size": 4, "beam_width": 3, "sliding_window": 500, "max_duration": None, "threshold": 0.4},
        {"batch_size": 2, "threshold": None, "median_filter": 5},
    )
    assert knobs == EvalKnobs(batch_size=2, beam_width=3, sliding_window=500)
    assert post == PostprocessOptions(threshold=0.4, median_filter=5, beam_width=3)
    with pytest.raises(ValueError, match="unknown key 'beam' in cfg.yaml: eval_knobs"):
        resolve_options({"beam": 2}, source="cfg.yaml: eval_knobs")
    with pytest.raises(ValueError, match="eval_knobs.batch_size must be >= 1, got 0"):
        resolve_options({"batch_size": 0})


def test_label_type_must_match_the_training():
    with pytest.raises(ValueError, match="label_type 'binary' differs from the label_scheme 'powerset'"):
        Speech2TSDiarization(model=make_model(), knobs=EvalKnobs(label_type="binary"))
    s2d = Speech2TSDiarization(model=make_model(), knobs=EvalKnobs(label_type="custom"))
    assert s2d.readout.target_classes == (1, 3)


class NotATensor:
    pass


def test_model_files_load_tensors_only(tmp_path):
    model = make_model("linear")
    good = tmp_path / "model.pth"
    torch.save(model.state_dict(), good)
    assert set(load_state_dict(good)) == set(model.state_dict())
    evil = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(1), "payload": NotATensor()}, evil)
    with pytest.raises(ModelLoadError, match="objects other than tensors"):
        load_state_dict(evil)
    ckpt = tmp_path / "checkpoint.pth"
    torch.save({"model": model.state_dict(), "reporter": {"epoch": 3}}, ckpt)
    with pytest.raises(ModelLoadError, match="a training checkpoint.pth is not a model file"):
        load_state_dict(ckpt)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(pickle.dumps([1, 2]) + b"garbage")
    with pytest.raises(ModelLoadError, match="junk.pth"):
        load_state_dict(junk)


def test_load_model_is_strict(tmp_path):
    import yaml

    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"label_scheme": "powerset"}))
    state = make_model("linear").state_dict()
    del state["network.head.bias"]
    torch.save(state, tmp_path / "model.pth")

    def build(args: argparse.Namespace):
        return make_model("linear")

    with pytest.raises(ModelLoadError, match="do not fit the model.*network.head.bias"):
        load_model(tmp_path / "config.yaml", tmp_path / "model.pth", build_model=build)


def test_a_recording_shorter_than_one_frame_gives_empty_results(tmp_path):
    from espnet2.layers.global_mvn import GlobalMVN

    np.savez(tmp_path / "stats.npz", count=np.array(10.0), sum=np.zeros(345), sum_square=np.full(345, 10.0))
    model = make_model("linear")
    model.normalize = GlobalMVN(tmp_path / "stats.npz")  # crashes on 0 frames: must not be reached
    s2d = Speech2TSDiarization(model=model)
    result = s2d(np.zeros(799, np.float32), reco="r", enroll_clips=CLIPS)
    assert {k: v.shape for k, v in result.posteriors.items()} == {"alice": (0, 4), "bob": (0, 4)}
    assert result.turns == [] and all(a.shape == (0,) for a in result.activity.values())
    with pytest.raises(ValueError, match=r"enrollment clip of 'alice' \(799 samples\) is shorter than one frame"):
        s2d(SPEECH, reco="r", enroll_clips={"alice": np.ones(799, np.float32)})
