"""Stock-EEND inputs: frame-level speaker labels (exact frames), the prepared tables, the splits."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from espnet2_tsdia.baselines.eend_data import prepare_set, speaker_activity
from espnet2_tsdia.formats.rttm import Turn, write_rttm
from espnet2_tsdia.frontend.storage import read_ark_scp, read_array, write_ark


def turn(reco, onset, dur, spk):
    return Turn(reco=reco, onset=onset, duration=dur, speaker=spk)


def test_speaker_activity_frames_columns_and_order():
    # frame t covers [0.1 t, 0.1 (t+1)) s, active when a turn covers its centre 0.1 t + 0.05
    turns = [turn("r", 0.2, 0.3, "bob"), turn("r", 0.0, 0.35, "amy"), turn("r", 0.81, 0.1, "bob")]
    lab, speakers = speaker_activity(turns, 10, num_columns=3)
    assert speakers == ["amy", "bob"]  # by first onset
    assert lab.dtype == np.float32 and lab.shape == (10, 3)
    assert np.flatnonzero(lab[:, 0]).tolist() == [0, 1, 2]  # 0.35 s is not past frame 3's centre
    assert np.flatnonzero(lab[:, 1]).tolist() == [2, 3, 4, 8]  # [0.81, 0.91) covers the centre 0.85
    assert not lab[:, 2].any()


def test_speaker_activity_own_count_and_too_many_speakers():
    turns = [turn("r", 0.0, 1.0, "a"), turn("r", 0.5, 1.0, "b"), turn("r", 0.7, 1.0, "c")]
    lab, _ = speaker_activity(turns, 12)
    assert lab.shape == (12, 3)
    assert np.flatnonzero(lab[:, 2]).tolist() == list(range(7, 12))  # cut at the last frame
    with pytest.raises(ValueError, match=r"'r' has 3 speakers .* more than num_spk=2"):
        speaker_activity(turns, 12, num_columns=2)
    with pytest.raises(ValueError, match="one recording"):
        speaker_activity([turn("r", 0, 1, "a"), turn("q", 0, 1, "a")], 12)


@pytest.fixture
def stored_set(tmp_path):
    """Three recordings with stored (T, 4) 'features': 2 speakers, 3 speakers, and one silent."""
    frames = {"rec-a": 20, "rec-b": 30, "rec-c": 15}
    rng = np.random.default_rng(0)
    feats = {k: rng.standard_normal((t, 4)).astype(np.float32) for k, t in frames.items()}
    write_ark(tmp_path / "feats.ark", tmp_path / "feats.scp", sorted(feats.items()))
    turns = [
        turn("rec-a", 0.0, 1.0, "x"),
        turn("rec-a", 0.8, 1.0, "y"),
        turn("rec-b", 0.0, 1.0, "u"),
        turn("rec-b", 1.0, 1.0, "v"),
        turn("rec-b", 2.0, 0.95, "w"),
    ]
    write_rttm(tmp_path / "rttm", turns)
    return tmp_path, frames, feats


def test_prepare_set_padded_columns_for_sa_eend(stored_set):
    src, frames, feats = stored_set
    out = src / "sa"
    report = prepare_set(out, rttm=src / "rttm", feats_scp=src / "feats.scp", num_columns=3)
    assert (report.recordings, report.frames, report.speaker_counts) == (3, 65, {0: 1, 2: 1, 3: 1})
    assert (out / "speech_shape").read_text() == "rec-a 20,4\nrec-b 30,4\nrec-c 15,4\n"
    assert (out / "spk_labels_shape").read_text() == "rec-a 20,3\nrec-b 30,3\nrec-c 15,3\n"
    assert (out / "reco2num_spk").read_text() == "rec-a 2\nrec-b 3\nrec-c 0\n"
    labels = {k: read_array(v) for k, v in read_ark_scp(out / "labels.scp").items()}
    assert np.flatnonzero(labels["rec-a"][:, 1]).tolist() == list(range(8, 18))
    assert not labels["rec-a"][:, 2].any() and not labels["rec-c"].any()  # padding, the silent recording
    assert np.flatnonzero(labels["rec-b"][:, 2]).tolist() == list(range(20, 29))
    # the features are the stored matrices, not copies
    stored = {k: read_array(v) for k, v in read_ark_scp(out / "feats.scp").items()}
    assert all(np.array_equal(stored[k], feats[k]) for k in frames)
    assert not (out / "split").exists()


def test_prepare_set_own_counts_and_splits_for_eda(stored_set):
    src, _, _ = stored_set
    out = src / "eda"
    report = prepare_set(out, rttm=src / "rttm", feats_scp=src / "feats.scp", split_by_num_spk=True)
    assert report.num_columns is None
    assert (out / "spk_labels_shape").read_text() == "rec-a 20,2\nrec-b 30,3\nrec-c 15,0\n"
    assert (out / "split" / "num_spk").read_text() == "0 0\n1 2\n2 3\n"
    for table in ("feats.scp", "labels.scp", "speech_shape", "spk_labels_shape"):
        d = out / "split" / table
        assert (d / "num_splits").read_text() == "3\n"
        keys = [[ln.split()[0] for ln in (d / f"split.{i}").read_text().splitlines()] for i in range(3)]
        assert keys == [["rec-c"], ["rec-a"], ["rec-b"]]
    assert (out / "split" / "spk_labels_shape" / "split.2").read_text() == "rec-b 30,3\n"


def test_prepare_set_rejects_a_reference_recording_the_set_lacks(stored_set):
    src, _, _ = stored_set
    write_rttm(src / "rttm2", [turn("rec-a", 0, 1, "x"), turn("rec-z", 0, 1, "x")])
    with pytest.raises(ValueError, match=r"rttm2: 1 recording\(s\) not in .*feats.scp: \['rec-z'\]"):
        prepare_set(src / "o", rttm=src / "rttm2", feats_scp=src / "feats.scp")
    with pytest.raises(ValueError, match="exactly one of"):
        prepare_set(src / "o", rttm=src / "rttm2")


def test_prepare_set_extracts_the_standard_features_from_wav_scp(tmp_path):
    import torch

    from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend

    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal(8000 * 2 + 500)).astype(np.float32)  # 2.0625 s -> 20 frames
    sf.write(tmp_path / "a.wav", x, 8000, subtype="FLOAT")
    (tmp_path / "wav.scp").write_text(f"rec-a {tmp_path / 'a.wav'}\n")
    write_rttm(tmp_path / "rttm", [turn("rec-a", 0.5, 1.0, "s")])
    report = prepare_set(tmp_path / "o", rttm=tmp_path / "rttm", wav_scp=tmp_path / "wav.scp")
    assert report.frames == 20
    got = read_array(read_ark_scp(tmp_path / "o" / "feats.scp")["rec-a"])
    want, _ = TSDiaFbankFrontend().extract(torch.from_numpy(x))
    assert got.shape == (20, 345) and np.allclose(got, want.numpy(), atol=1e-6)
    lab = read_array(read_ark_scp(tmp_path / "o" / "labels.scp")["rec-a"])
    assert np.flatnonzero(lab[:, 0]).tolist() == list(range(5, 15))
