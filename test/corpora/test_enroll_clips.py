"""Separate enrollment clips: exact lengths, the speaker's own audio, other utterances per recording, errors."""

import numpy as np
import pytest
import soundfile

from espnet2_tsdia.bin.make_enroll_clips import main as clips_main
from espnet2_tsdia.corpora.enroll_clips import make_enroll_clips
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import read_scp, write_scp, write_utt2spk
from espnet2_tsdia.formats.rttm import Turn, write_rttm

SR = 8000


def source_dir(tmp_path, seconds):
    """A source dir: speaker -> utterances of the given lengths; utterance k of speaker s holds
    the constant value (index of s) * 0.1 + k * 0.01 so every sample says where it came from."""
    d = tmp_path / "source"
    d.mkdir()
    wav, utt2spk = {}, {}
    for i, (spk, lengths) in enumerate(seconds.items()):
        for k, sec in enumerate(lengths):
            utt = f"{spk}-u{k}"
            path = d / f"{utt}.wav"
            soundfile.write(str(path), np.full(int(sec * SR), 0.1 * (i + 1) + 0.01 * k), SR, subtype="PCM_16")
            wav[utt], utt2spk[utt] = str(path), spk
    write_scp(d / "wav.scp", wav)
    write_utt2spk(d / "utt2spk", utt2spk)
    return d


def test_clips_have_the_length_and_only_the_speakers_audio(tmp_path):
    src = source_dir(tmp_path, {"alice": [1.0, 1.5, 2.0, 0.7], "bob": [2.5, 2.5], "carol": [1.0, 0.5]})
    ref = [Turn("r1", 0.0, 2.0, "alice"), Turn("r1", 2.0, 1.0, "bob"), Turn("r2", 0.0, 1.0, "alice")]
    ref.append(Turn("r2", 1.0, 1.0, "carol"))
    write_rttm(tmp_path / "ref.rttm", ref)
    report = make_enroll_clips(src, tmp_path / "ref.rttm", tmp_path / "clips", seconds=3.0)
    scp = read_scp(report.scp)
    assert sorted(scp) == ["r1__alice", "r1__bob", "r2__alice", "r2__carol"]
    assert report.short == ("r2__carol",)  # carol has 1.5 s in all
    for key, rel in scp.items():
        x, sr = soundfile.read(str(tmp_path / "clips" / rel))
        assert sr == SR and len(x) == (int(1.5 * SR) if key == "r2__carol" else 3 * SR)
        spk = key.split("__")[1]
        i = ["alice", "bob", "carol"].index(spk)
        # every sample is one of the speaker's utterances, in the order the report lists them
        expected = np.concatenate(
            [
                np.full(int(sec * SR), 0.1 * (i + 1) + 0.01 * int(u.rsplit("-u", 1)[1]))
                for u, sec in _lengths(report.clips[key], src)
            ]
        )[: len(x)]
        assert np.abs(x - expected).max() < 1e-3
    assert report.clips["r1__bob"][0] in ("bob-u0", "bob-u1") and len(report.clips["r1__bob"]) == 2
    # a second run writes the same clips
    again = make_enroll_clips(src, tmp_path / "ref.rttm", tmp_path / "clips2", seconds=3.0)
    assert again.clips == report.clips


def _lengths(utts, src):
    return [(u, soundfile.info(str(src / f"{u}.wav")).frames / SR) for u in utts]


def test_speaker_without_audio_is_named(tmp_path):
    src = source_dir(tmp_path, {"alice": [1.0]})
    write_rttm(tmp_path / "ref.rttm", [Turn("r1", 0.0, 1.0, "dave")])
    with pytest.raises(DataFormatError, match="speaker 'dave' of recording 'r1'.*has no utterance here"):
        make_enroll_clips(src, tmp_path / "ref.rttm", tmp_path / "clips")
    assert clips_main([str(src), str(tmp_path / "ref.rttm"), str(tmp_path / "clips"), "--log_level", "ERROR"]) == 2
    with pytest.raises(ValueError, match="seconds must be > 0, got 0"):
        make_enroll_clips(src, tmp_path / "ref.rttm", tmp_path / "clips", seconds=0)
