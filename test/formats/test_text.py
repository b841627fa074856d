"""formats.text: the streaming reader and the whole-file parser see the same lines."""

import pytest

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import parse_segments, read_segments, segment_line
from espnet2_tsdia.formats.rttm import parse_rttm, read_rttm
from espnet2_tsdia.formats.text import parse_lines, read_entries, read_raw

MESSY = b"u2 r 1.0\t2.0\r\n\n   \r\nu1  r 0 0.5\r\nthis line has too many fields here"


def test_stream_and_whole_file_agree_on_messy_text(tmp_path):
    f = tmp_path / "segments"
    f.write_bytes(MESSY.rsplit(b"\r\n", 1)[0])  # without the bad last line
    streamed = list(read_entries(f, segment_line, what="utterance id"))
    parsed = parse_lines(read_raw(f), segment_line, what="utterance id")
    assert streamed == parsed.entries and parsed.problems == []
    assert [(e.line.number, e.line.text, e.key) for e in streamed] == [
        (1, "u2 r 1.0\t2.0", "u2"),
        (4, "u1  r 0 0.5", "u1"),
    ]
    assert list(read_segments(f)) == ["u2", "u1"]


def test_the_first_problem_stops_the_reader_and_every_problem_is_listed(tmp_path):
    f = tmp_path / "segments"
    f.write_bytes(MESSY + b"\nu3 r 2 1\n")
    with pytest.raises(
        DataFormatError, match=r"segments:5: expected 4 fields '<utt> <recording> <start> <end>', got 7"
    ):
        read_segments(f)
    parsed = parse_segments(read_raw(f))
    assert [(p.line.number, p.code) for p in parsed.problems] == [(5, "fields"), (6, "end_not_after_start")]
    assert [e.key for e in parsed.entries] == ["u2", "u1", "u3"]  # u3 parsed, its problem says why it is bad
    assert [e.key for e in parsed.valid()] == ["u2", "u1"]


def test_a_line_that_is_not_utf8_is_named(tmp_path):
    f = tmp_path / "x.rttm"
    f.write_bytes(b"SPEAKER r 1 0 1 <NA> <NA> s <NA> <NA>\nSPEAKER r 1 1 1 <NA> <NA> \xff <NA> <NA>\n")
    with pytest.raises(DataFormatError, match=r"x.rttm:2: not valid UTF-8"):
        read_rttm(f)
    raw = read_raw(f)
    assert raw.undecodable == [2] and len(parse_rttm(raw).entries) == 1
