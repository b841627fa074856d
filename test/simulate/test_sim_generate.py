import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from espnet2_tsdia.data.stats import recording_stats
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import read_reco2dur, read_segments, read_spk2utt, read_utt2spk
from espnet2_tsdia.formats.rttm import group_by_reco, read_rttm, self_overlaps
from espnet2_tsdia.simulate import generate as gen
from espnet2_tsdia.simulate.config import SimulationConfig
from espnet2_tsdia.simulate.generate import SimulationError, generate_set, verify_set_dir
from espnet2_tsdia.simulate.render import MixtureReader, render_mixture
from test.simulate.sim_tone_corpus import write_tone_corpus

FILES = (
    "specs.jsonl",
    "mixture.scp",
    "sources.tsv",
    "wav.scp",
    "segments",
    "utt2spk",
    "spk2utt",
    "reco2dur",
    "reco2num_spk",
    "rttm",
    "mixture_stats.tsv",
    "stats.json",
)


def cfg(**kw):
    base = dict(
        name="sim",
        num_conversations=8,
        speaker_counts={2: 1, 3: 1},
        overlap_range=(0.1, 0.2),
        min_utts=2,
        max_utts=3,
        seed=3,
    )
    return SimulationConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    src = write_tone_corpus(root / "corpus", n_speakers=4, n_utts=4)
    before = {p: p.read_bytes() for p in sorted((root / "corpus" / "audio").iterdir())}
    out = root / "out"
    generate_set(cfg(gain_db=(-2, 2), noise_snrs=(20,)), src, out, python=sys.executable)
    reader = MixtureReader(str(out / "mixture.scp"))
    for reco in reader:
        reader[reco]
    # the source audio is only ever read
    assert {p: p.read_bytes() for p in sorted((root / "corpus" / "audio").iterdir())} == before
    return src, out


def test_overlap_10_20_every_conversation_and_stats_file(built):
    _, out = built
    doc = json.loads((out / "stats.json").read_text())
    assert doc["passed"] is True and doc["num_failures"] == 0
    st = doc["stats"]
    assert st["recordings"] == 8
    assert 0.1 <= st["overlap_ratio_min"] <= st["overlap_ratio_max"] <= 0.2
    assert set(st["speaker_histogram"]) <= {"2", "3"}
    # recomputed independently from the written rttm
    turns = group_by_reco(read_rttm(out / "rttm"))
    for reco, dur in read_reco2dur(out / "reco2dur").items():
        r = recording_stats(turns[reco], dur)
        assert 0.1 <= r.overlap_ratio <= 0.2, reco
        assert r.num_speakers in (2, 3)
    verify_set_dir(out)


def test_render_twice_identical(built):
    _, out = built
    r1 = MixtureReader(str(out / "mixture.scp"))
    r2 = MixtureReader(str(out / "specs.jsonl"))
    assert list(r1) == list(r2) == [f"sim-{i:07d}" for i in range(8)]
    for reco in ("sim-0000000", "sim-0000005"):
        a, b, c = r1[reco], r1[reco], r2[reco]
        assert a.dtype == np.float32
        assert a.tobytes() == b.tobytes() == c.tobytes()
        assert a.size == round(read_reco2dur(out / "reco2dur")[reco] * 8000) == r1.num_samples(reco)
    assert MixtureReader(str(out / "specs.jsonl"), fs=16000).num_samples("sim-0000001") == 2 * r1.num_samples(
        "sim-0000001"
    )


def test_kaldi_dir_consistent(built):
    _, out = built
    segs = read_segments(out / "segments")
    u2s = read_utt2spk(out / "utt2spk")
    assert list(segs) == sorted(segs, key=lambda u: u.encode())
    assert list(u2s.values()) == sorted(u2s.values())  # sorted by speaker too
    s2u = read_spk2utt(out / "spk2utt")
    assert sorted(u for us in s2u.values() for u in us) == sorted(u2s)
    for u, spk in u2s.items():
        assert u.startswith(spk + "-") and segs[u].end > segs[u].start
    rttm = read_rttm(out / "rttm")
    assert len(rttm) == len(segs)
    assert self_overlaps(rttm) == []  # a speaker never overlaps themselves
    # ESPnet/Kaldi conventions: every file ends with a newline
    for f in FILES:
        assert (out / f).read_bytes().endswith(b"\n"), f


def test_wav_scp_pipe_gives_the_rendered_samples(built):
    _, out = built
    line = (out / "wav.scp").read_text().splitlines()[1]
    reco, cmd = line.split(" ", 1)
    assert cmd.endswith(" |")
    wav = subprocess.run(cmd[:-2], shell=True, check=True, capture_output=True).stdout
    import io

    x, fs = sf.read(io.BytesIO(wav), dtype="float32")
    assert fs == 8000
    ref = MixtureReader(str(out / "specs.jsonl"))[reco]
    assert x.shape == ref.shape
    assert np.abs(x - ref).max() <= 1 / 32767  # 16-bit rounding only


def test_nj_and_chunks_do_not_change_output(built, tmp_path, monkeypatch):
    src, out = built
    monkeypatch.setattr(gen, "CHUNK", 3)
    generate_set(cfg(gain_db=(-2, 2), noise_snrs=(20,)), src, tmp_path / "o", python=sys.executable)
    for f in FILES:
        if f not in ("mixture.scp", "wav.scp"):  # these two name the output dir
            assert (tmp_path / "o" / f).read_bytes() == (out / f).read_bytes(), f


def test_nj2_same_output(built, tmp_path):
    src, out = built
    generate_set(cfg(gain_db=(-2, 2), noise_snrs=(20,)), src, tmp_path / "o", nj=2, python=sys.executable)
    for f in ("specs.jsonl", "rttm", "segments", "spk2utt", "stats.json"):
        assert (tmp_path / "o" / f).read_bytes() == (out / f).read_bytes(), f


def test_total_hours_is_shortest_prefix(tmp_path, tone_corpus):
    hours = 40 / 3600
    generate_set(cfg(num_conversations=None, total_hours=hours, overlap_range=(0, 1)), tone_corpus, tmp_path / "o")
    durs = list(read_reco2dur(tmp_path / "o" / "reco2dur").values())
    assert sum(durs) >= hours * 3600 > sum(durs[:-1])


def test_rttm_matches_speech_in_rendered_audio(tmp_path):
    # 8 kHz sources (no resampling): tone plus DC, never zero, padded with exact silence; the
    # segments file marks the tone, so the speech boundaries are known to the sample
    src = write_tone_corpus(tmp_path / "c", n_speakers=3, n_utts=3, fs=8000, pad=0.25, fmt="WAV", dc=0.35)
    out = tmp_path / "o"
    generate_set(cfg(num_conversations=4, overlap_range=(0.1, 0.3)), src, out)
    reader = MixtureReader(str(out / "specs.jsonl"))
    turns = group_by_reco(read_rttm(out / "rttm"))
    for reco in reader:
        spec = reader.spec(reco)
        full = reader[reco]
        total = np.zeros_like(full)
        for spk in spec.speakers:
            one = render_mixture(
                replace(spec, placements=tuple(p for p in spec.placements if p.speaker == spk)), fs=8000
            )
            total += one
            active = np.zeros(one.size, dtype=bool)
            for t in turns[reco]:
                if t.speaker == spk:
                    active[round(t.onset * 8000) : round(t.end * 8000)] = True
            np.testing.assert_array_equal(one != 0, active)
        np.testing.assert_allclose(full, total, atol=1e-6)


def test_rttm_matches_speech_after_resampling(tmp_path):
    # 16 kHz sources rendered at 8 kHz: the filter smears edges by a few samples only
    src = write_tone_corpus(tmp_path / "c", n_speakers=3, n_utts=3, fs=16000, pad=0.25, dc=0.35)
    out = tmp_path / "o"
    generate_set(cfg(num_conversations=2, overlap_range=(0.1, 0.3)), src, out)
    reader = MixtureReader(str(out / "specs.jsonl"))
    turns = group_by_reco(read_rttm(out / "rttm"))
    reco = "sim-0000000"
    spec = reader.spec(reco)
    for spk in spec.speakers:
        one = render_mixture(replace(spec, placements=tuple(p for p in spec.placements if p.speaker == spk)), fs=8000)
        active = np.zeros(one.size, dtype=bool)
        near = np.zeros(one.size, dtype=bool)
        for t in turns[reco]:
            if t.speaker == spk:
                a, b = round(t.onset * 8000), round(t.end * 8000)
                active[a:b] = True
                near[max(a - 40, 0) : a + 40] = near[b - 40 : b + 40] = True
        frames = np.abs(one)
        assert frames[active & ~near].min() > 0.04  # inside: the tone (>= 0.05 before resampling)
        assert frames[~active & ~near].max() < 1e-3  # outside: silence


def test_missing_audio_fails_before_any_output(tmp_path, tone_corpus):
    next((tone_corpus.parent / "audio").glob("*.flac")).unlink()
    with pytest.raises(DataFormatError, match=r"wav.scp: 1 of 12 audio files are missing or unreadable"):
        generate_set(cfg(), tone_corpus, tmp_path / "o")
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.tmp").exists()


def test_too_few_speakers(tmp_path, tone_corpus):
    with pytest.raises(ValueError, match=r"has 3 speakers \(spk0, spk1, spk2\), but speaker_counts allows up to 4"):
        generate_set(cfg(speaker_counts={2: 1, 4: 1}), tone_corpus, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_pipe_source_refused(tmp_path, tone_corpus):
    (tone_corpus / "wav.scp").write_text("spk0-000 sox x.wav -t wav - |\n")
    (tone_corpus / "utt2spk").write_text("spk0-000 spk0\n")
    with pytest.raises(DataFormatError, match="is a pipe"):
        generate_set(cfg(), tone_corpus, tmp_path / "o")


def test_unreachable_range_fails_loudly_before_output(tmp_path, tone_corpus):
    # EEND silences cannot give 2 speakers exactly 0 overlap with at most 30 % silence
    with pytest.raises(SimulationError, match=r"conversation 0: no layout of 2 speakers.*max_attempts"):
        generate_set(
            cfg(speaker_counts={2: 1}, overlap_range=(0.0, 0.0), max_silence_ratio=0.3, max_attempts=2),
            tone_corpus,
            tmp_path / "o",
        )
    assert not (tmp_path / "o").exists()


def test_refuses_to_overwrite_other_dirs(tmp_path, tone_corpus):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "precious").write_text("x")
    with pytest.raises(FileExistsError, match="not a simulated set"):
        generate_set(cfg(), tone_corpus, tmp_path / "o")


def test_missed_targets_fail_loudly(built, tmp_path):
    _, out = built
    # the same set checked against a stricter range than it was made with
    with pytest.raises(
        SimulationError, match=r"misses its targets:\n  sim-\d+: overlap ratio 0\.\d+ outside \[0\.12, 0\.13\]"
    ):
        verify_set_dir(out, cfg(overlap_range=(0.12, 0.13)))


def test_histogram_model_set(tmp_path, tone_corpus):
    hm = {
        "type": "histogram",
        "pause_same": {"edges": [0, 0.5], "counts": [1]},
        "pause_diff": {"edges": [0, 0.5, 1], "counts": [2, 1]},
        "overlap": {"edges": [0, 0.5], "counts": [1]},
    }
    st = generate_set(cfg(turn_model=hm, overlap_range=(0.05, 0.15)), tone_corpus, tmp_path / "o")
    assert 0.05 <= st.overlap_ratio_min <= st.overlap_ratio_max <= 0.15
