"""Recording conversion: skips, notes, and the RTTM -> labels -> RTTM round trip on real
annotation files scored with pyannote.metrics."""

import numpy as np
import pytest

from espnet2_tsdia.formats.rttm import Turn, merge_same_speaker, read_rttm
from espnet2_tsdia.frontend.frames import num_frames
from espnet2_tsdia.labels.convert import LabelOptions, convert_recording, labels_to_turns


def T(onset, end, spk, reco="r"):
    return Turn(reco=reco, onset=onset, duration=end - onset, speaker=spk)


def test_convert_recording_labels_and_skips():
    turns = [T(0.0, 1.0, "a"), T(0.5, 1.5, "b"), T(3.0, 3.04, "c"), T(5.0, 6.0, "d"), T(0, 1, "x", reco="other")]
    rec = convert_recording("r", turns, 20, LabelOptions())
    assert rec.speakers == ["a", "b", "c", "d"]
    assert sorted(rec.labels) == ["a", "b"]
    assert rec.labels["a"].tolist() == [1] * 5 + [3] * 5 + [2] * 5 + [0] * 5
    assert [s for s, _ in rec.skipped] == ["c", "d"]
    assert "no speech inside the recording" in rec.skipped[1][1] and "ending at 6.000s" in rec.skipped[1][1]


def test_speaker_id_notes_dropped_speakers():
    turns = [T(i, i + 1.0, f"s{i}") for i in range(5)]
    rec = convert_recording("r", turns, 60, LabelOptions(scheme="speaker_id", max_speakers=3))
    assert rec.labels["s0"].shape == (60, 3)
    assert rec.notes and "5 speakers > max_speakers=3" in rec.notes[0]


def test_label_options_validate():
    with pytest.raises(ValueError, match="unknown label scheme 'pow'"):
        LabelOptions(scheme="pow")
    with pytest.raises(ValueError, match="max_speakers must be >= 1, got 0"):
        LabelOptions(max_speakers=0)
    assert LabelOptions(scheme="speaker_id", max_speakers=6).num_classes == 6


def _annotation(turns):
    from pyannote.core import Annotation, Segment

    a = Annotation()
    for i, t in enumerate(turns):
        a[Segment(t.onset, t.end), i] = t.speaker
    return a


def _real_rttms(root):
    files = sorted(root.glob("*/*.rttm"))
    assert len(files) >= 14
    return files


@pytest.mark.parametrize("scheme,corpora", [("powerset", None), ("speaker_id", ("voxconverse", "msdwild", "ava_avd"))])
def test_real_annotations_round_trip(real_annotations, scheme, corpora):
    """Every speaker of every real recording -> labels -> turns -> RTTM, scored against the
    original after merging same-speaker overlaps.

    At pyannote collar 0.1 s (50 ms each side = half a frame) the DER is below 1 % (in fact 0):
    the round trip only moves boundaries to the 10 fps grid. At collar 0 the frame quantisation
    itself costs up to 50 ms per boundary, so the DER is bounded by 0.1 s per turn over the
    speech time (measured 0.16-5.5 % on these files: below 1 % only where turns are long).
    """
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    opts = LabelOptions(scheme=scheme, max_speakers=12)
    worst0 = 0.0
    for path in _real_rttms(real_annotations):
        if corpora is not None and path.parent.name not in corpora:
            continue
        turns = read_rttm(path)
        for reco in sorted({t.reco for t in turns}):
            ref, _ = merge_same_speaker([t for t in turns if t.reco == reco])
            t_frames = num_frames(int(round(max(t.end for t in ref) * 8000)) + 800)
            rec = convert_recording(reco, ref, t_frames, opts)
            assert not rec.skipped, (path, rec.skipped)
            for lab in rec.labels.values():
                assert lab.shape[0] == t_frames
            hyp = [
                x
                for spk, lab in rec.labels.items()
                for x in labels_to_turns(lab, scheme=scheme, reco=reco, speaker=spk)
            ]
            uem = Timeline([Segment(0, t_frames * 0.1)])
            der1 = DiarizationErrorRate(collar=0.1, skip_overlap=False)(_annotation(ref), _annotation(hyp), uem=uem)
            der0 = DiarizationErrorRate(collar=0.0, skip_overlap=False)(_annotation(ref), _annotation(hyp), uem=uem)
            speech = sum(t.duration for t in ref)
            assert der1 < 0.01, (path.name, reco, der1)
            assert der0 <= 0.1 * len(ref) / speech + 1e-9, (path.name, reco, der0)
            worst0 = max(worst0, der0)
    assert worst0 > 0.01  # documents why collar 0 cannot be held to 1 % at 10 fps


def test_round_trip_on_frame_aligned_turns_is_exact():
    turns = [T(0.0, 1.2, "a"), T(0.8, 2.5, "b"), T(4.1, 4.2, "a")]
    rec = convert_recording("r", turns, 50, LabelOptions(scheme="binary"))
    back = labels_to_turns(rec.labels["a"], scheme="binary", reco="r", speaker="a")
    assert [(round(t.onset, 6), round(t.end, 6)) for t in back] == [(0.0, 1.2), (4.1, 4.2)]
    np.testing.assert_array_equal(rec.labels["b"][:8], 0)
