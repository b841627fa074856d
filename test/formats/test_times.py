"""One time tolerance everywhere: touching turns are not overlaps for the merger, the overlap
finder, the validator and the fixer; float noise is not a clip for data-dir writing.

The AliMeeting-like case: references with 2-decimal times where one turn of a speaker starts
exactly where the previous one ends. Read as floats, ``onset + duration`` of the first passes the
next onset by float noise in about one pair out of eight; compared exactly, those pairs were
merged as overlaps (127 turns of the real AliMeeting dev set).
"""

import random

import pytest

from espnet2_tsdia.data.datadir import clean_turns, write_data_dir
from espnet2_tsdia.data.fix import fix_data_dir
from espnet2_tsdia.data.validate import validate_data_dir
from espnet2_tsdia.formats.rttm import Turn, merge_same_speaker, read_rttm, self_overlaps
from espnet2_tsdia.formats.times import FLOAT_EPS, TIME_EPS, floor_ms, overlaps

SESSION = "R8001_M8004_MS801"


def alimeeting_like_rttm(path, *, seed=7, speakers=4, turns_per_speaker=60):
    """Touching same-speaker turns with 2-decimal onsets and durations, as AliMeeting writes them;
    returns the number of pairs whose float end passes the next onset."""
    rng = random.Random(seed)
    lines, noisy = [], 0
    for s in range(speakers):
        onset_cs = rng.randint(0, 500)  # centiseconds: exact
        for k in range(turns_per_speaker):
            dur_cs = rng.randint(30, 800)
            onset, dur = onset_cs / 100, dur_cs / 100
            has_next = k < turns_per_speaker - 1
            noisy += has_next and onset + dur > (onset_cs + dur_cs) / 100
            lines.append(f"SPEAKER {SESSION} 1 {onset:.2f} {dur:.2f} <NA> <NA> SPK800{s + 1} <NA> <NA>\n")
            onset_cs += dur_cs
    path.write_text("".join(lines))
    return noisy


def test_constants_and_helpers():
    assert (FLOAT_EPS, TIME_EPS) == (1e-6, 0.002)
    assert overlaps(10.0, 9.997) and not overlaps(10.0, 9.998) and not overlaps(10.0, 10.0)
    assert not overlaps(1.1 + 2.2, 3.3)  # 3.3000000000000003 only touches 3.3
    assert overlaps(1.1 + 2.2, 3.3, tolerance=0.0)
    assert floor_ms(1.005) == 1.005 and floor_ms(1113.845375) == 1113.845 and floor_ms(2.9999) == 2.999


def test_touching_turns_of_an_alimeeting_like_reference_stay_apart(tmp_path):
    noisy = alimeeting_like_rttm(tmp_path / "ref.rttm")
    turns = read_rttm(tmp_path / "ref.rttm")
    assert len(turns) == 240 and noisy == 29  # the case is real: 29 pairs overlap by float noise
    exact = merge_same_speaker(turns, tolerance=0.0)[1]  # exact comparison merges them
    assert sum(len(old) - 1 for old, _ in exact) == noisy
    merged, changes = merge_same_speaker(turns)
    assert changes == [] and len(merged) == 240
    assert self_overlaps(turns) == []
    assert len(self_overlaps(turns, tolerance=0.0)) == noisy


def test_overlap_beyond_the_tolerance_is_merged():
    a = Turn("r", 0.0, 1.0, "s")
    two_ms = Turn("r", 0.998, 1.0, "s")  # overlaps by 2 ms (+ float noise): rounding
    three_ms = Turn("r", 0.997, 1.0, "s")  # overlaps by 3 ms: a real overlap
    assert merge_same_speaker([a, two_ms])[1] == [] and self_overlaps([a, two_ms]) == []
    merged, changes = merge_same_speaker([a, three_ms])
    assert [(t.onset, round(t.end, 9)) for t in merged] == [(0.0, 1.997)]
    assert changes == [([a, three_ms], merged[0])]
    assert self_overlaps([a, three_ms]) == [(a, three_ms)]


def test_validator_fixer_and_data_dir_writer_agree_on_touching_turns(tmp_path):
    alimeeting_like_rttm(tmp_path / "ref.rttm")
    turns = read_rttm(tmp_path / "ref.rttm")
    dur = max(t.end for t in turns) + 1.0
    report = write_data_dir(tmp_path / "d", wav_scp={SESSION: f"{SESSION}.wav"}, turns=turns, reco2dur={SESSION: dur})
    assert report.changed == [] and report.dropped == []
    assert len(read_rttm(tmp_path / "d" / "rttm")) == 240
    validation = validate_data_dir(tmp_path / "d", check_audio=False)
    assert validation.find(code="same_speaker_overlap") == [] and validation.ok
    fixed = fix_data_dir(tmp_path / "d")
    assert fixed.entries == [] and fixed.backup is None  # nothing to fix, nothing rewritten


@pytest.mark.parametrize("end", [1.1 + 2.2, 4.0 + 1e-9])
def test_float_noise_past_the_recording_end_is_not_a_clip(end):
    """A turn whose computed end passes the recording end by float noise already ends there."""
    reco_end = round(end, 3)
    assert end > reco_end  # the noise is real
    turn = Turn("r", 1.0, end - 1.0, "s")
    kept, report = clean_turns([turn], {"r": reco_end})
    assert report.changed == [] and report.dropped == []
    assert [t.end for t in kept] == [pytest.approx(reco_end, abs=1e-12)] and kept[0].end <= reco_end


def test_a_real_overshoot_is_still_clipped_and_reported():
    kept, report = clean_turns([Turn("r", 1.0, 3.5, "s")], {"r": 4.0})
    assert kept == [Turn("r", 1.0, 3.0, "s")]
    assert report.changed == ["r s [1.000, 4.500]: clipped to the recording end 4.000"]
