import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.uem import UemSegment, read_uem, total_duration, uem_from_durations, write_uem

from .test_kaldi import ids


def test_real_ami_and_aishell4_uems(real_annotations):
    assert read_uem(real_annotations / "ami/TS3007c.uem") == {"TS3007c": [UemSegment("TS3007c", 0.0, 2420.0)]}
    assert read_uem(real_annotations / "ami/ES2011a.uem") == {"ES2011a": [UemSegment("ES2011a", 0.0, 1113.845375)]}
    uem = read_uem(real_annotations / "aishell4/test3.uem")
    assert {r: [(u.onset, u.end) for u in v] for r, v in uem.items()} == {
        "L_R003S01C02": [(0.0, 2362.945)],
        "L_R003S02C02": [(0.0, 2246.708)],
        "L_R003S03C02": [(0.0, 2268.015)],
    }


def test_several_regions_comments_crlf_and_sorting(tmp_path):
    f = tmp_path / "x.uem"
    f.write_bytes(b";; scored regions\r\nr 1 10 20\r\nr 1 0 5\r\nq 1 1 2")
    assert read_uem(f) == {
        "r": [UemSegment("r", 0.0, 5.0), UemSegment("r", 10.0, 20.0)],
        "q": [UemSegment("q", 1.0, 2.0)],
    }


@pytest.mark.parametrize(
    "line, match",
    [
        ("r 1 0", r"x.uem:2: expected 4 fields '<file> <chan> <onset> <end>', got 3"),
        ("r 1 a 2", r"x.uem:2: onset and end must be finite numbers, got 'a' '2'"),
        ("r 1 5 3", r"x.uem:2: expected 0 <= onset < end \(field 4 is an end time, not a duration\), got 5.0 3.0"),
        ("r 1 -1 3", r"x.uem:2: onset -1.0 < 0; expected 0 <= onset < end"),
    ],
)
def test_read_uem_errors(tmp_path, line, match):
    f = tmp_path / "x.uem"
    f.write_text("r 1 0 1\n" + line + "\n")
    with pytest.raises(DataFormatError, match=match):
        read_uem(f)


def test_write_uem_format_and_whole_file_uem(tmp_path):
    f = tmp_path / "x.uem"
    write_uem(f, uem_from_durations({"b": 2.5, "a": 1113.845375}))
    assert f.read_text() == "a 1 0.000 1113.845375\nb 1 0.000 2.500\n"
    assert total_duration(read_uem(f)["a"] + read_uem(f)["b"]) == pytest.approx(1116.345375, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        ids,
        st.lists(st.tuples(st.integers(0, 10**7), st.integers(1, 10**5)), min_size=1, max_size=4),
        min_size=1,
        max_size=10,
    )
)
def test_write_then_read_round_trips(tmp_path_factory, table):
    uem = {
        r: sorted((UemSegment(r, s / 1000, (s + d) / 1000) for s, d in spans), key=lambda u: u.onset)
        for r, spans in table.items()
    }
    f = tmp_path_factory.mktemp("rt") / "x.uem"
    write_uem(f, uem)
    back = read_uem(f)
    assert set(back) == set(uem)
    for r in uem:
        # on the millisecond grid, 3 decimals are exact
        assert sorted((u.onset, u.end, u.channel) for u in back[r]) == sorted((u.onset, u.end, "1") for u in uem[r])
