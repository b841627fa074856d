"""Windows over speech, frame labels, clean frames and enrollment regions, with exact frames."""

import numpy as np
import pytest

from espnet2_tsdia.firstpass.regions import (
    Region,
    clean_frames,
    enrollment_region,
    frame_labels,
    frame_scores,
    speech_windows,
)


def mask(t, *spans):
    m = np.zeros(t, bool)
    for a, b in spans:
        m[a:b] = True
    return m


def test_windows_cover_the_recording_and_need_speech():
    assert speech_windows(np.ones(20, bool), window=6, hop=4) == [(0, 6), (4, 10), (8, 14), (12, 18), (14, 20)]
    assert speech_windows(np.ones(4, bool), window=6, hop=4) == [(0, 4)]
    speech = mask(20, (0, 5))
    # [0,6) has 5/6 speech, [4,10) 1/6: dropped
    assert speech_windows(speech, window=6, hop=4, min_speech_ratio=0.5) == [(0, 6)]
    assert speech_windows(np.zeros(0, bool), window=6, hop=4) == []
    with pytest.raises(ValueError, match="window and hop must be >= 1 frame, got window=0 hop=4"):
        speech_windows(np.ones(5, bool), window=0, hop=4)


def test_frames_take_the_nearest_window_centre():
    windows = [(0, 6), (4, 10), (8, 14)]  # centres 2.5, 6.5, 10.5
    speech = mask(14, (0, 3), (5, 14))
    labels = frame_labels(windows, [0, 1, 1], speech)
    # frame 4 is silence; frames 0..2 -> window 0; 5..8 -> window 1 (ties 4.5 -> earlier); 9.. -> 2
    assert labels.tolist() == [0, 0, 0, -1, -1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    assert frame_labels([], [], speech).tolist() == [-1] * 14


def test_clean_frames_have_no_covering_window_of_another_cluster():
    windows = [(0, 6), (4, 10), (8, 14)]
    labels = [0, 1, 1]
    per_frame = frame_labels(windows, labels, np.ones(14, bool))
    assert per_frame.tolist() == [0] * 5 + [1] * 9
    clean = clean_frames(windows, labels, per_frame)
    # frames 4 and 5 are covered by windows 0 (cluster 0) and 1 (cluster 1)
    assert np.flatnonzero(~clean).tolist() == [4, 5]


def test_frame_scores_average_the_windows_of_the_frame_label():
    windows = [(0, 4), (2, 6)]
    per_frame = np.array([0, 0, 0, 0, 0, 0])
    scores = frame_scores(windows, [0, 0], [0.2, 0.6], per_frame)
    assert np.allclose(scores, [0.2, 0.2, 0.4, 0.4, 0.6, 0.6])


def test_region_is_the_longest_clean_run_at_its_best_frames():
    per_frame = np.array([0] * 6 + [1] * 3 + [0] * 10 + [-1])
    clean = np.ones(20, bool)
    score = np.linspace(0, 1, 20)
    # cluster 0: runs [0,6) and [9,19); capped at 4 frames: the best 4 of [9,19) are [15,19)
    assert enrollment_region(0, per_frame, clean, score, max_frames=4) == Region(
        15, 19, pytest.approx(score[15:19].mean()), True
    )
    # a cap longer than every run: the longest run, whole
    r = enrollment_region(0, per_frame, clean, score, max_frames=50)
    assert (r.start, r.end, r.clean) == (9, 19, True)
    # equal lengths: the higher score, then the earlier span
    flat = np.zeros(20)
    r = enrollment_region(0, per_frame, clean, flat, max_frames=6)
    assert (r.start, r.end) == (0, 6)


def test_region_falls_back_to_unclean_frames_then_to_none():
    per_frame = np.array([0] * 8 + [1] * 4)
    clean = mask(12, (0, 2), (8, 12))  # cluster 0 is clean for 2 frames only
    r = enrollment_region(0, per_frame, clean, np.zeros(12), max_frames=5, min_frames=3)
    assert (r.start, r.end, r.clean) == (0, 5, False)
    assert enrollment_region(1, per_frame, clean, np.zeros(12), max_frames=5, min_frames=5) is None
    assert enrollment_region(2, per_frame, clean, np.zeros(12), max_frames=5) is None
    with pytest.raises(ValueError, match="need 1 <= min_frames <= max_frames, got min_frames=6 max_frames=5"):
        enrollment_region(0, per_frame, clean, np.zeros(12), max_frames=5, min_frames=6)
