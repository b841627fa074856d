import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.rttm import (
    Turn,
    format_turn,
    group_by_reco,
    merge_same_speaker,
    read_rttm,
    self_overlaps,
    sort_turns,
    write_rttm,
)

from .test_kaldi import ids


def T(reco, onset, dur, spk, channel="1"):
    return Turn(reco=reco, onset=onset, duration=dur, speaker=spk, channel=channel)


# ----------------------------------------------------------------- what real files do
def test_msdwild_channel_0_is_normalised_and_ids_stay_zero_padded_strings(real_annotations):
    turns = read_rttm(real_annotations / "msdwild/00001.rttm")
    assert len(turns) == 8
    assert {t.reco for t in turns} == {"00001"}
    assert {t.channel for t in turns} == {"1"}
    assert turns[1] == T("00001", 5.633, 5.70458, "2")
    kept = read_rttm(real_annotations / "msdwild/00001.rttm", keep_channel=True)
    assert {t.channel for t in kept} == {"0"}


@pytest.mark.parametrize(
    "name, n_turns, speakers",
    [
        ("00006", 128, {"0", "1", "h0"}),
        ("00884", 420, {"0", "1", "2", "3", "4"}),
        ("01935", 24, {"0", "1", "2", "3", "4", "5", "6", "7", "h"}),
    ],
)
def test_msdwild_labels_are_strings(real_annotations, name, n_turns, speakers):
    turns = read_rttm(real_annotations / f"msdwild/{name}.rttm")
    assert len(turns) == n_turns
    assert {t.speaker for t in turns} == speakers


def test_aishell4_crlf_leaves_no_carriage_return(real_annotations):
    turns = read_rttm(real_annotations / "aishell4/test3.rttm")
    assert len(turns) == 1487
    assert [r for r in group_by_reco(turns)] == ["L_R003S01C02", "L_R003S02C02", "L_R003S03C02"]
    assert not any("\r" in t.speaker or "\r" in t.reco for t in turns)
    assert turns[0] == T("L_R003S01C02", 4.835, 1.61, "006-M")
    # labels like 002-F are per session: the same label appears in several sessions
    sessions_of = {}
    for t in turns:
        sessions_of.setdefault(t.speaker, set()).add(t.reco)
    assert sessions_of["006-M"] == {"L_R003S01C02", "L_R003S02C02", "L_R003S03C02"}


def test_ava_runs_of_spaces_and_leading_dash(real_annotations):
    spaced = read_rttm(real_annotations / "ava_avd/Ov0za6Xb1LM_c_02.rttm")
    assert len(spaced) == 137
    assert {t.reco for t in spaced} == {"Ov0za6Xb1LM_c_02"}
    assert spaced[0] == T("Ov0za6Xb1LM_c_02", 1214.405, 0.766, "spk00")
    dashed = read_rttm(real_annotations / "ava_avd/-FaXLcSFjUI_c_01.rttm")
    assert len(dashed) == 56
    assert {t.reco for t in dashed} == {"-FaXLcSFjUI_c_01"}
    # absolute movie time: the clip is minutes 15-20 of the movie
    assert min(t.onset for t in dashed) == pytest.approx(900.004)
    assert max(t.end for t in dashed) == pytest.approx(1163.342)


def test_voxconverse_turns_grouped_by_speaker_keep_file_order(real_annotations):
    turns = read_rttm(real_annotations / "voxconverse/afjiv.rttm")
    assert len(turns) == 28
    assert [t.onset for t in turns[:3]] == [41.12, 140.64, 142.2]  # file order, not time order
    ordered = sort_turns(turns)
    assert [t.onset for t in ordered[:3]] == [5.28, 34.68, 40.12]
    assert all(a.onset <= b.onset for a, b in itertools.pairwise(ordered))


def test_missing_final_newline_keeps_the_last_turn(real_annotations, tmp_path):
    data = (real_annotations / "voxconverse/abjxc.rttm").read_bytes()
    assert data.endswith(b"\n")
    f = tmp_path / "abjxc.rttm"
    f.write_bytes(data.rstrip(b"\n"))
    assert read_rttm(f) == [T("abjxc", 0.4, 6.64, "spk00"), T("abjxc", 8.68, 55.96, "spk00")]


def test_ami_durations_without_decimal_point(real_annotations):
    turns = read_rttm(real_annotations / "ami/TS3007c.rttm")
    assert len(turns) == 564
    assert T("TS3007c", 2427.1, 1.0, "MTD026UID") in turns  # written "2427.1 1"
    after = [t for t in turns if t.end > 2420.0]
    assert len(after) == 4


def test_utial_same_speaker_turn_inside_another(real_annotations):
    turns = read_rttm(real_annotations / "voxconverse/utial.rttm")
    assert len(turns) == 170
    pairs = self_overlaps(turns)
    assert len(pairs) == 1
    outer, inner = pairs[0]
    assert (outer.speaker, outer.onset, outer.end) == ("spk00", 247.58, pytest.approx(276.54))
    assert (inner.onset, inner.end) == (250.67, pytest.approx(253.65))
    merged, changes = merge_same_speaker(turns)
    assert len(merged) == 169
    assert len(changes) == 1
    old, new = changes[0]
    assert old == [outer, inner]
    assert (new.onset, new.end) == (247.58, pytest.approx(276.54))
    assert self_overlaps(merged) == []


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "line, match",
    [
        ("SPEAKER r 1 0.0 1.0 <NA> <NA>", r"x.rttm:2: expected 10 fields 'SPEAKER <file> .*' \(or 9\), got 7"),
        ("SPEAKER r 1 0.0 1.0 <NA> <NA> s <NA> <NA> x", r"x.rttm:2: expected 10 fields .* \(or 9\), got 11"),
        (
            "SPEAKER r 1 zero 1.0 <NA> <NA> s <NA> <NA>",
            r"x.rttm:2: onset/duration must be numbers, got 'zero' '1.0'; expected finite seconds in fields 4 and 5",
        ),
        ("SPEAKER r 1 -1 1.0 <NA> <NA> s <NA> <NA>", r"x.rttm:2: onset \(field 4\) must be >= 0, got '-1'"),
        ("SPEAKER r 1 1.0 0 <NA> <NA> s <NA> <NA>", r"x.rttm:2: field 5 is a duration and must be > 0, got '0'"),
    ],
)
def test_read_rttm_errors_name_file_and_line(tmp_path, line, match):
    f = tmp_path / "x.rttm"
    f.write_text("SPEAKER r 1 0.0 1.0 <NA> <NA> s <NA> <NA>\n" + line + "\n")
    with pytest.raises(DataFormatError, match=match):
        read_rttm(f)


def test_nine_field_lines_comments_and_other_types(tmp_path):
    f = tmp_path / "x.rttm"
    f.write_text(
        ";; comment\nSPKR-INFO r 1 <NA> <NA> <NA> unknown s <NA> <NA>\nSPEAKER r 1   0.50 1.25 <NA> <NA> s <NA>\n"
    )
    assert read_rttm(f) == [T("r", 0.5, 1.25, "s")]


# ----------------------------------------------------------------- writing
def test_write_rttm_ten_fields_sorted(tmp_path):
    f = tmp_path / "x.rttm"
    write_rttm(f, [T("b", 0, 1, "s"), T("a", 2, 1, "y"), T("a", 2, 1, "x"), T("a", 0.5, 1, "z")])
    assert f.read_text().splitlines() == [
        "SPEAKER a 1 0.500 1.000 <NA> <NA> z <NA> <NA>",
        "SPEAKER a 1 2.000 1.000 <NA> <NA> x <NA> <NA>",
        "SPEAKER a 1 2.000 1.000 <NA> <NA> y <NA> <NA>",
        "SPEAKER b 1 0.000 1.000 <NA> <NA> s <NA> <NA>",
    ]


def test_format_turn_rounds_the_end_not_the_duration():
    # onset 1.0006 and duration 1.0006 end at 2.0012: written onset 1.001 and end 2.001, so a
    # turn of the same speaker starting at 2.0012 (written 2.001) only touches it.
    assert format_turn(T("r", 1.0006, 1.0006, "s")) == "SPEAKER r 1 1.001 1.000 <NA> <NA> s <NA> <NA>"


def test_write_rttm_rejects_turns_shorter_than_a_millisecond(tmp_path):
    with pytest.raises(ValueError, match=r"turn of 's' in 'r' at 1.000s is shorter than 1 ms"):
        write_rttm(tmp_path / "x.rttm", [T("r", 1.0, 0.0004, "s")])


def test_merge_same_speaker_keeps_touching_turns_apart_and_other_speakers_alone():
    turns = [T("r", 0, 1, "a"), T("r", 1, 1, "a"), T("r", 0.5, 1, "b"), T("r", 1.5, 1, "a")]
    merged, changes = merge_same_speaker(turns)
    assert merged == [T("r", 0, 1, "a"), T("r", 0.5, 1, "b"), T("r", 1, 1.5, "a")]
    assert changes == [([T("r", 1, 1, "a"), T("r", 1.5, 1, "a")], T("r", 1, 1.5, "a"))]
    merged_gap, _ = merge_same_speaker(turns, gap=0.01)
    assert [(t.speaker, t.onset, t.end) for t in merged_gap] == [("a", 0, 2.5), ("b", 0.5, 1.5)]


# ----------------------------------------------------------------- round trip (property)
turns_strategy = st.lists(
    st.builds(
        Turn,
        reco=ids,
        onset=st.integers(0, 10_000_000).map(lambda ms: ms / 1000),
        duration=st.integers(1, 100_000).map(lambda ms: ms / 1000),
        speaker=ids,
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(turns_strategy)
def test_write_then_read_round_trips(tmp_path_factory, turns):
    f = tmp_path_factory.mktemp("rt") / "x.rttm"
    write_rttm(f, turns)
    back = read_rttm(f)
    assert len(back) == len(turns)
    for a, b in zip(back, sort_turns(turns), strict=True):
        assert (a.reco, a.speaker, a.channel) == (b.reco, b.speaker, "1")
        assert a.onset == pytest.approx(b.onset, abs=1e-9)
        assert a.end == pytest.approx(b.end, abs=1e-6)
    assert all(len(line.split()) == 10 for line in f.read_text().splitlines())
