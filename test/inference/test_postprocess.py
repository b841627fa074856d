"""Post-processing: scheme readout, threshold, median filter, min durations, beam decoding."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.inference.postprocess import (
    PostprocessOptions,
    beam_decode,
    decoding_states,
    drop_short_runs,
    fill_short_gaps,
    median_filter,
    posteriors_from_logits,
    target_activity,
    target_probability,
    target_readout,
)

POWERSET = target_readout("powerset", 4)


def test_readout_is_asked_from_the_scheme():
    assert POWERSET.target_classes == (1, 3) and not POWERSET.multi_label
    assert target_readout("binary", 2).target_classes == (1,)
    sid = target_readout("speaker_id", 3)
    assert sid.multi_label and sid.target_classes == (0,)


def test_readout_errors():
    with pytest.raises(ValueError, match="has 4 classes but the model outputs 2"):
        target_readout("powerset", 2)
    with pytest.raises(ValueError, match="unknown label scheme 'nope'"):
        target_readout("nope", 4)


def test_target_probability_is_p1_plus_p3_for_powerset():
    post = np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]])
    np.testing.assert_allclose(target_probability(post, POWERSET), [0.6, 0.2])
    sid = target_readout("speaker_id", 2)
    np.testing.assert_allclose(target_probability(np.array([[0.9, 0.8], [0.2, 0.1]]), sid), [0.9, 0.2])
    with pytest.raises(ValueError, match=r"shape \(T, 4\)"):
        target_probability(np.zeros((3, 2)), POWERSET)


def test_posteriors_from_logits_softmax_or_sigmoid():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(posteriors_from_logits(logits, POWERSET).numpy(), [[0.25] * 4])
    sid = target_readout("speaker_id", 2)
    np.testing.assert_allclose(posteriors_from_logits(torch.tensor([[0.0, 0.0]]), sid).numpy(), [[0.5, 0.5]])


def test_threshold_decision_is_strictly_greater():
    post = np.array([[0.5, 0.5, 0, 0], [0.4, 0.3, 0, 0.3], [0.2, 0.1, 0.6, 0.1]])
    got = target_activity(post, POWERSET, PostprocessOptions(threshold=0.5))
    assert got.tolist() == [False, True, False]
    got = target_activity(post, POWERSET, PostprocessOptions(threshold=0.15))
    assert got.tolist() == [True, True, True]


def test_median_filter_exact():
    a = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0], bool)
    assert median_filter(a, 3).astype(int).tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert median_filter(a, 1).tolist() == a.tolist()
    # width 5: edges repeat the edge value (frame 0 sees 1,1,1,0,1)
    assert median_filter(a, 5).astype(int).tolist() == [1, 1, 1, 0, 1, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="odd number of frames"):
        median_filter(a, 4)


def test_min_silence_fills_interior_gaps_only():
    a = np.array([0, 1, 1, 0, 1, 0, 0, 0, 1, 0], bool)
    assert fill_short_gaps(a, 2).astype(int).tolist() == [0, 1, 1, 1, 1, 0, 0, 0, 1, 0]
    assert fill_short_gaps(a, 4).astype(int).tolist() == [0, 1, 1, 1, 1, 1, 1, 1, 1, 0]


def test_min_speech_drops_short_runs():
    a = np.array([1, 0, 1, 1, 0, 1, 1, 1], bool)
    assert drop_short_runs(a, 2).astype(int).tolist() == [0, 0, 1, 1, 0, 1, 1, 1]
    assert drop_short_runs(a, 3).astype(int).tolist() == [0, 0, 0, 0, 0, 1, 1, 1]


def test_pipeline_order_and_seconds_to_frames():
    # target prob per frame: speech 3 frames, gap 1, speech 1, long gap, blip 1
    p = np.array([0.9, 0.9, 0.9, 0.1, 0.9, 0.1, 0.1, 0.1, 0.9, 0.1])
    post = np.stack([1 - p, p, np.zeros_like(p), np.zeros_like(p)], axis=1)
    opts = PostprocessOptions(min_silence=0.2, min_speech=0.3)  # 2 and 3 frames at 10 fps
    got = target_activity(post, POWERSET, opts, frame_rate=10.0)
    # gap of 1 frame filled first (-> a 5-frame run), then the 1-frame blip dropped
    assert got.astype(int).tolist() == [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]


def _brute_force(p, penalty):
    logp = np.log(np.maximum(p, 1e-12))
    best, arg = -np.inf, None
    for path in itertools.product(range(p.shape[1]), repeat=p.shape[0]):
        s = sum(logp[t, c] for t, c in enumerate(path)) - penalty * sum(a != b for a, b in itertools.pairwise(path))
        if s > best + 1e-12:
            best, arg = s, path
    return list(arg)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), beam=st.integers(1, 5))
def test_beam_decode_with_free_transitions_is_the_argmax(seed, beam):
    p = np.random.default_rng(seed).dirichlet(np.ones(4), size=12)
    assert beam_decode(p, beam_width=beam, transition_penalty=0.0).tolist() == p.argmax(1).tolist()


@pytest.mark.parametrize("seed", range(4))
def test_beam_as_wide_as_the_classes_is_exact(seed):
    p = np.random.default_rng(seed).dirichlet(np.ones(3), size=6)
    assert beam_decode(p, beam_width=3, transition_penalty=1.0).tolist() == _brute_force(p, 1.0)


def test_penalised_transitions_smooth_a_blip():
    p = np.array([[0.9, 0.1]] * 4 + [[0.3, 0.7]] + [[0.9, 0.1]] * 4)
    assert beam_decode(p, beam_width=2, transition_penalty=0.0).tolist() == [0] * 4 + [1] + [0] * 4
    assert beam_decode(p, beam_width=2, transition_penalty=2.0).tolist() == [0] * 9
    # a long run is worth two transitions and stays
    p[3:6] = [0.2, 0.8]
    assert beam_decode(p, beam_width=2, transition_penalty=2.0).tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0]


def test_beam_decoding_in_the_pipeline_ignores_the_threshold():
    p = np.array([[0.4, 0.35, 0.1, 0.15]] * 3)  # P(target) = 0.5, argmax class 0
    assert target_activity(p, POWERSET, PostprocessOptions(threshold=0.4)).tolist() == [True] * 3
    opts = PostprocessOptions(threshold=0.4, beam_width=4)
    assert target_activity(p, POWERSET, opts).tolist() == [False] * 3


def test_multi_label_beam_runs_on_two_states():
    sid = target_readout("speaker_id", 2)
    post = np.array([[0.8, 0.1], [0.3, 0.9], [0.9, 0.0]])
    states, active = decoding_states(post, sid)
    np.testing.assert_allclose(states, [[0.2, 0.8], [0.7, 0.3], [0.1, 0.9]])
    assert active == (1,)
    assert target_activity(post, sid, PostprocessOptions(beam_width=2, transition_penalty=5.0)).tolist() == [True] * 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(threshold=1.5), "threshold must be in"),
        (dict(median_filter=2), "odd number"),
        (dict(min_speech=-1.0), "min_speech must be"),
        (dict(beam_width=0), "beam_width must be >= 1"),
        (dict(transition_penalty=float("nan")), "transition_penalty must be"),
    ],
)
def test_options_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PostprocessOptions(**kwargs)
