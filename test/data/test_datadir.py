import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.data.datadir import (
    clean_turns,
    data_dir_from_rttm,
    load_data_dir,
    turns_from_segments,
    write_data_dir,
)
from espnet2_tsdia.data.validate import validate_data_dir
from espnet2_tsdia.formats.kaldi import read_segments, read_utt2spk
from espnet2_tsdia.formats.rttm import Turn, read_rttm, sort_turns
from espnet2_tsdia.formats.uem import UemSegment, uem_from_durations

from .test_validate import write_wav


def T(reco, onset, dur, spk):
    return Turn(reco=reco, onset=onset, duration=dur, speaker=spk)


def test_clean_turns_merges_clips_and_drops_with_a_report():
    turns = [T("r", 0, 2, "a"), T("r", 1.5, 1, "a"), T("r", 9.5, 1, "b"), T("r", 9.9995, 1, "a"), T("x", 0, 1, "c")]
    out, report = clean_turns(turns, {"r": 10.0006})
    assert out == [T("r", 0, 2.5, "a"), T("r", 9.5, 0.5, "b")]
    assert report.changed == [
        "r a: merged 2 overlapping turns [0.000, 2.000], [1.500, 2.500] into [0.000, 2.500]",
        "r b [9.500, 10.500]: clipped to the recording end 10.001",
    ]
    assert len(report.dropped) == 2
    assert report.dropped[0].startswith("r a [9.999, 10.999]: shorter than 0.01s inside the recording")
    assert report.dropped[1] == "x c [0.000, 1.000]: recording not in wav.scp/reco2dur"


def test_clean_turns_clips_to_the_millisecond_below_the_end():
    out, _ = clean_turns([T("r", 1, 5, "a")], {"r": 2.0006})
    assert out[0].end == 2.0


def test_write_data_dir_validates_cleanly_with_audio(tmp_path):
    wavs = {r: str(write_wav(tmp_path / f"{r}.wav", d)) for r, d in (("-a", 5.0), ("00012", 3.5))}
    turns = [
        T("-a", 0, 2, "-a_0"),
        T("-a", 1, 3, "-a_1"),
        T("-a", 1.5, 2, "-a_0"),
        T("-a", 4.5, 9, "-a_1"),
        T("00012", 0.25, 0.5, "00012_h"),
    ]
    report = write_data_dir(
        tmp_path / "d",
        wav_scp=wavs,
        turns=turns,
        reco2dur={"-a": 5.0, "00012": 3.5},
        uem=uem_from_durations({"-a": 5.0, "00012": 3.5}),
    )
    assert (len(report.changed), len(report.dropped)) == (2, 0)  # one merge, one clip
    validation = validate_data_dir(tmp_path / "d", expected_fs=8000)
    assert validation.problems == []
    assert (tmp_path / "d/prep_report.txt").read_text().startswith("changed 2, dropped 0\n")


def test_write_data_dir_leaves_out_recordings_without_turns(tmp_path):
    report = write_data_dir(
        tmp_path / "d", wav_scp={"a": "a.wav", "b": "b.wav"}, turns=[T("a", 0, 1, "a_s")], reco2dur={"a": 2.0, "b": 2.0}
    )
    assert report.dropped == ["b: recording has no speaker turn; left out of the data dir"]
    assert (tmp_path / "d/wav.scp").read_text() == "a a.wav\n"
    # Kaldi's own validator warns about a single speaker, and so do we; nothing else
    assert [p.code for p in validate_data_dir(tmp_path / "d", check_audio=False).problems] == ["single_speaker"]


def test_write_data_dir_needs_every_duration(tmp_path):
    with pytest.raises(ValueError, match=r"no duration for recordings \['b'\]"):
        write_data_dir(tmp_path / "d", wav_scp={"a": "a.wav", "b": "b.wav"}, turns=[], reco2dur={"a": 1.0})


def test_load_data_dir_round_trip(tmp_path):
    turns = [T("r1", 0.5, 1.25, "r1_a"), T("r1", 1.0, 2.0, "r1_b"), T("r2", 0.0, 3.0, "r2_a")]
    uem = uem_from_durations({"r1": 4.0, "r2": 3.0})
    write_data_dir(
        tmp_path / "d", wav_scp={"r1": "r1.wav", "r2": "r2.wav"}, turns=turns, reco2dur={"r1": 4.0, "r2": 3.0}, uem=uem
    )
    d = load_data_dir(tmp_path / "d")
    assert d.recordings == ["r1", "r2"]
    assert d.turns == sort_turns(turns)
    assert turns_from_segments(d.segments, d.utt2spk) == sort_turns(turns)
    assert d.turns_of("r2") == [T("r2", 0.0, 3.0, "r2_a")]
    assert d.reco2dur == {"r1": 4.0, "r2": 3.0}
    assert d.uem == {"r1": [UemSegment("r1", 0.0, 4.0)], "r2": [UemSegment("r2", 0.0, 3.0)]}
    with pytest.raises(FileNotFoundError, match="not a data dir"):
        load_data_dir(tmp_path)


# Speaker ids are <reco>_<label>, so unique across recordings, as write_data_dir requires.
turn_lists = st.lists(
    st.tuples(
        st.sampled_from(["-r", "00007", "r_b"]),
        st.integers(0, 12_000).map(lambda ms: ms / 1000),
        st.integers(1, 4_000).map(lambda ms: ms / 1000),
        st.sampled_from(["0", "1", "h", "spk00"]),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(turn_lists)
def test_whatever_write_data_dir_writes_validates_without_errors_or_warnings(tmp_path_factory, raw):
    d = tmp_path_factory.mktemp("w") / "d"
    durs = {"-r": 10.0, "00007": 9.9996, "r_b": 11.5}
    # two fixed turns keep the dir non-empty and with more than one speaker
    turns = [T("-r", 0, 1, "-r_x"), T("00007", 0, 1, "00007_x")] + [T(r, on, dur, f"{r}_{s}") for r, on, dur, s in raw]
    write_data_dir(d, wav_scp={r: f"{r}.wav" for r in durs}, turns=turns, reco2dur=durs, uem=uem_from_durations(durs))
    report = validate_data_dir(d, check_audio=False)
    assert [p for p in report.problems if p.severity != "info"] == []


# ----------------------------------------------------------------- from a bare RTTM
def test_data_dir_from_rttm_clean_merges_utial(real_annotations, tmp_path):
    report = data_dir_from_rttm(
        tmp_path / "d",
        rttm=real_annotations / "voxconverse/utial.rttm",
        wav_scp={"utial": "utial.wav"},
        reco2dur={"utial": 1131.0},
        prefix_speakers=True,
    )
    assert report.changed == [
        "utial utial_spk00: merged 2 overlapping turns [247.580, 276.540], [250.670, 253.650] into [247.580, 276.540]"
    ]
    assert report.dropped == []
    segs = read_segments(tmp_path / "d/segments")
    assert len(segs) == 169
    assert set(read_utt2spk(tmp_path / "d/utt2spk").values()) == {f"utial_spk0{i}" for i in range(8)}
    assert validate_data_dir(tmp_path / "d", check_audio=False).ok


def test_data_dir_from_rttm_reads_durations_from_audio(tmp_path):
    (tmp_path / "a.rttm").write_text("SPEAKER a 1 0.5 1.0 <NA> <NA> s <NA> <NA>\n")
    wav = write_wav(tmp_path / "a.wav", 2.5)
    data_dir_from_rttm(tmp_path / "d", rttm=tmp_path / "a.rttm", wav_scp={"a": str(wav)})
    assert (tmp_path / "d/reco2dur").read_text() == "a 2.5\n"


def test_data_dir_from_rttm_raw_copies_rttm_and_uem_verbatim(real_annotations, tmp_path):
    src = real_annotations / "aishell4/test3.rttm"
    recos = ["L_R003S01C02", "L_R003S02C02", "L_R003S03C02"]
    data_dir_from_rttm(
        tmp_path / "plain",
        rttm=src,
        uem=real_annotations / "aishell4/test3.uem",
        wav_scp={r: f"{r}.wav" for r in recos},
        reco2dur={r: 2400.0 for r in recos},
        clean=False,
    )
    assert (tmp_path / "plain/rttm").read_bytes() == src.read_bytes()
    assert (tmp_path / "plain/uem").read_bytes() == (real_annotations / "aishell4/test3.uem").read_bytes()
    data_dir_from_rttm(
        tmp_path / "pre",
        rttm=src,
        wav_scp={r: f"{r}.wav" for r in recos},
        reco2dur={r: 2400.0 for r in recos},
        prefix_speakers=True,
        clean=False,
    )
    first = (tmp_path / "pre/rttm").read_bytes().split(b"\n")[0]
    assert first == b"SPEAKER L_R003S01C02 1 4.8350 1.6100 <NA> <NA> L_R003S01C02_006-M <NA> <NA>\r"
    # segments and utt2spk follow the RTTM's line order: a naive import, unsorted
    utts = (tmp_path / "pre/segments").read_text().splitlines()
    assert len(utts) == 1487
    assert utts[0] == "L_R003S01C02_006-M-L_R003S01C02-0000484-0000644 L_R003S01C02 4.835 6.445"


def test_raw_import_keeps_spacing_and_separates_files_without_final_newline(real_annotations, tmp_path):
    a = tmp_path / "a.rttm"
    a.write_bytes(b"SPEAKER a 0 0.5 1.0 <NA> <NA> 1 <NA> <NA>")  # no final newline
    ava = real_annotations / "ava_avd/Ov0za6Xb1LM_c_02.rttm"
    data_dir_from_rttm(
        tmp_path / "d",
        rttm=[a, ava],
        wav_scp={"a": "a.wav", "Ov0za6Xb1LM_c_02": "o.wav"},
        reco2dur={"a": 2, "Ov0za6Xb1LM_c_02": 1500},
        prefix_speakers=True,
        clean=False,
    )
    lines = (tmp_path / "d/rttm").read_text().split("\n")
    assert lines[0] == "SPEAKER a 0 0.5 1.0 <NA> <NA> a_1 <NA> <NA>"
    assert lines[1] == "SPEAKER Ov0za6Xb1LM_c_02  1 1214.405000 0.766000 <NA> <NA> Ov0za6Xb1LM_c_02_spk00 <NA> <NA>"
    assert len(read_rttm(tmp_path / "d/rttm")) == 1 + 137
