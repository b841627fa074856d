import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import (
    Segment,
    c_sort_key,
    iter_lines,
    read_list,
    read_reco2dur,
    read_scp,
    read_segments,
    read_spk2utt,
    read_table,
    read_utt2spk,
    utt2spk_to_spk2utt,
    utt_id,
    write_reco2dur,
    write_scp,
    write_segments,
    write_spk2utt,
    write_utt2spk,
)

# Ids as real corpora spell them: a leading '-' (AVA-AVD), zero-padded numbers (MSDWild), mixed
# case, '_' and '-' separators, non-ASCII.
ID_CHARS = "abcXYZ019_-."
ids = st.one_of(
    st.text(alphabet=ID_CHARS, min_size=1, max_size=12),
    st.integers(0, 99999).map(lambda n: f"{n:05d}"),
    st.text(alphabet=ID_CHARS, min_size=1, max_size=8).map(lambda s: "-" + s),
    st.sampled_from(["L_R003S01C02_002-F", "ES2011a", "-FaXLcSFjUI_c_01", "00884_h0", "é", "Z", "a"]),
)
# Times on the millisecond grid the writers use.
times = st.integers(0, 10_000_000).map(lambda ms: ms / 1000)


def write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return path


# ----------------------------------------------------------------- C-locale order
def test_c_sort_key_matches_lc_all_c_sort():
    keys = ["b", "B", "a-b", "a_b", "a", "-x", "00010", "0009", "é", "Z", "ab", "a.b"]
    out = subprocess.run(
        ["sort"], input="\n".join(keys) + "\n", capture_output=True, text=True, env={"LC_ALL": "C"}, check=True
    )
    assert sorted(keys, key=c_sort_key) == out.stdout.splitlines()


def test_c_sort_key_is_byte_order_not_locale_order():
    assert sorted(["b", "B", "a", "_", "-"], key=c_sort_key) == ["-", "B", "_", "a", "b"]


# ----------------------------------------------------------------- lines and lists
def test_iter_lines_tolerates_crlf_blank_lines_and_no_final_newline(tmp_path):
    f = write(tmp_path / "f", "a 1\r\n\r\n  \nb 2")
    assert list(iter_lines(f)) == [(1, "a 1"), (4, "b 2")]


@pytest.mark.parametrize(
    "name, count, first, last",
    [
        ("ava_avd/train.list", 243, "-FaXLcSFjUI_c_01", "xO4ABy2iOQA_c_03"),
        ("ava_avd/val.list", 54, "2XeFK-DTSZk_c_01", "tjqCzVjojCo_c_03"),
        ("ava_avd/test.list", 54, "1j20qq1JyX4_c_01", "yn9WN9lsHRE_c_03"),
        ("ami/train.meetings.txt", 136, "IS1000a", "EN2009d"),
        ("ami/dev.meetings.txt", 18, "IS1008a", "IB4011"),
        ("ami/test.meetings.txt", 16, "IS1009a", "EN2002d"),
        ("msdwild/few.val.derived.lst", 490, None, None),
        ("msdwild/many.val.derived.lst", 177, None, None),
    ],
)
def test_read_list_of_real_split_lists(real_annotations, name, count, first, last):
    # The AVA-AVD lists have no final newline: `wc -l` says 242/53/53, the reader must not lose
    # the last clip.
    ids_ = read_list(real_annotations / name)
    assert len(ids_) == count
    assert len(set(ids_)) == count
    if first is not None:
        assert (ids_[0], ids_[-1]) == (first, last)


def test_read_list_keeps_zero_padded_ids_as_strings(real_annotations):
    ids_ = read_list(real_annotations / "msdwild/few.val.derived.lst")
    assert all(isinstance(i, str) for i in ids_)
    assert any(i.startswith("0") for i in ids_)


def test_read_list_rejects_two_fields_and_duplicates(tmp_path):
    with pytest.raises(DataFormatError, match=r"f:2: expected one id per line, got 2 fields"):
        read_list(write(tmp_path / "f", "a\nb c\n"))
    with pytest.raises(DataFormatError, match=r"f:3: duplicate id 'a' \(first at line 1\)"):
        read_list(write(tmp_path / "f", "a\nb\na\n"))


# ----------------------------------------------------------------- scp and tables
def test_read_scp_keeps_pipes_and_inner_spaces(tmp_path):
    f = write(tmp_path / "wav.scp", "r1 sox a.flac -t wav - remix 1 |\nr2 /x/y z.wav\n")
    assert read_scp(f) == {"r1": "sox a.flac -t wav - remix 1 |", "r2": "/x/y z.wav"}


def test_read_scp_errors_name_file_and_line(tmp_path):
    with pytest.raises(DataFormatError, match=r"wav.scp:2: expected '<key> <value>'"):
        read_scp(write(tmp_path / "wav.scp", "a x\nb\n"))
    with pytest.raises(DataFormatError, match=r"wav.scp:3: duplicate key 'a'"):
        read_scp(write(tmp_path / "wav.scp", "a x\nb y\na z\n"))


def test_write_scp_sorts_in_c_order_with_final_newline(tmp_path):
    f = tmp_path / "wav.scp"
    write_scp(f, {"b": "2", "B": "1", "-a": "0"})
    assert f.read_bytes() == b"-a 0\nB 1\nb 2\n"


def test_read_table_field_counts(tmp_path):
    f = write(tmp_path / "t", "a 1 2\nb 1\n")
    assert read_table(f, min_fields=2) == {"a": ["1", "2"], "b": ["1"]}
    with pytest.raises(DataFormatError, match=r"t:1: expected 2 fields, got 3"):
        read_table(f, min_fields=2, max_fields=2)
    with pytest.raises(DataFormatError, match=r"t:2: expected at least 3 fields, got 2"):
        read_table(f, min_fields=3)


# ----------------------------------------------------------------- segments
def test_segments_exact_values_and_format(tmp_path):
    f = tmp_path / "segments"
    write_segments(f, [Segment("u2", "r", 1.0, 2.5), Segment("u1", "r", 0.0004, 0.0106)])
    assert f.read_text() == "u1 r 0.000 0.011\nu2 r 1.000 2.500\n"
    assert read_segments(f) == {"u1": Segment("u1", "r", 0.0, 0.011), "u2": Segment("u2", "r", 1.0, 2.5)}


@pytest.mark.parametrize(
    "text, match",
    [
        ("u r 1\n", r"segments:1: expected 4 fields"),
        ("u r a 2\n", r"segments:1: start and end must be finite numbers, got 'a' '2'"),
        ("u r 1 nan\n", r"segments:1: start and end must be finite numbers, got '1' 'nan'"),
        ("u r 0 1\nu r 1 2\n", r"segments:2: duplicate utterance id 'u' \(first at line 1\)"),
        ("u r 2 2\n", r"segments:1: end 2.0 <= start 2.0; expected end > start"),
        ("u r -1 2\n", r"segments:1: start -1.0 < 0; expected 0 <= start < end"),
    ],
)
def test_read_segments_errors(tmp_path, text, match):
    with pytest.raises(DataFormatError, match=match):
        read_segments(write(tmp_path / "segments", text))


# ----------------------------------------------------------------- speakers
def test_utt2spk_to_spk2utt_is_kaldis_inverse():
    u2s = {"b-2": "b", "a-1": "a", "b-1": "b", "a-2": "a"}
    assert utt2spk_to_spk2utt(u2s) == {"a": ["a-1", "a-2"], "b": ["b-1", "b-2"]}
    assert list(utt2spk_to_spk2utt(u2s)) == ["a", "b"]


def test_read_utt2spk_needs_exactly_two_fields(tmp_path):
    with pytest.raises(DataFormatError, match=r"utt2spk:2: expected 2 fields, got 3"):
        read_utt2spk(write(tmp_path / "utt2spk", "u1 a\nu2 a b\n"))


def test_spk2utt_round_trip(tmp_path):
    f = tmp_path / "spk2utt"
    write_spk2utt(f, {"b": ["b-1"], "a": ["a-1", "a-2"]})
    assert f.read_text() == "a a-1 a-2\nb b-1\n"
    assert read_spk2utt(f) == {"a": ["a-1", "a-2"], "b": ["b-1"]}


# ----------------------------------------------------------------- reco2dur
def test_reco2dur_format_and_errors(tmp_path):
    f = tmp_path / "reco2dur"
    write_reco2dur(f, {"r2": 2420.0, "r1": 1113.845375})
    assert f.read_text() == "r1 1113.845375\nr2 2420\n"
    assert read_reco2dur(f) == {"r1": 1113.845375, "r2": 2420.0}
    with pytest.raises(DataFormatError, match=r"reco2dur:1: duration must be a finite number > 0, got '0'"):
        read_reco2dur(write(f, "r 0\n"))
    with pytest.raises(DataFormatError, match=r"reco2dur:2: duplicate recording id 'r'"):
        read_reco2dur(write(f, "r 1\nr 2\n"))


def test_utt_id_is_speaker_first_and_centisecond_padded():
    assert utt_id("spk", "reco", 1.234, 12.5) == "spk-reco-0000123-0001250"


# ----------------------------------------------------------------- round trips (properties)
@settings(max_examples=60, deadline=None)
@given(st.dictionaries(ids, ids, min_size=1, max_size=20))
def test_scp_and_utt2spk_round_trip(tmp_path_factory, table):
    d = tmp_path_factory.mktemp("rt")
    write_scp(d / "wav.scp", table)
    write_utt2spk(d / "utt2spk", table)
    assert read_scp(d / "wav.scp") == table
    assert read_utt2spk(d / "utt2spk") == table
    keys = [line.split()[0] for line in (d / "wav.scp").read_text().splitlines()]
    assert keys == sorted(table, key=c_sort_key)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        ids, st.tuples(ids, times, st.integers(1, 100_000).map(lambda ms: ms / 1000)), min_size=1, max_size=20
    )
)
def test_segments_round_trip(tmp_path_factory, table):
    f = tmp_path_factory.mktemp("rt") / "segments"
    segs = [Segment(u, r, s, round(s + d, 3)) for u, (r, s, d) in table.items()]
    write_segments(f, segs)
    assert read_segments(f) == {s.utt: s for s in segs}


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(ids, st.integers(1, 10**9).map(lambda us: us / 10**6), min_size=1, max_size=20))
def test_reco2dur_round_trip(tmp_path_factory, table):
    f = tmp_path_factory.mktemp("rt") / "reco2dur"
    write_reco2dur(f, table)
    assert read_reco2dur(f) == table


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(ids, ids, min_size=1, max_size=30))
def test_spk2utt_round_trip_property(tmp_path_factory, utt2spk):
    f = tmp_path_factory.mktemp("rt") / "spk2utt"
    spk2utt = utt2spk_to_spk2utt(utt2spk)
    write_spk2utt(f, spk2utt)
    back = read_spk2utt(f)
    assert back == spk2utt
    assert {u: s for s, us in back.items() for u in us} == utt2spk
