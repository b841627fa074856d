import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet2_tsdia.bin import validate_data_dir as cli
from espnet2_tsdia.data.datadir import write_data_dir
from espnet2_tsdia.data.fix import fix_data_dir
from espnet2_tsdia.data.validate import MAX_PER_KIND, Problem, ValidationReport, validate_data_dir
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import read_reco2dur, read_scp, read_segments, read_utt2spk
from espnet2_tsdia.formats.rttm import Turn, read_rttm
from espnet2_tsdia.formats.text import read_raw
from espnet2_tsdia.formats.uem import read_uem, uem_from_durations

DURS = {"rec1": 4.0, "rec2": 3.0}


def write_wav(path, seconds, fs=8000, channels=1):
    frames = int(round(seconds * fs))
    data = np.zeros((frames, channels), dtype=np.int16) if channels > 1 else np.zeros(frames, dtype=np.int16)
    sf.write(str(path), data, fs, subtype="PCM_16")
    return path


def make_dir(tmp_path, *, turns=None, name="data"):
    """A valid dir: 2 recordings of 8 kHz silence, 5 segments.

    segments (sorted):             utt2spk / rttm follow the same order
      1 rec1_A-rec1-0000050-0000150 rec1 0.500 1.500
      2 rec1_A-rec1-0000260-0000360 rec1 2.600 3.600
      3 rec1_B-rec1-0000120-0000250 rec1 1.200 2.500
      4 rec2_A-rec2-0000000-0000200 rec2 0.000 2.000
      5 rec2_C-rec2-0000100-0000250 rec2 1.000 2.500
    """
    audio = tmp_path / "audio"
    audio.mkdir(exist_ok=True)
    for r, secs in DURS.items():
        write_wav(audio / f"{r}.wav", secs)
    if turns is None:
        turns = [
            Turn("rec1", 0.5, 1.0, "rec1_A"),
            Turn("rec1", 1.2, 1.3, "rec1_B"),
            Turn("rec1", 2.6, 1.0, "rec1_A"),
            Turn("rec2", 0.0, 2.0, "rec2_A"),
            Turn("rec2", 1.0, 1.5, "rec2_C"),
        ]
    d = tmp_path / name
    report = write_data_dir(
        d, wav_scp={r: str(audio / f"{r}.wav") for r in DURS}, turns=turns, reco2dur=DURS, uem=uem_from_durations(DURS)
    )
    assert not report.changed and not report.dropped
    return d


def edit(path, fn):
    lines = path.read_text().splitlines()
    path.write_text("".join(line + "\n" for line in fn(lines)))


def set_field(lines, number, index, value):
    fields = lines[number - 1].split()
    fields[index] = value
    lines[number - 1] = " ".join(fields)
    return lines


def only(report, code, file):
    found = report.find(code=code, file=file)
    assert len(found) == 1, (code, file, report.text())
    return found[0]


@pytest.fixture
def good(tmp_path):
    return make_dir(tmp_path)


def test_a_good_dir_is_clean(good):
    report = validate_data_dir(good, expected_fs=8000)
    assert report.problems == []
    assert report.ok and report.usable(strict=True)
    assert (good / "segments").read_text().splitlines()[1] == "rec1_A-rec1-0000260-0000360 rec1 2.600 3.600"


# ----------------------------------------------------------------- each broken kind of the issue
def test_unsorted(good):
    edit(good / "segments", lambda ls: [ls[2], ls[1], ls[0], ls[3], ls[4]])
    p = only(validate_data_dir(good), "unsorted", "segments")
    assert (p.severity, p.line) == ("error", 2)
    assert p.file == str(good / "segments")
    assert "'rec1_A-rec1-0000260-0000360' comes after 'rec1_B-rec1-0000120-0000250' (line 1)" in p.message
    assert "2 lines out of order" in p.message


def test_unsorted_wav_scp(good):
    edit(good / "wav.scp", lambda ls: ls[::-1])
    p = only(validate_data_dir(good), "unsorted", "wav.scp")
    assert p.line == 2 and "'rec1' comes after 'rec2'" in p.message


def test_duplicate_keys(good):
    edit(good / "utt2spk", lambda ls: ls[:2] + [ls[1]] + ls[2:])
    report = validate_data_dir(good)
    p = only(report, "duplicate_key", "utt2spk")
    assert (p.severity, p.line) == ("error", 3)
    assert p.message == "duplicate utterance id 'rec1_A-rec1-0000260-0000360' (first at line 2); keys must be unique"
    assert not report.find(code="unsorted")


def test_utt2spk_spk2utt_mismatch(good):
    edit(good / "spk2utt", lambda ls: [ls[0].rsplit(" ", 1)[0]] + ls[1:])
    p = only(validate_data_dir(good), "spk2utt_mismatch", "spk2utt")
    assert (p.severity, p.line) == ("error", 1)
    assert "speaker 'rec1_A': missing 'rec1_A-rec1-0000260-0000360'" in p.message


def test_speaker_missing_from_spk2utt_is_reported_at_its_utt2spk_line(good):
    edit(good / "spk2utt", lambda ls: [ls[0], ls[2], ls[3]])  # rec1_B's line gone
    p = only(validate_data_dir(good), "spk2utt_mismatch", "utt2spk")
    assert p.line == 3 and "speaker 'rec1_B' has no line in spk2utt" in p.message


def test_spk2utt_order_and_spacing_must_match_byte_for_byte(good):
    edit(good / "spk2utt", lambda ls: ["rec1_A  rec1_A-rec1-0000050-0000150 rec1_A-rec1-0000260-0000360"] + ls[1:])
    p = only(validate_data_dir(good), "spk2utt_spacing", "spk2utt")
    assert p.line == 1
    edit(good / "spk2utt", lambda ls: ["rec1_A rec1_A-rec1-0000260-0000360 rec1_A-rec1-0000050-0000150"] + ls[1:])
    p = only(validate_data_dir(good), "spk2utt_mismatch", "spk2utt")
    assert p.line == 1 and "same utterances, different order" in p.message


def test_end_not_after_start(good):
    edit(good / "segments", lambda ls: set_field(ls, 4, 3, "0.000"))
    report = validate_data_dir(good)
    p = only(report, "end_not_after_start", "segments")
    assert (p.severity, p.line) == ("error", 4)
    assert p.message == "end 0.0 <= start 0.0; expected end > start"


def test_segment_past_the_end(good):
    edit(good / "segments", lambda ls: set_field(ls, 5, 3, "3.500"))
    report = validate_data_dir(good)
    p = only(report, "past_end", "segments")
    assert (p.severity, p.line) == ("error", 5)
    assert "ends at 3.500s, 0.500s past the end of recording 'rec2' (3.000s per reco2dur); tolerance 0.01s" in p.message
    # the rttm still says 2.5: the two disagree now
    assert only(report, "rttm_mismatch", "segments").line == 5


def test_segment_starting_after_the_end(good):
    edit(good / "segments", lambda ls: set_field(set_field(ls, 5, 2, "3.000"), 5, 3, "3.200"))
    p = only(validate_data_dir(good), "past_end", "segments")
    assert p.line == 5 and "starts at 3.000s, at or after the end of recording 'rec2'" in p.message


def test_overshoot_within_tolerance_is_a_note(good):
    edit(good / "reco2dur", lambda ls: [ls[0], "rec2 2.495"])
    edit(good / "uem", lambda ls: [ls[0], "rec2 1 0.000 2.495"])
    report = validate_data_dir(good, check_audio=False)
    assert report.ok
    p = only(report, "past_end_within_tolerance", "segments")
    assert (p.severity, p.line) == ("info", 5)
    assert "0.005s past the end" in p.message
    assert only(report, "past_end_within_tolerance", "rttm").line == 5
    strict = validate_data_dir(good, check_audio=False, tolerance=0.001)
    assert only(strict, "past_end", "segments").severity == "error"


def test_unknown_recording(good):
    edit(good / "segments", lambda ls: set_field(ls, 4, 1, "rec9"))
    p = only(validate_data_dir(good), "unknown_recording", "segments")
    assert (p.severity, p.line) == ("error", 4)
    assert p.message == "recording 'rec9' of utterance 'rec2_A-rec2-0000000-0000200' is not in wav.scp"


def test_recording_without_segments(good):
    edit(good / "segments", lambda ls: ls[:3])
    edit(good / "utt2spk", lambda ls: ls[:3])
    edit(good / "spk2utt", lambda ls: ls[:2])
    p = only(validate_data_dir(good), "recording_without_segments", "wav.scp")
    assert p.line == 2 and "recording 'rec2' has no line in segments" in p.message


def test_missing_final_newline(good):
    path = good / "utt2spk"
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    p = only(validate_data_dir(good), "final_newline", "utt2spk")
    assert (p.severity, p.line) == ("error", 5)
    assert "no final newline" in p.message


def test_wrong_sample_rate(good):
    write_wav(good.parent / "audio" / "rec2.wav", 3.0, fs=16000)
    report = validate_data_dir(good, expected_fs=8000)
    p = only(report, "sample_rate", "wav.scp")
    assert (p.severity, p.line) == ("error", 2)
    assert p.message == "recording 'rec2' has sample rate 16000 Hz; expected 8000 Hz"
    assert validate_data_dir(good, expected_fs=None).ok


# ----------------------------------------------------------------- more invariants
def test_crlf_in_a_kaldi_file_is_an_error_and_in_rttm_a_warning(good):
    for name in ("segments", "rttm"):
        path = good / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    report = validate_data_dir(good)
    seg, rttm = only(report, "crlf", "segments"), only(report, "crlf", "rttm")
    assert (seg.severity, seg.line, rttm.severity, rttm.line) == ("error", 1, "warning", 1)
    assert seg.message.startswith("5 lines end with CRLF")


def test_blank_line(good):
    edit(good / "utt2spk", lambda ls: ls[:2] + [""] + ls[2:])
    assert only(validate_data_dir(good), "blank_line", "utt2spk").line == 3


def test_wrong_field_count_does_not_stop_the_checks(good):
    edit(good / "utt2spk", lambda ls: ls[:2] + [ls[2] + " extra"] + ls[3:])
    edit(good / "segments", lambda ls: set_field(ls, 4, 1, "rec9"))
    report = validate_data_dir(good)
    p = only(report, "fields", "utt2spk")
    assert p.line == 3 and p.message.startswith("expected 2 fields, got 3")
    assert only(report, "unknown_recording", "segments").line == 4
    # the malformed line's utterance is then missing from utt2spk
    assert only(report, "utt_without_speaker", "segments").line == 3


def test_utt2spk_not_sorted_by_speaker(tmp_path):
    d = make_dir(tmp_path)
    # utterance ids not prefixed by their speaker: sorted by utterance, not by speaker
    (d / "utt2spk").write_text("u1 rec1_B\nu2 rec1_A\n")
    report = validate_data_dir(d, check_audio=False)
    p = only(report, "utt2spk_not_sorted_by_speaker", "utt2spk")
    assert p.line == 2 and "speaker 'rec1_A' of utterance 'u2' comes after speaker 'rec1_B' (line 1)" in p.message
    assert only(report, "speaker_not_prefix", "utt2spk").severity == "warning"


def test_same_speaker_overlap(good):
    edit(good / "segments", lambda ls: set_field(ls, 2, 2, "1.400"))
    report = validate_data_dir(good)
    p = only(report, "same_speaker_overlap", "segments")
    assert (p.severity, p.line) == ("error", 2)
    assert (
        "overlaps utterance 'rec1_A-rec1-0000050-0000150' (line 1) of the same speaker 'rec1_A' by 0.100s" in p.message
    )


def test_touching_or_rounding_overlaps_are_not_overlaps(tmp_path):
    d = make_dir(
        tmp_path,
        turns=[
            Turn("rec1", 0.0, 1.0, "rec1_A"),
            Turn("rec1", 1.0, 1.0, "rec1_A"),
            Turn("rec2", 0.0006, 1.0006, "rec2_A"),
            Turn("rec2", 1.0012, 1, "rec2_A"),
        ],
    )
    assert validate_data_dir(d).problems == []


def test_speaker_in_two_recordings(tmp_path):
    d = make_dir(
        tmp_path, turns=[Turn("rec1", 0, 1, "FEE041"), Turn("rec1", 1, 1, "MEE071"), Turn("rec2", 0, 1, "FEE041")]
    )
    report = validate_data_dir(d)
    p = only(report, "speaker_in_several_recordings", "utt2spk")
    assert (p.severity, p.line) == ("error", 2)  # FEE041-rec2-... sorts second
    assert "speaker 'FEE041' appears in recordings 'rec1' and 'rec2'" in p.message
    assert validate_data_dir(d, global_speakers=True).problems == []


def test_tilde_in_wav_scp(good):
    edit(good / "wav.scp", lambda ls: [ls[0], "rec2 ~/rec2.wav"])
    report = validate_data_dir(good, check_audio=False)
    assert only(report, "tilde", "wav.scp").line == 2


def test_missing_required_file(good):
    (good / "spk2utt").unlink()
    p = only(validate_data_dir(good), "missing_file", "spk2utt")
    assert (p.severity, p.line) == ("error", None)


def test_reco2dur_problems(good):
    edit(good / "reco2dur", lambda ls: [ls[0], "rec2 0", "rec3 5"])
    report = validate_data_dir(good, check_audio=False)
    assert only(report, "duration", "reco2dur").line == 2
    assert only(report, "unknown_recording", "reco2dur").line == 3
    assert only(report, "missing_duration", "wav.scp").line == 2


def test_reco2dur_must_match_the_audio(good):
    edit(good / "reco2dur", lambda ls: [ls[0], "rec2 3.5"])
    p = only(validate_data_dir(good), "duration_mismatch", "reco2dur")
    assert p.line == 2 and "reco2dur says 3.5s but the audio lasts 3.000000s" in p.message


def test_without_reco2dur_the_audio_length_bounds_the_segments(good):
    (good / "reco2dur").unlink()
    edit(good / "segments", lambda ls: set_field(ls, 5, 3, "3.500"))
    report = validate_data_dir(good)
    assert only(report, "missing_file", "reco2dur").severity == "warning"
    p = only(report, "past_end", "segments")
    assert p.line == 5 and "(3.000s per the audio header)" in p.message


def test_audio_missing_stereo_and_unreadable(good):
    audio = good.parent / "audio"
    write_wav(audio / "rec1.wav", 4.0, channels=2)
    (audio / "rec2.wav").write_bytes(b"not audio")
    report = validate_data_dir(good)
    assert only(report, "channels", "wav.scp").message == "recording 'rec1' has 2 channels; expected 1"
    assert only(report, "audio_unreadable", "wav.scp").line == 2
    assert validate_data_dir(good, expected_channels=None, check_audio=True).find(code="channels") == []
    (audio / "rec2.wav").unlink()
    assert "does not exist" in only(validate_data_dir(good), "audio_missing", "wav.scp").message
    assert validate_data_dir(good, check_audio=False).ok


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")
def test_pipes_are_noted_unless_asked_then_run(good):
    audio = good.parent / "audio"
    write_wav(audio / "rec2_16k.wav", 3.0, fs=16000)
    edit(good / "wav.scp", lambda ls: [ls[0], f"rec2 sox {audio / 'rec2_16k.wav'} -r 8000 -t wav - |"])
    report = validate_data_dir(good, expected_fs=8000)
    p = only(report, "pipe_not_checked", "wav.scp")
    assert (p.severity, p.line) == ("info", 2)
    assert report.ok
    checked = validate_data_dir(good, expected_fs=8000, check_pipes=True)
    assert checked.problems == []  # 8 kHz after sox, 3.0 s as reco2dur says
    wrong = validate_data_dir(good, expected_fs=16000, check_pipes=True).find(code="sample_rate")
    assert [(p.line, p.message) for p in wrong] == [
        (1, "recording 'rec1' has sample rate 8000 Hz; expected 16000 Hz"),
        (2, "recording 'rec2' has sample rate 8000 Hz; expected 16000 Hz"),
    ]
    edit(good / "wav.scp", lambda ls: [ls[0], "rec2 false |"])
    assert only(validate_data_dir(good, check_pipes=True), "audio_unreadable", "wav.scp").line == 2


def test_rttm_problems(good):
    def bad_rttm(ls):
        ls[0] = ls[0].replace(" 1 0.500", " 0 0.500")
        ls[1] = " ".join(ls[1].split()[:9])
        ls[2] = ls[2].replace("rec1_A", "rec1_Z")
        return ls + ["SPEAKER rec9 1 0.000 1.000 <NA> <NA> x <NA> <NA>", "SPEAKER rec1 1 0.500 0 <NA> <NA> x <NA> <NA>"]

    edit(good / "rttm", bad_rttm)
    report = validate_data_dir(good)
    assert only(report, "rttm_channel", "rttm").line == 1
    assert only(report, "rttm_9_fields", "rttm").line == 2
    assert only(report, "unknown_recording", "rttm").line == 6
    assert only(report, "end_not_after_start", "rttm").line == 7
    mismatched = report.find(code="rttm_mismatch")
    assert sorted((Path(p.file).name, p.line) for p in mismatched) == [("rttm", 3), ("segments", 2)]


def test_uem_problems(good):
    edit(good / "uem", lambda ls: [ls[0], "rec2 1 0.000 3.500", "rec9 1 0 1"])
    report = validate_data_dir(good)
    assert only(report, "past_end", "uem").line == 2
    assert only(report, "unknown_recording", "uem").line == 3
    edit(good / "uem", lambda ls: [ls[0]])
    p = only(validate_data_dir(good), "no_uem", "wav.scp")
    assert (p.severity, p.line) == ("warning", 2)


# ----------------------------------------------------------------- one parser per format
READERS = {
    "rttm": read_rttm,
    "uem": read_uem,
    "segments": read_segments,
    "reco2dur": read_reco2dur,
    "utt2spk": read_utt2spk,
    "wav.scp": read_scp,
}


@pytest.mark.parametrize(
    "name, line, code",
    [
        ("rttm", "SPEAKER rec1 1 0.500 1.000 <NA> <NA> rec1_A <NA> <NA> extra", "fields"),
        ("rttm", "SPEAKER rec1 1 0.500 1.000 <NA> <NA>", "fields"),
        ("rttm", "SPEAKER rec1 1 0.500 inf <NA> <NA> rec1_A <NA> <NA>", "number"),
        ("rttm", "SPEAKER rec1 1 -0.5 1.000 <NA> <NA> rec1_A <NA> <NA>", "negative_start"),
        ("rttm", "SPEAKER rec1 1 0.500 0 <NA> <NA> rec1_A <NA> <NA>", "end_not_after_start"),
        ("uem", "rec1 1 2.0", "fields"),
        ("uem", "rec1 1 -1 3", "negative_start"),
        ("uem", "rec1 1 3 3", "end_not_after_start"),
        ("segments", "rec2_C-rec2-0000100-0000250 rec2 1.0 nan", "number"),
        ("segments", "rec2_Z-rec2-x rec2 -1.0 0.5", "negative_start"),
        ("segments", "rec2_A-rec2-0000000-0000200 rec2 0.0 2.0", "duplicate_key"),
        ("reco2dur", "rec3 0", "duration"),
        ("utt2spk", "rec2_Z-rec2-x rec2_Z extra", "fields"),
        ("wav.scp", "rec3", "fields"),
    ],
)
def test_the_reader_rejects_exactly_what_the_validator_reports(good, name, line, code):
    """Reader and validator share the format's parser: the line the reader stops at is the line the
    validator reports, with the same message; the same file without the line passes both."""
    assert validate_data_dir(good).problems == []
    READERS[name](good / name)  # reads
    edit(good / name, lambda ls: ls + [line])
    n = len((good / name).read_text().splitlines())
    p = only(validate_data_dir(good), code, name)
    with pytest.raises(DataFormatError) as e:
        READERS[name](good / name)
    assert (e.value.line, e.value.message) == (p.line, p.message) and p.line == n and p.severity == "error"


def test_more_than_ten_rttm_fields_are_rejected_by_reader_validator_and_fixer(good):
    edit(good / "rttm", lambda ls: [ls[0] + " x"] + ls[1:])
    p = only(validate_data_dir(good), "fields", "rttm")
    assert p.message.startswith("expected 10 fields 'SPEAKER <file> <chan> <onset> <duration> <NA> <NA> <speaker>")
    assert p.message.endswith("(or 9), got 11: 'SPEAKER rec1 1 0.500 1.000 <NA> <NA> rec1_A <NA> <NA> x'")
    with pytest.raises(DataFormatError, match=r"rttm:1: expected 10 fields .*got 11"):
        read_rttm(good / "rttm")
    report = fix_data_dir(good)
    assert [(e.file, e.line, e.action, e.kind) for e in report.find(file="rttm")] == [
        ("rttm", 1, "dropped", "malformed"),
        ("rttm", None, "added", "rttm_from_segment"),
    ]
    assert read_rttm(good / "rttm")[0] == Turn("rec1", 0.5, 1.0, "rec1_A") and report.ok


def test_many_problems_of_one_kind_are_counted_not_all_listed(tmp_path):
    turns = [Turn("rec1", i * 0.05, 0.04, f"rec1_{i:03d}") for i in range(MAX_PER_KIND + 10)]
    d = make_dir(tmp_path, turns=turns + [Turn("rec2", 0, 1, "rec2_A")])
    edit(d / "rttm", lambda ls: [line.replace(" 1 ", " 0 ", 1) if "rec1" in line else line for line in ls])
    edit(d / "segments", lambda ls: [f"{line} extra" if "rec1" in line else line for line in ls])
    report = validate_data_dir(d)
    fields = report.find(code="fields", file="segments")
    assert len(fields) == MAX_PER_KIND + 1
    assert fields[-1].line is None and fields[-1].message.startswith(
        f"10 more problems of kind 'fields' not listed ({MAX_PER_KIND + 10} in all)"
    )


def test_problem_format_and_bad_options():
    assert str(Problem("error", "d/segments", 3, "end 1 <= start 2")) == "d/segments:3: error: end 1 <= start 2"
    assert str(Problem("warning", "d/reco2dur", None, "missing")) == "d/reco2dur: warning: missing"
    with pytest.raises(ValueError, match="severity must be one of"):
        Problem("fatal", "f", 1, "m")
    with pytest.raises(ValueError, match=r"tolerance must be a finite number >= 0 \(seconds\), got -1"):
        validate_data_dir(".", tolerance=-1)
    with pytest.raises(ValueError, match="expected_fs must be > 0 or None, got 0"):
        validate_data_dir(".", expected_fs=0)
    report = ValidationReport("d", [Problem("warning", "f", 1, "w")])
    assert report.ok and not report.usable(strict=True)


def test_not_a_directory(tmp_path):
    report = validate_data_dir(tmp_path / "nope")
    assert [(p.code, p.line) for p in report.problems] == [("missing_dir", None)]


def test_read_raw_keeps_line_numbers(tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"a 1\r\n\n\xff\xfe\nb 2")
    raw = read_raw(f)
    assert [(ln.number, ln.fields) for ln in raw.lines] == [(1, ("a", "1")), (4, ("b", "2"))]
    assert (raw.crlf, raw.blank, raw.undecodable, raw.final_newline, raw.n_lines) == ([1], [2], [3], False, 4)


# ----------------------------------------------------------------- CLI
def test_cli_prints_file_line_severity_message_and_exit_status(good, capsys):
    assert cli.main([str(good), "--expected_fs", "8000"]) == 0
    assert capsys.readouterr().out == f"{good}: 0 errors, 0 warnings, 0 notes: usable\n"
    edit(good / "segments", lambda ls: set_field(ls, 4, 3, "0.000"))
    assert cli.main([str(good)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"{good / 'segments'}:4: error: end 0.0 <= start 0.0; expected end > start" in out
    assert out[-1].endswith("NOT usable")


def test_cli_strict_makes_warnings_fatal(good, capsys):
    (good / "uem").write_text("rec1 1 0.000 4.000\n")
    assert cli.main([str(good), "--no_audio"]) == 0
    assert cli.main([str(good), "--no_audio", "--strict"]) == 1
    assert (
        f"{good / 'wav.scp'}:2: warning: recording 'rec2' has no region in uem: it will not be scored"
        in capsys.readouterr().out
    )


def test_cli_runs_as_a_module(good):
    proc = subprocess.run(
        [
            str(Path(__import__("sys").executable)),
            "-m",
            "espnet2_tsdia.bin.validate_data_dir",
            str(good),
            "--expected_channels",
            "none",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("usable")
