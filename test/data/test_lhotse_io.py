"""Round trips Kaldi dir -> lhotse manifests (loaded by lhotse itself) -> Kaldi dir."""

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

lhotse = pytest.importorskip("lhotse")

from espnet2_tsdia.data.datadir import write_data_dir  # noqa: E402
from espnet2_tsdia.data.lhotse_io import export_lhotse, import_lhotse, main  # noqa: E402
from espnet2_tsdia.formats.errors import DataFormatError  # noqa: E402
from espnet2_tsdia.formats.rttm import Turn  # noqa: E402

KALDI_FILES = ("wav.scp", "segments", "utt2spk", "spk2utt", "reco2dur", "rttm")


def _dir_8k(tmp_path: Path) -> Path:
    """Two 8 kHz recordings with overlapping speakers."""
    rng = np.random.default_rng(0)
    wav = {}
    for reco, dur in (("rec1", 3.0), ("rec2", 2.5)):
        p = tmp_path / "audio" / f"{reco}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, rng.uniform(-0.5, 0.5, int(dur * 8000)), 8000, subtype="PCM_16")
        wav[reco] = str(p)
    turns = [
        Turn("rec1", 0.0, 1.25, "rec1_A"),
        Turn("rec1", 1.0, 1.5, "rec1_B"),
        Turn("rec1", 2.5, 0.5, "rec1_A"),
        Turn("rec2", 0.125, 2.0, "rec2_C"),
    ]
    d = tmp_path / "kaldi"
    write_data_dir(d, wav_scp=wav, turns=turns, reco2dur={"rec1": 3.0, "rec2": 2.5})
    return d


def test_round_trip_8khz_through_lhotse(tmp_path):
    d = _dir_8k(tmp_path)
    export_lhotse(d, tmp_path / "man", prefix="x_")
    # lhotse reads its own manifests back
    recs = lhotse.load_manifest(tmp_path / "man" / "x_recordings.jsonl.gz")
    sups = lhotse.load_manifest(tmp_path / "man" / "x_supervisions.jsonl.gz")
    cuts = lhotse.load_manifest(tmp_path / "man" / "x_cuts.jsonl.gz")
    r1 = recs["rec1"]
    assert (r1.sampling_rate, r1.num_samples, r1.duration) == (8000, 24000, 3.0)
    ref = sf.read(tmp_path / "audio" / "rec1.wav", dtype="float32")[0]
    np.testing.assert_array_equal(r1.load_audio()[0], ref)
    got = sorted((s.recording_id, s.start, s.duration, s.speaker) for s in sups)
    assert got == [
        ("rec1", 0.0, 1.25, "rec1_A"),
        ("rec1", 1.0, 1.5, "rec1_B"),
        ("rec1", 2.5, 0.5, "rec1_A"),
        ("rec2", 0.125, 2.0, "rec2_C"),
    ]
    assert len(cuts) == 2
    c = cuts.filter(lambda c: c.recording_id == "rec2").to_eager()[0]
    assert c.sampling_rate == 8000 and c.load_audio().shape == (1, 20000)
    assert [(s.start, s.speaker) for s in c.supervisions] == [(0.125, "rec2_C")]
    # back to a data dir, from the cuts alone and from recordings + supervisions: identical files
    import_lhotse(tmp_path / "back", cuts=tmp_path / "man" / "x_cuts.jsonl.gz")
    import_lhotse(tmp_path / "back2", recordings=recs, supervisions=sups)
    for f in KALDI_FILES:
        assert (tmp_path / "back" / f).read_text() == (d / f).read_text(), f
        assert (tmp_path / "back2" / f).read_text() == (d / f).read_text(), f


def test_lhotse_kaldi_importer_accepts_our_dir(tmp_path):
    from lhotse.kaldi import load_kaldi_data_dir

    d = _dir_8k(tmp_path)
    # lhotse 1.33's importer requires a text file whenever segments exist (diarization dirs have
    # none): give it placeholder transcripts
    utts = [line.split()[0] for line in (d / "segments").read_text().splitlines()]
    (d / "text").write_text("".join(f"{u} <unk>\n" for u in utts))
    recs, sups, _ = load_kaldi_data_dir(d, sampling_rate=8000)
    ours, our_sups, _ = export_lhotse(d)
    assert sorted(r.id for r in recs) == sorted(r.id for r in ours)
    assert {r.id: r.num_samples for r in recs} == {r.id: r.num_samples for r in ours}
    assert sorted((s.id, s.start, s.duration, s.speaker) for s in sups) == sorted(
        (s.id, s.start, s.duration, s.speaker) for s in our_sups
    )


def test_source_dir_without_segments_round_trip(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    for i, utt in enumerate(["19-1-0000", "19-1-0001"]):
        sf.write(tmp_path / f"{utt}.flac", np.zeros(16000 + 800 * i), 16000, format="FLAC")
    (d / "wav.scp").write_text("".join(f"{u} {tmp_path / (u + '.flac')}\n" for u in ["19-1-0000", "19-1-0001"]))
    (d / "utt2spk").write_text("19-1-0000 19\n19-1-0001 19\n")
    (d / "text").write_text("19-1-0000 HELLO WORLD\n19-1-0001 BYE\n")
    recs, sups, _ = export_lhotse(d, tmp_path / "m")
    assert recs["19-1-0001"].duration == 1.05 and recs["19-1-0001"].sampling_rate == 16000
    assert [(s.id, s.text, s.speaker) for s in sups] == [("19-1-0000", "HELLO WORLD", "19"), ("19-1-0001", "BYE", "19")]
    assert import_lhotse(tmp_path / "back", cuts=tmp_path / "m" / "cuts.jsonl.gz") is None
    for f in ("wav.scp", "utt2spk", "text"):
        assert (tmp_path / "back" / f).read_text() == (d / f).read_text()
    assert (tmp_path / "back" / "utt2dur").read_text() == "19-1-0000 1\n19-1-0001 1.05\n"


def test_simulated_set_through_lhotse(tmp_path):
    from espnet2_tsdia.simulate.config import SimulationConfig
    from espnet2_tsdia.simulate.generate import generate_set
    from espnet2_tsdia.simulate.render import MixtureReader
    from test.simulate.sim_tone_corpus import write_tone_corpus

    src = write_tone_corpus(tmp_path / "c", n_speakers=3, n_utts=2)
    cfg = SimulationConfig(
        name="s", num_conversations=2, speaker_counts={2: 1}, overlap_range=(0.1, 0.2), min_utts=1, max_utts=2
    )
    out = tmp_path / "sim"
    generate_set(cfg, src, out, python=sys.executable)
    recs, sups, cuts = export_lhotse(out, tmp_path / "m")
    r = recs["s-0000001"]
    assert r.sources[0].type == "command" and r.sampling_rate == 8000
    ref = MixtureReader(str(out / "mixture.scp"))["s-0000001"]
    assert r.num_samples == ref.size
    audio = r.load_audio()[0]  # lhotse runs the render pipe
    assert np.abs(audio - ref).max() <= 1 / 32767
    assert len(sups) == len((out / "segments").read_text().splitlines())
    import_lhotse(tmp_path / "back", cuts=tmp_path / "m" / "cuts.jsonl.gz")
    for f in KALDI_FILES:
        assert (tmp_path / "back" / f).read_text() == (out / f).read_text(), f


def test_errors_and_cli(tmp_path):
    d = _dir_8k(tmp_path)
    (d / "wav.scp").write_text(f"rec1 sox {tmp_path}/audio/rec1.wav -t wav - |\nrec2 {tmp_path}/audio/rec2.wav\n")
    with pytest.raises(
        DataFormatError, match=r"'rec1' is a pipe: its rate and length are unknown; pass sampling_rate="
    ):
        export_lhotse(d)
    recs, _, _ = export_lhotse(d, sampling_rate=8000)
    assert recs["rec1"].num_samples == 24000
    recs, _, _ = export_lhotse(d, run_pipes=True)
    assert recs["rec1"].num_samples == 24000 and recs["rec1"].load_audio().shape == (1, 24000)
    with pytest.raises(ValueError, match="needs recordings and supervisions, or cuts"):
        import_lhotse(tmp_path / "x")
    sup = lhotse.SupervisionSegment(id="u", recording_id="rec2", start=0, duration=1)
    with pytest.raises(ValueError, match="supervision 'u' of 'rec2' has no speaker"):
        import_lhotse(tmp_path / "x", recordings=recs, supervisions=lhotse.SupervisionSet.from_segments([sup]))
    d2 = _dir_8k(tmp_path / "b")
    assert main(["export", str(d2), str(tmp_path / "cli")]) == 0
    assert main(["import", str(tmp_path / "cli" / "cuts.jsonl.gz"), str(tmp_path / "cli_back")]) == 0
    assert (tmp_path / "cli_back" / "rttm").read_text() == (d2 / "rttm").read_text()
