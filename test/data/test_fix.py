import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.bin import fix_data_dir as cli
from espnet2_tsdia.data.datadir import data_dir_from_rttm
from espnet2_tsdia.data.fix import FixEntry, FixReport, fix_data_dir
from espnet2_tsdia.data.validate import KNOWN_FILES, validate_data_dir
from espnet2_tsdia.formats.kaldi import read_segments
from espnet2_tsdia.formats.rttm import read_rttm
from espnet2_tsdia.formats.text import read_raw
from espnet2_tsdia.formats.uem import UemSegment, read_uem, write_uem

from .test_validate import DURS, edit, make_dir, set_field

FILE_LEVEL = ("sorted", "crlf", "final_newline")


# ----------------------------------------------------------------- helpers
def snapshot(d):
    return {n: (d / n).read_bytes() for n in KNOWN_FILES if (d / n).is_file()}


def assert_report_accounts_for_every_line(before, after_dir, report):
    """Nothing disappears silently: each output file is exactly the input lines, minus the lines
    reported dropped, with the reported changes applied, plus the reported additions."""
    for name in set(before) | {e.file for e in report.entries}:
        original = {}
        if name in before:
            path = after_dir / ".orig" / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(before[name])
            original = {ln.number: ln.text for ln in read_raw(path).lines}
        mine = [e for e in report.entries if e.file == name and e.kind not in FILE_LEVEL]
        dropped = {e.line for e in mine if e.action == "dropped"}
        changed = {e.line: e.new for e in mine if e.action == "changed"}  # the last change wins
        expected = [changed.get(n, text) for n, text in original.items() if n not in dropped]
        expected += [e.new for e in mine if e.action == "added"]
        actual = (after_dir / name).read_text().splitlines() if (after_dir / name).is_file() else []
        assert Counter(actual) == Counter(expected), name


def fix_and_check(d, **kw):
    """Fix in place; check the report against the files, the result's validity and idempotence."""
    before = snapshot(d)
    report = fix_data_dir(d, **kw)
    assert_report_accounts_for_every_line(before, d, report)
    assert report.ok, report.validation.text()
    if report.changed:
        assert snapshot(d / ".backup") == before
        assert (d / "fix_report.txt").read_text() == report.text()
    after = snapshot(d)
    again = fix_data_dir(d, **kw)
    assert again.entries == []
    assert snapshot(d) == after
    assert not (d / ".backup.2").exists()
    return report


def lines_of(d, name):
    return (d / name).read_text().splitlines()


def raw_from_turns(tmp_path, text, durs=None, **kw):
    """A naive dir from an RTTM text (a data dir as a careless preparation script writes it)."""
    durs = durs or DURS
    (tmp_path / "in.rttm").write_text(text)
    d = tmp_path / "raw"
    data_dir_from_rttm(
        d, rttm=tmp_path / "in.rttm", wav_scp={r: f"{r}.wav" for r in durs}, reco2dur=durs, clean=False, **kw
    )
    return d


def rttm_line(reco, onset, dur, spk, chan="1"):
    return f"SPEAKER {reco} {chan} {onset} {dur} <NA> <NA> {spk} <NA> <NA>\n"


# ----------------------------------------------------------------- each kind of repair
def test_a_valid_dir_is_left_alone(tmp_path):
    d = make_dir(tmp_path)
    before = snapshot(d)
    report = fix_data_dir(d)
    assert report.entries == [] and report.ok and report.backup is None
    assert snapshot(d) == before
    assert not (d / ".backup").exists() and not (d / "fix_report.txt").exists()


def test_unsorted_is_sorted(tmp_path):
    d = make_dir(tmp_path)
    edit(d / "segments", lambda ls: [ls[2], ls[1], ls[0], ls[3], ls[4]])
    report = fix_and_check(d)
    assert [str(e) for e in report.entries] == [
        "segments: changed: unsorted -> sorted: 2 lines moved into C-locale order of column 1"
    ]


def test_duplicate_key_keeps_the_first(tmp_path):
    d = make_dir(tmp_path)
    edit(
        d / "utt2spk",
        lambda ls: ls[:2] + [ls[1].replace("rec1_A", "rec1_B", 1).replace("rec1_B-", "rec1_A-", 1)] + ls[2:],
    )
    report = fix_and_check(d)
    assert [str(e) for e in report.entries] == [
        "utt2spk:3: dropped: rec1_A-rec1-0000260-0000360 rec1_A: duplicate utterance id 'rec1_A-rec1-0000260-0000360'; the line 2 is kept"
    ]


def test_mismatched_spk2utt_is_rebuilt(tmp_path):
    d = make_dir(tmp_path)
    good = lines_of(d, "spk2utt")
    edit(d / "spk2utt", lambda ls: [ls[0].rsplit(" ", 1)[0], "ghost u9"] + ls[1:])
    report = fix_and_check(d)
    assert [(e.file, e.line, e.action, e.kind) for e in report.entries] == [
        ("spk2utt", 1, "changed", "spk2utt_rebuilt"),
        ("spk2utt", 2, "dropped", "spk2utt_rebuilt"),
    ]
    assert report.entries[0].why == "rebuilt from utt2spk (added 1)"
    assert lines_of(d, "spk2utt") == good


def test_missing_spk2utt_is_created(tmp_path):
    d = make_dir(tmp_path)
    (d / "spk2utt").unlink()
    report = fix_and_check(d)
    assert report.count(action="added", file="spk2utt", kind="spk2utt_rebuilt") == 4


def test_end_before_start_is_dropped_everywhere(tmp_path):
    d = raw_from_turns(tmp_path, rttm_line("rec1", 0.5, 1.0, "rec1_A") + rttm_line("rec2", 0.0, 2.0, "rec2_A"))
    edit(d / "segments", lambda ls: set_field(ls, 2, 3, "0"))
    report = fix_and_check(d)
    assert [str(e) for e in report.entries] == [
        "wav.scp:2: dropped: rec2 rec2.wav: recording 'rec2' has no segment left; Kaldi needs one per recording",
        "segments:2: dropped: rec2_A-rec2-0000000-0000200 rec2 0 0: end 0.0 <= start 0.0",
        "utt2spk:2: dropped: rec2_A-rec2-0000000-0000200 rec2_A: utterance 'rec2_A-rec2-0000000-0000200': its segment was dropped (segments:2)",
        "spk2utt:2: dropped: rec2_A rec2_A-rec2-0000000-0000200: speaker 'rec2_A' has no utterance in utt2spk",
        "reco2dur:2: dropped: rec2 3: recording 'rec2' was dropped from wav.scp: it has no segment left",
        "rttm:2: dropped: SPEAKER rec2 1 0.0 2.0 <NA> <NA> rec2_A <NA> <NA>: recording 'rec2' was dropped from wav.scp: it has no segment left",
    ]


def test_past_the_end_is_clipped_or_dropped(tmp_path):
    text = (
        rttm_line("rec2", 0.0, 2.0, "a")
        + rttm_line("rec2", 2.5, 0.8, "b")
        + rttm_line("rec2", 2.995, 0.1, "c")
        + rttm_line("rec2", 3.001, 0.5, "a")
        + rttm_line("rec2", 1.0, 2.009, "c")
    )
    d = raw_from_turns(tmp_path, text, durs={"rec2": 3.0})
    report = fix_and_check(d)
    seg = {(e.line, e.action, e.kind): e for e in report.find(file="segments")}
    assert sorted(seg) == [(2, "changed", "clipped"), (3, "dropped", "past_end"), (4, "dropped", "past_end")]
    assert seg[2, "changed", "clipped"].new == "b-rec2-0000250-0000330 rec2 2.500 3.000"
    assert (
        seg[2, "changed", "clipped"].why == "ended 0.300s past the end of recording 'rec2' (3.000s); clipped to 3.000s"
    )
    assert "leaving 0.005s, less than min_turn 0.01s" in seg[3, "dropped", "past_end"].why
    assert "starts at 3.001s, at or after the end" in seg[4, "dropped", "past_end"].why
    # within the tolerance (3.009 <= 3.0 + 0.01): left alone, as the validator accepts it
    assert read_segments(d / "segments")["c-rec2-0000100-0000301"].end == 3.009
    rttm = {(e.line, e.action, e.kind) for e in report.find(file="rttm")}
    assert rttm == {
        (2, "changed", "clipped"),
        (3, "dropped", "past_end"),
        (4, "dropped", "past_end"),
        (None, "changed", "sorted"),
    }


def test_unknown_recording_is_dropped(tmp_path):
    d = raw_from_turns(
        tmp_path,
        rttm_line("rec1", 0, 1, "rec1_A") + rttm_line("rec2", 0, 1, "rec2_A") + rttm_line("rec9", 0, 1, "rec9_A"),
    )
    report = fix_and_check(d)
    assert [(e.file, e.line, e.action, e.kind) for e in report.entries] == [
        ("segments", 3, "dropped", "unknown_recording"),
        ("utt2spk", 3, "dropped", "segment_dropped"),
        ("spk2utt", 3, "dropped", "spk2utt_rebuilt"),
        ("rttm", 3, "dropped", "unknown_recording"),
    ]
    assert report.entries[0].why == "recording 'rec9' is not in wav.scp"


def test_missing_final_newline_and_crlf(tmp_path):
    d = make_dir(tmp_path)
    (d / "utt2spk").write_bytes((d / "utt2spk").read_bytes().rstrip(b"\n"))
    (d / "rttm").write_bytes((d / "rttm").read_bytes().replace(b"\n", b"\r\n"))
    report = fix_and_check(d)
    assert [str(e) for e in report.entries] == [
        "utt2spk:5: changed: no final newline -> final newline: the last line did not end with \\n",
        "rttm:1: changed: CRLF line endings -> LF: 5 lines ended with CRLF",
    ]
    assert b"\r" not in (d / "rttm").read_bytes()


def test_same_speaker_overlaps_are_merged_into_the_earliest(tmp_path):
    text = (
        rttm_line("rec1", 1.4, 0.6, "A")
        + rttm_line("rec1", 0.5, 1.0, "A")
        + rttm_line("rec1", 0.7, 0.3, "A")
        + rttm_line("rec1", 0.6, 1.0, "B")
        + rttm_line("rec1", 0.5, 1.0, "A")
    )
    d = raw_from_turns(tmp_path, text, durs={"rec1": 4.0})
    report = fix_and_check(d)
    seg = report.find(file="segments")
    assert [(e.line, e.action, e.kind) for e in seg] == [
        (1, "dropped", "merged"),
        (2, "changed", "merged_extended"),
        (3, "dropped", "merged"),
        (5, "dropped", "merged"),
    ]
    assert seg[1].new == "A-rec1-0000050-0000150 rec1 0.500 2.000"
    assert seg[1].why == "merged with the overlapping segments of lines 5, 3, 1 (same speaker 'A')"
    rttm_drops = [e for e in report.find(file="rttm", action="dropped")]
    assert [(e.line, e.why) for e in rttm_drops] == [
        (1, "overlaps the turn at line 2 of the same speaker 'A'; merged into it"),
        (3, "overlaps the turn at line 2 of the same speaker 'A'; merged into it"),
        (5, "duplicate of the turn at line 2"),
    ]
    assert read_rttm(d / "rttm")[0].end == pytest.approx(2.0)
    assert len(read_segments(d / "segments")) == 2


def test_blank_malformed_and_undecodable_lines_are_dropped(tmp_path):
    d = make_dir(tmp_path)
    edit(d / "segments", lambda ls: ls[:1] + ["", "bad line", "u rec1 x 2"] + ls[1:])
    (d / "reco2dur").write_bytes((d / "reco2dur").read_bytes() + b"\xff\xfe 1\n")
    report = fix_and_check(d)
    assert [(e.file, e.line, e.kind) for e in report.entries] == [
        ("segments", 2, "blank_line"),
        ("segments", 3, "malformed"),
        ("segments", 4, "malformed"),
        ("reco2dur", 3, "encoding"),
    ]
    assert report.entries[2].why == "malformed: start and end must be finite numbers, got 'x' '2'"


def test_rttm_is_normalised_and_made_equal_to_segments(tmp_path):
    d = make_dir(tmp_path)
    edit(
        d / "rttm",
        lambda ls: [
            ls[0].replace(" 1 0.500", " 0 0.500"),
            " ".join(ls[1].split()[:9]),
            ";; comment",
            ls[3],
            ls[4],
            "SPEAKER rec1 1 3.700 0.200 <NA> <NA> rec1_X <NA> <NA>",
        ],
    )
    report = fix_and_check(d)
    assert [(e.line, e.action, e.kind, e.new) for e in report.find(file="rttm")] == [
        (1, "changed", "rttm_format", "SPEAKER rec1 1 0.500 1.000 <NA> <NA> rec1_A <NA> <NA>"),
        (2, "changed", "rttm_format", "SPEAKER rec1 1 1.200 1.300 <NA> <NA> rec1_B <NA> <NA>"),
        (3, "dropped", "not_speaker_line", ""),
        (6, "dropped", "rttm_without_segment", ""),
        (None, "added", "rttm_from_segment", "SPEAKER rec1 1 2.600 1.000 <NA> <NA> rec1_A <NA> <NA>"),
    ]


def test_uem_regions_are_clipped_and_unknown_dropped(tmp_path):
    d = make_dir(tmp_path)
    edit(d / "uem", lambda ls: [";; scored", ls[0], "rec2 1 0.000 3.500", "rec9 1 0 1", "rec2 1 0.000 3.500"])
    report = fix_and_check(d)
    assert [(e.line, e.action, e.kind) for e in report.find(file="uem")] == [
        (1, "dropped", "comment"),
        (3, "changed", "clipped"),
        (4, "dropped", "unknown_recording"),
        (5, "dropped", "duplicate"),
    ]
    assert read_uem(d / "uem")["rec2"] == [UemSegment("rec2", 0.0, 3.0)]


def test_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    d = make_dir(tmp_path)
    edit(d / "wav.scp", lambda ls: [ls[0], "rec2 ~/rec2.wav"])
    report = fix_and_check(d)
    assert [str(e) for e in report.entries] == [
        f"wav.scp:2: changed: rec2 ~/rec2.wav -> rec2 {tmp_path / 'home' / 'rec2.wav'}: '~' expanded (Kaldi does not allow it in wav.scp)"
    ]


def test_missing_reco2dur_is_read_from_the_audio(tmp_path):
    d = make_dir(tmp_path)
    (d / "reco2dur").unlink()
    report = fix_and_check(d)
    assert [str(e) for e in report.entries] == [
        "reco2dur: added: rec1 4: duration read from the audio header",
        "reco2dur: added: rec2 3: duration read from the audio header",
    ]


def test_recording_without_duration_is_dropped_when_reco2dur_exists(tmp_path):
    d = make_dir(tmp_path)
    edit(d / "reco2dur", lambda ls: ls[:1])
    (tmp_path / "audio" / "rec2.wav").unlink()
    report = fix_and_check(d)
    first = report.entries[0]
    assert (first.file, first.line, first.kind) == ("wav.scp", 2, "missing_duration")
    assert first.why.startswith("no duration in reco2dur, and audio file") and first.why.endswith("does not exist")
    assert lines_of(d, "wav.scp") == [f"rec1 {tmp_path / 'audio' / 'rec1.wav'}"]


def test_speakers_shared_by_recordings_cannot_be_fixed(tmp_path):
    d = raw_from_turns(
        tmp_path, rttm_line("rec1", 0, 1, "002-F") + rttm_line("rec2", 0, 1, "002-F") + rttm_line("rec2", 1, 1, "003-M")
    )
    report = fix_data_dir(d)
    assert not report.ok
    assert [p.code for p in report.validation.errors] == ["speaker_in_several_recordings"]
    assert fix_data_dir(d, global_speakers=True).ok


def test_out_dir_leaves_the_source_alone(tmp_path):
    d = make_dir(tmp_path)
    edit(d / "segments", lambda ls: ls[::-1])
    before = snapshot(d)
    report = fix_data_dir(d, out_dir=tmp_path / "fixed")
    assert snapshot(d) == before
    assert report.path == str(tmp_path / "fixed") and report.backup is None
    assert report.ok and (tmp_path / "fixed/fix_report.txt").read_text() == report.text()
    assert lines_of(tmp_path / "fixed", "segments") == sorted(lines_of(d, "segments"))


def test_a_second_backup_does_not_overwrite_the_first(tmp_path):
    d = make_dir(tmp_path)
    edit(d / "segments", lambda ls: ls[::-1])
    first = (d / "segments").read_bytes()
    fix_data_dir(d)
    edit(d / "utt2spk", lambda ls: ls[::-1])
    report = fix_data_dir(d)
    assert report.backup == str(d / ".backup.2")
    assert (d / ".backup/segments").read_bytes() == first


def test_report_format_and_bad_arguments(tmp_path):
    assert (
        str(FixEntry("segments", 3, "changed", "u r 0 5", "u r 0 4", "clipped", "clipped"))
        == "segments:3: changed: u r 0 5 -> u r 0 4: clipped"
    )
    assert str(FixEntry("uem", None, "added", "", "r 1 0 1", "why", "k")) == "uem: added: r 1 0 1: why"
    assert (
        FixReport("d", [FixEntry("f", 1, "dropped", "x", "", "y", "k")]).text()
        == "# d: 1 lines dropped, 0 changed, 0 added\nf:1: dropped: x: y\n"
    )
    with pytest.raises(ValueError, match="action must be one of"):
        FixEntry("f", 1, "moved", "", "", "", "")
    with pytest.raises(ValueError, match=r"min_turn must be a finite number >= 0 \(seconds\), got -0.5"):
        fix_data_dir(tmp_path, min_turn=-0.5)
    with pytest.raises(FileNotFoundError, match=r"not a data dir \(no wav.scp\)"):
        fix_data_dir(tmp_path)
    (tmp_path / "wav.scp").write_text("r r.wav\n")
    with pytest.raises(FileNotFoundError, match=r"not a data dir \(no utt2spk\); nothing to fix from"):
        fix_data_dir(tmp_path)


# ----------------------------------------------------------------- real annotations
def build_raw(real, tmp_path, corpus):
    """A naive data dir from the real RTTMs of one corpus, with silent-audio durations: the UEM
    end where there is one, else the end of the last turn rounded up. AVA-AVD gets the UEM of
    each clip's window in movie time (clip k of a movie: 900 + 300 (k - 1) to 900 + 300 k s)."""
    folder = real / corpus
    rttms = sorted(folder.glob("*.rttm"))
    uems = sorted(folder.glob("*.uem"))
    if corpus == "ava_avd":
        windows = {p.stem: 900 + 300 * int(p.stem[-1]) for p in rttms}
        write_uem(tmp_path / "clips.uem", {r: [UemSegment(r, end - 300, end)] for r, end in windows.items()})
        uems = [tmp_path / "clips.uem"]
    turns = [t for f in rttms for t in read_rttm(f)]
    durs = {t.reco: 0.0 for t in turns}
    for t in turns:
        durs[t.reco] = max(durs[t.reco], math.ceil(t.end))
    for f in uems:
        durs.update({r: regions[-1].end for r, regions in read_uem(f).items()})
    d = tmp_path / corpus
    data_dir_from_rttm(
        d,
        rttm=rttms,
        uem=uems or None,
        wav_scp={r: f"{r}.wav" for r in durs},
        reco2dur=durs,
        prefix_speakers=corpus != "ami",
        clean=False,
    )
    return d


def turn_lines_where(path, pred):
    return [n for n, line in enumerate(path.read_text().splitlines(), start=1) if pred(*map(float, line.split()[3:5]))]


def kinds(report, file):
    return Counter((e.action, e.kind) for e in report.find(file=file))


def test_ami_ts3007c_segments_past_the_uem_end(real_annotations, tmp_path):
    d = build_raw(real_annotations, tmp_path, "ami")
    before = validate_data_dir(d, check_audio=False)
    # EN2002a (746 turns) and ES2011a (215) come first; TS3007c's lines follow
    late = [961 + n for n in turn_lines_where(real_annotations / "ami/TS3007c.rttm", lambda on, dur: on + dur > 2420.0)]
    assert late == [1521, 1523, 1524, 1525]
    assert [p.line for p in before.find(code="past_end", file="segments")] == late
    report = fix_and_check(d)
    for name in ("segments", "rttm"):
        assert kinds(report, name) == Counter(
            {("changed", "clipped"): 1, ("dropped", "past_end"): 3, ("changed", "sorted"): 1}
        )
        assert sorted(e.line for e in report.find(file=name) if e.kind in ("clipped", "past_end")) == late
    clipped = report.find(file="segments", kind="clipped")[0]
    assert clipped.old == "MTD026UID-TS3007c-0241545-0242256 TS3007c 2415.45 2422.56"
    assert clipped.new == "MTD026UID-TS3007c-0241545-0242256 TS3007c 2415.450 2420.000"
    assert kinds(report, "utt2spk") == Counter({("dropped", "segment_dropped"): 3, ("changed", "sorted"): 1})
    assert kinds(report, "spk2utt") == Counter({("changed", "spk2utt_rebuilt"): 2, ("changed", "sorted"): 1})
    assert report.find(file="wav.scp") == report.find(file="reco2dur") == report.find(file="uem") == []
    assert len(read_segments(d / "segments")) == 746 + 215 + 564 - 3
    assert validate_data_dir(d, check_audio=False).problems == []


def test_voxconverse_utial_merges_one_turn(real_annotations, tmp_path):
    d = build_raw(real_annotations, tmp_path, "voxconverse")
    assert [p.line for p in validate_data_dir(d, check_audio=False).find(code="same_speaker_overlap")] == [
        72,
        72,
    ]  # segments and rttm
    report = fix_and_check(d)
    merged = report.find(kind="merged")
    assert [(e.file, e.line) for e in merged] == [
        ("segments", 72),
        ("utt2spk", 72),
        ("rttm", 72),
    ]  # utial lines 42 after abjxc (2) and afjiv (28)
    assert merged[0].old == "utial_spk00-utial-0025067-0025365 utial 250.67 253.65"
    assert (
        merged[0].why
        == "overlaps utterance 'utial_spk00-utial-0024758-0027654' (line 69) of the same speaker 'utial_spk00'; merged into it"
    )
    assert report.count(kind="merged_extended") == 0  # the outer turn contains the inner one
    assert kinds(report, "spk2utt") == Counter({("changed", "spk2utt_rebuilt"): 2})
    assert len(read_segments(d / "segments")) == 2 + 28 + 170 - 1


def test_msdwild_channel_0_and_zero_padded_ids(real_annotations, tmp_path):
    d = build_raw(real_annotations, tmp_path, "msdwild")
    assert (
        validate_data_dir(d, check_audio=False)
        .find(code="rttm_channel")[0]
        .message.startswith("580 lines have a channel other than 1")
    )
    report = fix_and_check(d)
    assert kinds(report, "rttm") == Counter({("changed", "rttm_format"): 580, ("changed", "sorted"): 1})
    assert all(e.why == "normalised to 10 fields, channel 1 (was channel '0')" for e in report.find(kind="rttm_format"))
    assert [line.split()[0] for line in lines_of(d, "wav.scp")] == ["00001", "00006", "00884", "01935"]
    assert {line.split()[2] for line in lines_of(d, "rttm")} == {"1"}
    assert report.count(action="dropped") == 0
    assert len(set(line.split()[1] for line in lines_of(d, "utt2spk"))) == 3 + 3 + 5 + 9


def test_ava_avd_turn_outside_its_clip_window(real_annotations, tmp_path):
    d = build_raw(real_annotations, tmp_path, "ava_avd")
    assert lines_of(d, "reco2dur") == [
        "-FaXLcSFjUI_c_01 1200",
        "0f39OWEqJ24_c_01 1200",
        "Ma2hgTmveKQ_c_02 1500",
        "Ov0za6Xb1LM_c_02 1500",
    ]
    report = fix_and_check(d)
    dropped = report.find(action="dropped")
    assert [(e.file, e.kind) for e in dropped] == [
        ("segments", "past_end"),
        ("utt2spk", "segment_dropped"),
        ("rttm", "past_end"),
    ]
    assert (
        dropped[2].old == "SPEAKER Ma2hgTmveKQ_c_02 1 1555.541000 0.371000 <NA> <NA> Ma2hgTmveKQ_c_02_spk02 <NA> <NA>"
    )
    assert report.count(kind="clipped") == 0
    assert lines_of(d, "wav.scp")[0] == "-FaXLcSFjUI_c_01 -FaXLcSFjUI_c_01.wav"
    assert len(read_segments(d / "segments")) == 56 + 103 + 68 + 137 - 1


def test_aishell4_crlf_and_per_session_labels(real_annotations, tmp_path):
    d = build_raw(real_annotations, tmp_path, "aishell4")
    report = fix_and_check(d)
    assert [str(e) for e in report.find(kind="crlf")] == [
        "rttm:1: changed: CRLF line endings -> LF: 1487 lines ended with CRLF"
    ]
    assert report.count(action="dropped") == report.count(action="added") == 0
    assert kinds(report, "rttm") == Counter({("changed", "crlf"): 1, ("changed", "sorted"): 1})
    assert b"\r" not in (d / "rttm").read_bytes()
    assert len({line.split()[1] for line in lines_of(d, "utt2spk")}) == 18  # 6 labels x 3 sessions
    # without the session prefix, the labels collide across sessions: not something to guess
    (tmp_path / "bare").mkdir()
    recos = ["L_R003S01C02", "L_R003S02C02", "L_R003S03C02"]
    bare = tmp_path / "bare" / "d"
    data_dir_from_rttm(
        bare,
        rttm=real_annotations / "aishell4/test3.rttm",
        wav_scp={r: f"{r}.wav" for r in recos},
        reco2dur={r: 2400.0 for r in recos},
        clean=False,
    )
    errors = fix_data_dir(bare).validation.errors
    assert Counter(p.code for p in errors) == Counter(
        {"speaker_in_several_recordings": 6}
    )  # every label is in all 3 sessions


@pytest.mark.parametrize("corpus", ["ami", "voxconverse", "msdwild", "ava_avd", "aishell4"])
def test_every_real_fixture_is_accepted_after_the_fixer(real_annotations, tmp_path, corpus):
    d = build_raw(real_annotations, tmp_path, corpus)
    assert not validate_data_dir(d, check_audio=False).ok  # a naive import is never a valid dir
    fix_data_dir(d)
    report = validate_data_dir(d, check_audio=False, global_speakers=corpus == "ami")
    assert report.errors == [] and report.warnings == []


# ----------------------------------------------------------------- property: anything messy
messy_turns = st.lists(
    st.tuples(
        st.sampled_from(["rec1", "rec2", "rec9"]),
        st.integers(-500, 5_000).map(lambda ms: ms / 1000),
        st.integers(-100, 3_000).map(lambda ms: ms / 1000),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["0", "1"]),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=30, deadline=None)
@given(messy_turns, st.randoms(use_true_random=False))
def test_any_messy_dir_is_fixed_reported_and_stable(tmp_path_factory, turns, rng):
    tmp = tmp_path_factory.mktemp("messy")
    text = "".join(
        rttm_line(r, max(on, 0), dur, f"{r}_{s}", chan) for r, on, dur, s, chan in turns if dur > 0 and on >= 0
    )
    if not text:
        return
    d = raw_from_turns(tmp, text)
    # more mess: negative starts and zero-length segments the RTTM reader would refuse
    edit(
        d / "segments",
        lambda ls: (
            ls
            + [f"rec1_a-x-{i} rec1 {on} {on + dur}" for i, (r, on, dur, s, c) in enumerate(turns) if on < 0 or dur <= 0]
        ),
    )
    edit(
        d / "utt2spk",
        lambda ls: (
            rng.sample(ls, len(ls))
            + [f"rec1_a-x-{i} rec1_a" for i, (r, on, dur, s, c) in enumerate(turns) if on < 0 or dur <= 0]
        ),
    )
    before = snapshot(d)
    report = fix_data_dir(d)
    assert_report_accounts_for_every_line(before, d, report)
    if (d / "wav.scp").read_text():
        assert report.ok, report.validation.text()
        assert fix_data_dir(d).entries == []


# ----------------------------------------------------------------- CLI
def test_cli(tmp_path, capsys):
    d = make_dir(tmp_path)
    edit(d / "segments", lambda ls: ls[::-1])
    assert cli.main([str(d), "--verbose"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "segments: changed: unsorted -> sorted: 4 lines moved into C-locale order of column 1"
    assert out[1] == f"{d}: 0 lines dropped, 1 changed, 0 added"
    assert out[2] == f"report: {d}/fix_report.txt; originals in {d}/.backup"
    assert out[-1].endswith(": usable")
    edit(d / "utt2spk", lambda ls: set_field(ls, 4, 1, "rec1_A"))  # rec1_A speaks in rec2 too
    assert cli.main([str(d)]) == 1
    assert "speaker_in_several_recordings" not in capsys.readouterr().out  # messages, not codes
    assert cli.main([str(tmp_path / "none")]) == 2
