"""Example dirs: ids, chunks, the data-dir tool's outputs, skips and errors, the CLI."""

import json

import numpy as np
import pytest

from espnet2_tsdia.examples.enrollment import EnrollOptions, NoEnrollmentError, parse_enroll_spec
from espnet2_tsdia.examples.example_dir import (
    ExampleDirOptions,
    ExampleSpan,
    chunk_id,
    example_id,
    load_meta,
    make_chunks,
    make_example_dir,
    read_example_list,
    split_example_id,
    write_example_list,
)
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.frontend.storage import read_ark_scp, read_array
from espnet2_tsdia.labels.convert import LabelOptions

from ..frontend.synth import frames_of, make_data_dir


def test_ids():
    assert example_id("rec-1", "spk_2") == "rec-1__spk_2"
    assert chunk_id("r", "s", 250) == "r__s__0000250"
    assert split_example_id("r__s__0000250") == ("r", "s") == split_example_id("r__s")
    with pytest.raises(ValueError, match="contains '__'"):
        example_id("a__b", "s")
    with pytest.raises(ValueError, match="expected '<reco>__<spk>"):
        split_example_id("nosep")


@pytest.mark.parametrize(
    "n,expected",
    [
        (0, []),
        (300, [(0, 300)]),
        (500, [(0, 500)]),
        (1000, [(0, 500), (250, 750), (500, 1000)]),
        (1100, [(0, 500), (250, 750), (500, 1000), (600, 1100)]),
    ],
)
def test_make_chunks_exact(n, expected):
    assert make_chunks(n, chunk_frames=500, hop_frames=250) == expected


def test_example_list_round_trip_and_errors(tmp_path):
    spans = [ExampleSpan("r__b__0000000", "r", "b", 0, 5), ExampleSpan("r__a", "r", "a", 0, 9)]
    write_example_list(tmp_path / "l", spans)
    back = read_example_list(tmp_path / "l")
    assert list(back) == ["r__a", "r__b__0000000"] and back["r__b__0000000"] == spans[0]
    assert back["r__b__0000000"].example_id == "r__b"
    (tmp_path / "bad").write_text("k r s 5 5\n")
    with pytest.raises(DataFormatError, match=r"bad:1: expected 0 <= start < stop, got 5 5"):
        read_example_list(tmp_path / "bad")


@pytest.fixture()
def made(tmp_path):
    data = make_data_dir(tmp_path)
    opts = ExampleDirOptions(enroll=EnrollOptions(min_enroll=1.5), chunk_frames=200, chunk_hop=100)
    report = make_example_dir(data, data / "tsdia", opts)
    return data, data / "tsdia", report


def test_tool_outputs(made):
    data, out, report = made
    frames = frames_of(data)
    examples = read_example_list(out / "examples")
    assert list(examples) == ["r1__A", "r1__B", "r2__A", "r2__F"]
    assert all(s.stop == frames[s.reco] for s in examples.values())
    chunks = read_example_list(out / "chunks")
    assert [k for k in chunks if k.startswith("r1__A__")] == [
        chunk_id("r1", "A", s) for s in (0, 100, 200, 300, 400, 420)
    ]
    assert report.examples == 4 and report.chunks == len(chunks) == 16
    assert (out / "chunks.shape").read_text().splitlines()[0] == "r1__A__0000000 200"
    labels = read_ark_scp(out / "labels.scp")
    y = read_array(labels["r1__A"])
    assert y.dtype == np.int8 and y.shape == (frames["r1"],)
    assert y[:80].tolist() == [1] * 80 and y[80:100].tolist() == [3] * 20 and y[100:200].tolist() == [2] * 100
    enroll = dict(line.split(" ", 1) for line in (out / "enroll").read_text().splitlines())
    assert parse_enroll_spec(enroll["r1__A"]) == [("r1", 0, 80), ("r2", 10, 55)]  # own recording first
    assert parse_enroll_spec(enroll["r2__A"]) == [("r2", 10, 55), ("r1", 0, 80)]
    assert (out / "reco2num_samples").read_text() == "r1 496123\nr2 240000\n"
    meta = load_meta(out)
    assert meta.wav_scp == "../wav.scp" and meta.labels["num_classes"] == 4 and meta.enroll["min_enroll"] == 1.5
    assert json.loads((out / "tsdia.json").read_text())["grid"] == {"fs": 8000, "hop_length": 80, "subsampling": 10}
    assert (data / "wav.scp").read_text().startswith("r1 ")  # the data dir is untouched


def test_skips_are_reported_with_reasons(made):
    _, out, report = made
    text = (out / "skipped.txt").read_text()
    assert report.skipped == text.splitlines()[1:]
    reasons = {" ".join(line.split()[:2]): line for line in report.skipped}
    assert set(reasons) == {"r3 G", "r1 C", "r1 H", "r1 D", "r1 E"}
    assert "recording not in wav.scp" in reasons["r3 G"]
    assert "no speech inside the recording" in reasons["r1 C"] and "last turn ends at 72.000s" in reasons["r1 H"]
    assert "no single-speaker region of at least min_enroll=1.5s (longest: 1.0s" in reasons["r1 D"]


def test_unusable_enrollment_can_be_an_error(tmp_path):
    data = make_data_dir(tmp_path)
    opts = ExampleDirOptions(enroll=EnrollOptions(min_enroll=1.5, on_unusable="error"))
    with pytest.raises(NoEnrollmentError, match="r1 D no single-speaker region of at least min_enroll=1.5s"):
        make_example_dir(data, tmp_path / "out", opts)


def test_targets_absent_from_the_rttm_are_skipped(tmp_path):
    data = make_data_dir(tmp_path, pipe_r2=False)
    report = make_example_dir(data, tmp_path / "out", targets=[("r1", "A"), ("r1", "Z"), ("r9", "A")])
    assert read_example_list(tmp_path / "out" / "examples").keys() == {"r1__A"}
    assert "r1 Z target speaker absent from the recording's rttm" in report.skipped
    assert "r9 A target recording not in wav.scp" in report.skipped


def test_missing_audio_is_a_clear_error_naming_the_line(tmp_path):
    data = make_data_dir(tmp_path, pipe_r2=False)
    (tmp_path / "r2.wav").unlink()
    with pytest.raises(DataFormatError, match=r"wav.scp:2: recording 'r2' .* does not exist"):
        make_example_dir(data, tmp_path / "out")


def test_ids_with_the_separator_are_skipped(tmp_path):
    data = make_data_dir(tmp_path, turns=[("r1", 0.0, 5.0, "a__b"), ("r1", 6.0, 9.0, "c")], pipe_r2=False)
    report = make_example_dir(data, tmp_path / "out")
    assert any(line.startswith("r1 a__b id 'a__b' contains '__'") for line in report.skipped)
    assert report.examples == 1


def test_speaker_id_scheme_stores_multi_hot(tmp_path):
    data = make_data_dir(tmp_path, pipe_r2=False)
    make_example_dir(
        data, tmp_path / "out", ExampleDirOptions(labels=LabelOptions(scheme="speaker_id", max_speakers=3))
    )
    y = read_array(read_ark_scp(tmp_path / "out" / "labels.scp")["r1__B"])
    assert y.shape == (620, 3) and y.dtype == np.int8
    assert y[85, :2].tolist() == [1, 1] and load_meta(tmp_path / "out").multi_label


def test_min_target_frames_drops_chunks(tmp_path):
    data = make_data_dir(tmp_path, pipe_r2=False)
    report = make_example_dir(
        data, tmp_path / "out", ExampleDirOptions(chunk_frames=100, chunk_hop=100, min_target_frames=1)
    )
    chunks = read_example_list(tmp_path / "out" / "chunks")
    assert [k for k in chunks if k.startswith("r1__A__")] == ["r1__A__0000000"]
    assert report.chunks_dropped > 0


def test_num_samples_from_reco2dur_needs_no_audio(tmp_path):
    data = make_data_dir(tmp_path, pipe_r2=False)
    (tmp_path / "r1.wav").unlink()
    (data / "reco2dur").write_text("r1 62.015375\nr2 30\n")
    make_example_dir(data, tmp_path / "out", ExampleDirOptions(num_samples_from="reco2dur"))
    assert (tmp_path / "out" / "reco2num_samples").read_text() == "r1 496123\nr2 240000\n"


def test_cli(tmp_path, capsys):
    from espnet2_tsdia.bin.make_tsdia_examples import main

    data = make_data_dir(tmp_path, pipe_r2=False)
    assert (
        main([str(data), str(tmp_path / "out"), "--scheme", "binary", "--chunk_frames", "300", "--log_level", "ERROR"])
        == 0
    )
    assert load_meta(tmp_path / "out").labels["scheme"] == "binary"
    (tmp_path / "r1.wav").unlink()
    assert main([str(data), str(tmp_path / "out2"), "--log_level", "ERROR"]) == 2
    assert "wav.scp:1: recording 'r1'" in capsys.readouterr().err


def test_segments_only_data_dir(tmp_path):
    data = make_data_dir(tmp_path, turns=[], pipe_r2=False)
    (data / "rttm").unlink()
    (data / "segments").write_text("A-r1-1 r1 0.0 5.0\nB-r1-1 r1 4.0 9.0\n")
    (data / "utt2spk").write_text("A-r1-1 A\nB-r1-1 B\n")
    report = make_example_dir(data, tmp_path / "out")
    assert report.examples == 2
    assert "r2: no speaker turns, no examples" in report.notes


def test_no_turn_source_is_an_error(tmp_path):
    data = make_data_dir(tmp_path, pipe_r2=False)
    (data / "rttm").unlink()
    with pytest.raises(FileNotFoundError, match="no rttm, and no segments"):
        make_example_dir(data, tmp_path / "out")
