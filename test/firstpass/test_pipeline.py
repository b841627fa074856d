"""The first pass end to end with a made-up embedder (spectral peaks of two tones as two voices)."""

import numpy as np
import pytest

from espnet2_tsdia.firstpass.cluster import ClusterOptions
from espnet2_tsdia.firstpass.pipeline import FirstPass, FirstPassOptions
from espnet2_tsdia.formats.rttm import Turn

FS = 8000
#: (start s, end s, tone Hz): two "speakers" (300 Hz and 1200 Hz) with 2 s pauses between turns
TURNS = [(1, 4, 300), (6, 9, 1200), (11, 13, 300), (15, 18, 1200)]


def meeting(seconds=19):
    x = np.zeros(seconds * FS, np.float32)
    for a, b, hz in TURNS:
        t = np.arange((b - a) * FS) / FS
        x[a * FS : b * FS] = 0.3 * np.sin(2 * np.pi * hz * t)
    return x


def tone_embedder(waves):
    """[energy near 300 Hz, energy near 1200 Hz, a small constant] of each waveform."""
    out = []
    for w in waves:
        spec = np.abs(np.fft.rfft(w))
        freqs = np.fft.rfftfreq(w.size, 1 / FS)
        out.append([spec[np.abs(freqs - 300) < 50].sum(), spec[np.abs(freqs - 1200) < 50].sum(), 1e-3 * spec.sum()])
    return np.array(out)


def test_two_voices_are_found_with_their_turns_and_regions():
    result = FirstPass(tone_embedder)(meeting(), reco="m")
    assert result.speakers == ["spk1", "spk2"]
    assert result.skipped == []
    assert np.flatnonzero(result.speech).tolist() == [f for a, b, _ in TURNS for f in range(10 * a, 10 * b)]
    assert result.turns == [
        Turn("m", 1.0, 3.0, "spk1"),
        Turn("m", 6.0, 3.0, "spk2"),
        Turn("m", 11.0, 2.0, "spk1"),
        Turn("m", 15.0, 3.0, "spk2"),
    ]
    spans = result.enroll_spans()
    assert spans["spk1"] == (10, 40)  # its only 3-s turn, whole (max_enroll 5 s)
    assert spans["spk2"] in [(60, 90), (150, 180)]
    assert all(r.clean for r in result.regions.values())


def test_the_region_is_capped_at_max_enroll_inside_one_turn():
    result = FirstPass(tone_embedder, FirstPassOptions(max_enroll=1.0))(meeting(), reco="m")
    for spk, (a, b) in result.enroll_spans().items():
        assert b - a == 10
        tone = 300 if spk == "spk1" else 1200
        assert any(10 * s <= a and b <= 10 * e for s, e, hz in TURNS if hz == tone)


def test_known_number_of_speakers_overrides_the_estimate():
    one = FirstPass(tone_embedder, FirstPassOptions(clustering=ClusterOptions(num_speakers=1)))(meeting(), reco="m")
    assert one.speakers == ["spk1"]
    assert [(t.onset, t.duration) for t in one.turns] == [(1.0, 3.0), (6.0, 3.0), (11.0, 2.0), (15.0, 3.0)]
    again = FirstPass(tone_embedder).with_clustering(num_speakers=1)(meeting(), reco="m")
    assert again.turns == one.turns


def test_a_speaker_with_too_little_speech_gets_no_region():
    result = FirstPass(tone_embedder, FirstPassOptions(min_enroll=3.5))(meeting(), reco="m")
    assert result.speakers == ["spk1", "spk2"] and result.skipped == ["spk1", "spk2"]
    assert result.enroll_spans() == {}


def test_silence_gives_no_speaker_and_a_given_speech_mask_is_used():
    silent = FirstPass(tone_embedder)(np.zeros(5 * FS, np.float32), reco="s")
    assert silent.speakers == [] and silent.turns == [] and silent.frame_labels.tolist() == [-1] * 50
    speech = np.zeros(190, bool)
    speech[10:40] = True
    only = FirstPass(tone_embedder)(meeting(), reco="m", speech=speech)
    assert only.speakers == ["spk1"] and [(t.onset, t.duration) for t in only.turns] == [(1.0, 3.0)]
    with pytest.raises(ValueError, match="m: speech mask has 10 frames, the recording 190"):
        FirstPass(tone_embedder)(meeting(), reco="m", speech=np.ones(10, bool))


def test_bad_embedder_output_is_reported():
    with pytest.raises(ValueError, match=r"the embedder returned shape \(1, 3\) for \d+ windows"):
        FirstPass(lambda waves: tone_embedder(waves[:1]))(meeting(), reco="m")
