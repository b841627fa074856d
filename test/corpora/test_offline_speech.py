"""Tests of the offline speech corpus and its audio helpers.

Most tests build a corpus from a fake prompt folder of synthetic "speech" with known silence
padding, so they run anywhere; the ones marked ``needs_packages`` use the Debian prompt packages
and flite (installed by tools/install.sh and in CI) and skip with the reason when they are absent.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pytest
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st

from espnet2_tsdia.audio.tools import (
    frame_energy_db,
    noise_floor_dbfs,
    remove_dc,
    speech_bounds,
    to_float,
    to_int16,
    tone_ratio,
)
from espnet2_tsdia.bin.prepare_offline_speech import main as cli_main
from espnet2_tsdia.corpora.offline_speech import (
    DEBIAN_PACKAGES,
    SOURCES,
    MissingPackagesError,
    Perturbation,
    SpeakerInfo,
    VoiceSource,
    festival_batch,
    flite_sentences,
    missing_sources,
    number_sentences,
    persons_of,
    prepare_offline_speech,
    read_speakers_tsv,
    sources_of_family,
    synthetic_sentences,
)
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import (
    c_sort_key,
    read_reco2dur,
    read_scp,
    read_spk2utt,
    read_utt2spk,
    utt2spk_to_spk2utt,
)

SR = 8000
TOL = 0.020  # seconds: a trimmed boundary must be this close to the true one


# --------------------------------------------------------------------------- synthetic audio
def fake_speech(seconds: float, *, f0: float = 140.0, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """A voiced-speech-like float signal: 20 equal harmonics with vibrato and syllable-rate envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * SR))) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.05 * np.sin(2 * np.pi * 5 * t))) / SR
    x = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) for k in range(1, 21))
    x *= 0.4 + 0.6 * np.abs(np.sin(2 * np.pi * 3 * t + 0.3))
    return level * x / np.abs(x).max()


def padded(lead: float, speech: np.ndarray, trail: float, *, noise_dbfs: float = -80.0, seed: int = 0):
    rng = np.random.default_rng(seed + 1)
    x = np.concatenate([np.zeros(int(round(lead * SR))), speech, np.zeros(int(round(trail * SR)))])
    return x + rng.normal(0, 10 ** (noise_dbfs / 20), len(x))


def write_wav(path: Path, x: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), to_int16(x), SR, subtype="PCM_16")


def make_fake_sounds(root: Path) -> Dict[str, float]:
    """A fake ``en_US_f_Allison`` prompt folder; returns the true speech seconds of each prompt file."""
    d = root / "en_US_f_Allison"
    truth = {}
    for i, (lead, dur, trail) in enumerate([(0.30, 1.2, 0.25), (0.05, 0.9, 0.30), (0.21, 1.6, 0.0), (0.0, 0.7, 0.12)]):
        write_wav(d / f"prompt{i}.wav", padded(lead, fake_speech(dur, f0=120 + 20 * i, seed=i), trail, seed=i))
        truth[f"prompt{i}"] = dur
    write_wav(d / "digits" / "5.wav", padded(0.1, fake_speech(0.8, f0=210, seed=9), 0.1, seed=9))
    truth["digits_5"] = 0.8
    shutil.copy(d / "prompt0.wav", d / "copy_of_0.wav")  # identical audio
    x, _ = soundfile.read(str(d / "prompt1.wav"), dtype="int16")
    x = x.copy()
    x[len(x) // 2] += 3  # near-identical audio
    soundfile.write(str(d / "almost_1.wav"), x, SR, subtype="PCM_16")
    t = np.arange(int(0.6 * SR)) / SR
    write_wav(d / "beep.wav", 0.3 * np.sin(2 * np.pi * 700 * t))  # known by name
    write_wav(d / "chime.wav", padded(0.1, 0.3 * np.sin(2 * np.pi * 440 * t), 0.1))  # found by spectrum
    write_wav(d / "silence" / "1.wav", np.zeros(SR))
    write_wav(d / "quiet.wav", padded(0.5, np.zeros(0), 0.5))  # noise only
    write_wav(d / "short.wav", padded(0.2, fake_speech(0.3, seed=5), 0.2, seed=5))
    return truth


def all_files(root: Path) -> Dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


def needs_packages(*names: str):
    missing = missing_sources(list(names))
    return pytest.mark.skipif(
        bool(missing),
        reason="Debian speech packages missing (tools/install.sh installs them): "
        + "; ".join(f"{k}: {v}" for k, v in missing.items()),
    )


# --------------------------------------------------------------------------- audio helpers
def test_frame_energy_db_exact():
    x = np.full(100, 0.5)
    db = frame_energy_db(x, 40)
    assert db.shape == (3,)  # 40 + 40 + a partial frame of 20
    np.testing.assert_allclose(db, 10 * np.log10(0.25), atol=1e-9)
    with pytest.raises(ValueError, match="frame must be >= 1"):
        frame_energy_db(x, 0)


@settings(max_examples=25, deadline=None)
@given(
    lead=st.floats(0.0, 0.5),
    trail=st.floats(0.0, 0.5),
    dur=st.floats(0.3, 1.5),
    noise=st.sampled_from([-90.0, -75.0]),
    seed=st.integers(0, 100),
)
def test_speech_bounds_within_20ms_of_true_boundary(lead, trail, dur, noise, seed):
    x = padded(lead, fake_speech(dur, seed=seed), trail, noise_dbfs=noise, seed=seed)
    s, e = speech_bounds(x, SR)
    true_s, true_e = int(round(lead * SR)), int(round(lead * SR)) + int(round(dur * SR))
    assert abs(s - true_s) <= TOL * SR
    assert abs(e - true_e) <= TOL * SR
    assert s <= true_s and e >= true_e  # the margin is kept outside, speech is never cut
    # trimming twice changes nothing more than the margin
    s2, e2 = speech_bounds(x[s:e], SR)
    assert s2 <= TOL * SR and (e - s) - e2 <= TOL * SR


def test_speech_bounds_noisy_source_uses_noise_floor():
    # a -45 dBFS noise floor (as in one prompt set): peak - 40 dB alone would call it speech
    x = padded(0.3, fake_speech(1.0), 0.3, noise_dbfs=-45.0)
    s_plain, _ = speech_bounds(x, SR)
    assert s_plain < 0.05 * SR
    s, e = speech_bounds(x, SR, noise_dbfs=-45.0)
    assert abs(s - 0.3 * SR) <= TOL * SR and abs(e - 1.3 * SR) <= TOL * SR


def test_speech_bounds_silence_and_clicks():
    assert speech_bounds(np.zeros(SR), SR) == (0, 0)
    assert speech_bounds(np.zeros(0), SR) == (0, 0)
    x = padded(0.4, fake_speech(0.8), 0.4)
    x[int(0.1 * SR)] = 0.9  # a one-sample click in the leading silence
    s, e = speech_bounds(x, SR)
    assert abs(s - 0.4 * SR) <= TOL * SR and abs(e - 1.2 * SR) <= TOL * SR
    with pytest.raises(ValueError, match="frame_ms > 0"):
        speech_bounds(x, SR, frame_ms=0)


def test_remove_dc_removes_drifting_offset_and_keeps_speech_band():
    t = np.arange(2 * SR) / SR
    tone = 0.2 * np.sin(2 * np.pi * 300 * t)
    y = remove_dc(tone + 0.1 + 0.02 * t, SR)  # offset drifting like one prompt set's
    inner = slice(SR // 4, -SR // 4)
    assert abs(y[inner].mean()) < 1e-3
    np.testing.assert_allclose(np.sqrt(np.mean(y[inner] ** 2)), 0.2 / np.sqrt(2), rtol=0.01)
    assert remove_dc(np.zeros(0), SR).shape == (0,)


def test_tone_ratio_separates_beeps_from_speech():
    t = np.arange(int(0.43 * SR)) / SR
    assert tone_ratio(0.3 * np.sin(2 * np.pi * 700 * t), SR) > 0.9
    assert tone_ratio(fake_speech(1.0), SR) < 0.1
    assert tone_ratio(np.zeros(100), SR) == 1.0


@needs_packages("en_allison", "flite_slt")
def test_tone_check_on_installed_audio(tmp_path):
    # the beep prompt is a tone; flat-pitched flite sentences are not (a 25 Hz window once said so)
    from espnet2_tsdia.corpora.offline_speech import DEFAULT_SOUNDS_DIR, MAX_TONE_RATIO, _Job, _load

    beep, _ = soundfile.read(str(DEFAULT_SOUNDS_DIR / "en_US_f_Allison" / "beep.wav"), dtype="int16")
    assert tone_ratio(remove_dc(beep, SR), SR) > MAX_TONE_RATIO
    for k in (7, 15):
        text = flite_sentences(k + 1, voice="slt")[k]
        y = remove_dc(_load(_Job(f"u{k}", "flite", "slt", str(tmp_path / f"u{k}.wav"), text=text)), SR)
        s, e = speech_bounds(y, SR)
        assert tone_ratio(y[s:e], SR) < 0.7


def test_noise_floor_dbfs_median_of_quiet_frames():
    sig = [padded(0.5, fake_speech(1.0, seed=i), 0.5, noise_dbfs=-60.0, seed=i) for i in range(3)]
    assert noise_floor_dbfs(sig, SR) == pytest.approx(-60.0, abs=1.5)
    assert noise_floor_dbfs([np.zeros(10)], SR) == -120.0  # too short to count


# --------------------------------------------------------------------------- options and text
def test_perturbation_validation_and_parse():
    p = Perturbation.parse("up:200:1.1")
    assert p == Perturbation(name="up", pitch_cents=200.0, tempo=1.1)
    assert p.effects == ("pitch", "200", "tempo", "1.1")
    assert Perturbation(name="slow", tempo=0.9).effects == ("tempo", "0.9")
    assert p.speaker("en_allison") == "en_allison_pup"
    with pytest.raises(ValueError, match="changes nothing"):
        Perturbation(name="id")
    with pytest.raises(ValueError, match=r"pitch_cents must be within \[-1200, 1200\], got 1500"):
        Perturbation(name="x", pitch_cents=1500)
    with pytest.raises(ValueError, match=r"tempo must be within \[0.5, 2.0\], got 3"):
        Perturbation(name="x", tempo=3)
    with pytest.raises(ValueError, match="lower-case letters or digits, got 'Up-1'"):
        Perturbation(name="Up-1", tempo=1.1)
    with pytest.raises(ValueError, match="'name:cents:tempo'"):
        Perturbation.parse("up:200")


def test_flite_sentences_are_stable_and_distinct_per_voice():
    a10 = flite_sentences(10, voice="awb")
    assert flite_sentences(4, voice="awb") == a10[:4]
    assert flite_sentences(10, voice="slt") != a10
    assert len(set(a10)) == 10
    assert all(s[0].isupper() and s[-1] in ".?" and len(s.split()) >= 6 for s in a10)


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match=r"unknown offline speech source\(s\) \['xx_nobody'\]; valid names"):
        prepare_offline_speech(tmp_path, sources=["xx_nobody"])
    with pytest.raises(ValueError, match="max_utts_per_speaker must be >= 1 or None, got 0"):
        prepare_offline_speech(tmp_path, sources=["en_allison"], max_utts_per_speaker=0)
    with pytest.raises(ValueError, match="nj must be >= 1, got 0"):
        prepare_offline_speech(tmp_path, sources=["en_allison"], nj=0)
    with pytest.raises(ValueError, match="listed more than once"):
        prepare_offline_speech(tmp_path, sources=["en_allison", "en_allison"])


def test_missing_package_error_names_packages_and_apt_line(tmp_path):
    with pytest.raises(MissingPackagesError) as info:
        prepare_offline_speech(tmp_path / "out", sources=["en_allison", "es_july"], sounds_dir=tmp_path / "none")
    msg = str(info.value)
    assert info.value.packages == ["asterisk-core-sounds-en-wav", "asterisk-prompt-es-co"]
    assert "en_allison: package asterisk-core-sounds-en-wav: no *.wav files under" in msg
    assert "apt-get install -y --no-install-recommends asterisk-core-sounds-en-wav asterisk-prompt-es-co" in msg
    assert "tools/install.sh" in msg


def test_missing_flite_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no flite, no sox
    with pytest.raises(MissingPackagesError, match="flite_slt: package flite: command 'flite' not found") as info:
        prepare_offline_speech(tmp_path / "out", sources=["flite_slt"])
    assert info.value.packages == ["flite"]


# --------------------------------------------------------------------------- corpus from a fake prompt folder
def build_fake(tmp_path: Path, **kw):
    sounds = tmp_path / "sounds"
    if not sounds.exists():
        make_fake_sounds(sounds)
    kw.setdefault("sources", ["en_allison"])
    return prepare_offline_speech(tmp_path / "corpus", sounds_dir=sounds, **kw)


def check_data_dir(data: Path) -> Tuple[Dict[str, str], Dict[str, float]]:
    """Kaldi conventions and cross-file consistency; returns (wav.scp, utt2dur)."""
    names = ["spk2gender", "spk2utt", "speakers.tsv", "text", "utt2dur", "utt2spk", "wav.scp"]
    assert sorted(p.name for p in data.iterdir()) == sorted(names)
    for name in names:
        raw = (data / name).read_bytes()
        assert raw.endswith(b"\n") and b"\r" not in raw, name
        if name != "speakers.tsv":
            keys = [line.split(b" ")[0] for line in raw.splitlines()]
            assert keys == sorted(keys) and len(set(keys)) == len(keys), name
    wav_scp = read_scp(data / "wav.scp")
    utt2spk = read_utt2spk(data / "utt2spk")
    utt2dur = read_reco2dur(data / "utt2dur")
    assert list(utt2spk.values()) == sorted(utt2spk.values(), key=c_sort_key)  # sorted by speaker too
    assert all(u.startswith(s + "-") for u, s in utt2spk.items())
    assert read_spk2utt(data / "spk2utt") == utt2spk_to_spk2utt(utt2spk)
    assert set(wav_scp) == set(utt2spk) == set(utt2dur) == set(read_scp(data / "text"))
    gender = read_scp(data / "spk2gender")
    assert set(gender) == set(utt2spk.values()) and set(gender.values()) <= {"m", "f"}
    infos = read_speakers_tsv(data / "speakers.tsv")
    assert [i.speaker for i in infos] == sorted(gender, key=c_sort_key)
    for i in infos:
        mine = [u for u, s in utt2spk.items() if s == i.speaker]
        assert i.n_utts == len(mine)
        assert i.seconds == pytest.approx(sum(utt2dur[u] for u in mine), abs=1e-3)
        assert i.sex == gender[i.speaker]
    for utt, path in wav_scp.items():
        assert os.path.isabs(path)
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (8000, 1, "PCM_16")
        assert info.frames / 8000 == pytest.approx(utt2dur[utt], abs=1e-9)
    return wav_scp, utt2dur


def test_fake_corpus_trims_skips_and_dedupes(tmp_path):
    truth = make_fake_sounds(tmp_path / "sounds")
    report = build_fake(tmp_path)
    wav_scp, utt2dur = check_data_dir(report.data_dir)
    assert sorted(wav_scp) == sorted(f"en_allison-{k}" for k in truth)
    for name, dur in truth.items():  # trimmed to within 20 ms of the true speech on each side
        assert abs(utt2dur[f"en_allison-{name}"] - dur) <= 2 * TOL, name
    reasons = {s.utt: s.reason for s in report.skipped}
    assert reasons == {
        "en_allison-almost_1": "duplicate: same audio as en_allison-prompt1",
        "en_allison-beep": "non-speech: a tone or sound-effect prompt (by name)",
        "en_allison-chime": reasons["en_allison-chime"],
        "en_allison-copy_of_0": "duplicate: same audio as en_allison-prompt0",
        "en_allison-quiet": "no speech: nothing above the noise floor",
        "en_allison-short": reasons["en_allison-short"],
        "en_allison-silence_1": "non-speech: a silence/ prompt",
    }
    assert reasons["en_allison-chime"].startswith("non-speech: a tone (")
    assert reasons["en_allison-short"].startswith("too short: 0.3")
    assert reasons["en_allison-short"].endswith("< min_duration 0.5 s")
    skipped_tsv = (report.out_dir / "skipped.tsv").read_text().splitlines()
    assert skipped_tsv[0] == "utt\tsource\treason" and len(skipped_tsv) == 1 + len(reasons)
    assert report.speakers == (
        SpeakerInfo("en_allison", "asterisk-core-sounds-en-wav", "en-US", "f", 5, report.seconds, "real"),
    )
    assert read_scp(report.data_dir / "text")["en_allison-prompt0"] == "<unk>"


def test_idempotent_second_run_writes_nothing(tmp_path):
    first = build_fake(tmp_path)
    before = all_files(first.out_dir)
    second = build_fake(tmp_path)
    assert (second.n_created, second.n_reused) == (0, first.n_created)
    assert all_files(first.out_dir) == before  # same files, same mtimes


def test_resume_recreates_only_the_missing_wav(tmp_path):
    first = build_fake(tmp_path)
    wav_scp = read_scp(first.data_dir / "wav.scp")
    victim = Path(wav_scp["en_allison-prompt2"])
    data_before = {p.name: p.read_bytes() for p in first.data_dir.iterdir()}
    audio_before = victim.read_bytes()
    victim.unlink()
    (victim.parent / ".en_allison-prompt3.wav.tmp").write_bytes(b"half a file")  # an interrupted write
    before = all_files(first.out_dir)
    second = build_fake(tmp_path)
    assert second.n_created == 1
    after = all_files(first.out_dir)
    changed = {k for k in after if before.get(k) != after[k]} | (set(before) - set(after))
    assert changed == {
        str(victim.relative_to(first.out_dir)),
        "wav/en_allison/.en_allison-prompt3.wav.tmp",  # leftover removed
    }
    assert victim.read_bytes() == audio_before
    assert {p.name: p.read_bytes() for p in first.data_dir.iterdir()} == data_before


def test_limits_select_a_prefix_of_one_order(tmp_path):
    two = build_fake(tmp_path, max_utts_per_speaker=2, seed=3)
    utts2 = set(read_scp(two.data_dir / "wav.scp"))
    three = build_fake(tmp_path, max_utts_per_speaker=3, seed=3)
    utts3 = set(read_scp(three.data_dir / "wav.scp"))
    assert len(utts2) == 2 and len(utts3) == 3 and utts2 < utts3
    by_time = build_fake(tmp_path, max_seconds_per_speaker=2.0, seed=3)
    durs = [by_time.speakers[0].seconds]
    assert durs[0] >= 2.0 and by_time.speakers[0].n_utts < 5


def test_parallel_equals_serial(tmp_path):
    serial = build_fake(tmp_path / "a")
    parallel = build_fake(tmp_path / "b", nj=2)
    for name in ["utt2spk", "utt2dur", "spk2utt", "text", "speakers.tsv"]:
        assert (serial.data_dir / name).read_bytes() == (parallel.data_dir / name).read_bytes(), name
    for utt, path in read_scp(serial.data_dir / "wav.scp").items():
        other = read_scp(parallel.data_dir / "wav.scp")[utt]
        assert Path(path).read_bytes() == Path(other).read_bytes()


def test_read_speakers_tsv_rejects_bad_files(tmp_path):
    bad = tmp_path / "speakers.tsv"
    bad.write_text("speaker\tsex\nx\tf\n")
    with pytest.raises(DataFormatError, match=r"speakers.tsv:1: expected the header"):
        read_speakers_tsv(bad)
    bad.write_text("speaker\tsource\tlanguage\tsex\tn_utts\tseconds\tkind\nx\tp\ten\tf\tmany\t1.0\treal\n")
    with pytest.raises(DataFormatError, match=r"speakers.tsv:2: n_utts must be an integer.*'many'"):
        read_speakers_tsv(bad)


def test_cli_builds_and_reports_errors(tmp_path, capsys):
    make_fake_sounds(tmp_path / "sounds")
    args = ["--sources", "en_allison", "--sounds_dir", str(tmp_path / "sounds"), "--log_level", "ERROR"]
    assert cli_main(["--out_dir", str(tmp_path / "out"), "--max_utts_per_speaker", "2", *args]) == 0
    assert len(read_scp(tmp_path / "out" / "data" / "wav.scp")) == 2
    assert [s.speaker for s in read_speakers_tsv(tmp_path / "out" / "data" / "speakers.tsv")] == ["en_allison"]
    assert capsys.readouterr().out.splitlines() == [str(tmp_path / "out" / "data")]  # the data dir written
    none = ["--sources", "en_allison", "--sounds_dir", str(tmp_path / "none")]
    assert cli_main(["--out_dir", str(tmp_path / "out2"), *none]) == 1
    assert not (tmp_path / "out2" / "data").exists()
    with pytest.raises(SystemExit):
        cli_main(["--out_dir", str(tmp_path / "out3"), "--perturb", "up:200", *args])
    assert cli_main(["sources", "--sounds_dir", str(tmp_path / "sounds")]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in listed] == list(SOURCES)
    assert listed[0].endswith("available")


# --------------------------------------------------------------------------- the installed packages
@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory):
    if missing_sources():
        pytest.skip("Debian speech packages missing (tools/install.sh installs them): " + str(missing_sources()))
    return prepare_offline_speech(tmp_path_factory.mktemp("offline") / "corpus", max_utts_per_speaker=1)


def test_installed_packages_give_at_least_10_speakers(real_corpus):
    check_data_dir(real_corpus.data_dir)
    assert real_corpus.n_speakers >= 10
    assert [s.speaker for s in real_corpus.speakers] == sorted(SOURCES, key=c_sort_key)
    assert {s.kind for s in real_corpus.speakers} == {"real", "synthetic"}
    assert {s.sex for s in real_corpus.speakers} == {"m", "f"}
    assert len({s.language for s in real_corpus.speakers}) >= 5
    text = read_scp(real_corpus.data_dir / "text")
    assert text["flite_slt-" + next(u.split("-", 1)[1] for u in text if u.startswith("flite_slt-"))] != "<unk>"


def test_installed_prompts_are_trimmed(real_corpus):
    # re-trimming any output with its source's noise floor removes at most the margin (+ a frame)
    import json

    for utt, path in read_scp(real_corpus.data_dir / "wav.scp").items():
        spk = utt.split("-")[0]
        noise = json.loads((Path(path).parent / ".config.json").read_text()).get("noise_dbfs")
        x, _ = soundfile.read(path, dtype="int16")
        s, e = speech_bounds(to_float(x), SR, noise_dbfs=noise)
        assert s <= TOL * SR and len(x) - e <= TOL * SR, (spk, utt, s, len(x) - e)


@needs_packages("en_allison", "es_july")
def test_perturbed_pseudo_speakers(tmp_path):
    report = prepare_offline_speech(
        tmp_path,
        sources=["en_allison", "es_july"],
        max_utts_per_speaker=2,
        perturb=[Perturbation(name="up", pitch_cents=200, tempo=1.25)],
    )
    check_data_dir(report.data_dir)
    kinds = {s.speaker: s.kind for s in report.speakers}
    assert kinds == {"en_allison": "real", "en_allison_pup": "perturbed", "es_july": "real", "es_july_pup": "perturbed"}
    dur = read_reco2dur(report.data_dir / "utt2dur")
    for utt, d in dur.items():
        spk, rest = utt.split("-", 1)
        if spk.endswith("_pup"):  # tempo 1.25: 80 % of the base length, up to the trimming margin
            assert d == pytest.approx(dur[f"{spk[:-4]}-{rest}"] / 1.25, abs=0.03)
    assert read_scp(report.data_dir / "spk2gender")["es_july_pup"] == "f"


# --------------------------------------------------------------------------- festival and espeak-ng voices
def test_voice_families_and_persons():
    assert sources_of_family("flite") == ["flite_awb", "flite_kal", "flite_rms", "flite_slt"]
    assert {SOURCES[s].family for s in sources_of_family("prompt")} == {"prompt"}
    assert len(sources_of_family("festival")) == 8 and len(sources_of_family("espeak")) >= 12
    persons = persons_of(["flite_kal", "fest_kal", "fest_kal_pup", "flite_slt", "fest_slt", "it_carlo", "nobody"])
    assert persons == {
        "kal": ["flite_kal", "fest_kal", "fest_kal_pup"],
        "slt": ["flite_slt", "fest_slt"],
        "it_carlo": ["it_carlo"],
        "nobody": ["nobody"],
    }
    with pytest.raises(ValueError, match="unknown voice family 'mbrola'; valid: "):
        sources_of_family("mbrola")
    with pytest.raises(ValueError, match="options are espeak-ng arguments; x is a flite source"):
        VoiceSource("x", "flite", "en", "m", "synthetic", "flite", "kal", options=("-p", "50"))


def test_cache_keys_of_the_first_sources_are_unchanged():
    # fields added later are left out of a source's cache key at their defaults: caches stay valid
    from espnet2_tsdia.corpora.offline_speech import _source_key

    assert _source_key(SOURCES["flite_awb"]) == {
        "speaker": "flite_awb",
        "package": "flite",
        "language": "en-GB",
        "sex": "m",
        "kind": "synthetic",
        "fmt": "flite",
        "location": "awb",
    }
    assert _source_key(SOURCES["flite_kal"])["person"] == "kal"
    assert _source_key(SOURCES["espeak_en_m1"])["options"] == ["-p", "40", "-s", "165"]


def test_number_sentences_are_digit_groups_stable_per_voice():
    a = number_sentences(20, voice="x")
    assert a[:5] == number_sentences(5, voice="x") and a != number_sentences(20, voice="y")
    for line in a:
        groups = line.split(" ")
        assert 3 <= len(groups) <= 5 and all(g.isdigit() and len(g) <= 4 for g in groups)
    assert synthetic_sentences(SOURCES["fest_ru_nsh"], 3) == number_sentences(3, voice="fest_ru_nsh")
    assert synthetic_sentences(SOURCES["flite_kal"], 3) == flite_sentences(3, voice="kal")  # unchanged for flite
    with pytest.raises(ValueError, match="en_allison is not a synthetic source"):
        synthetic_sentences(SOURCES["en_allison"], 1)


def test_missing_festival_and_language_support_are_named(tmp_path, monkeypatch):
    missing = missing_sources(["fest_nsk", "fest_kal"], festival_dir=tmp_path)
    if shutil.which("festival") is None:
        pytest.skip("festival not installed (tools/install.sh installs it)")
    # the voice is listed, but its language support folder is not in this festival dir
    assert missing == {
        "fest_nsk": f"package festival-hi: no {tmp_path / 'hindi_scm'} (the language support voice "
        "'hindi_NSK_diphone' loads)"
    }
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingPackagesError, match="fest_kal: package festival: command 'festival' not found") as info:
        prepare_offline_speech(tmp_path / "out", sources=["fest_kal", "espeak_en_m1"])
    assert info.value.packages == ["festival", "espeak-ng"]


def test_festival_batch_renders_every_sentence_with_one_process(tmp_path):
    if missing_sources(["fest_cs_ph"]):
        pytest.skip("festival voice czech_ph missing (tools/install.sh installs it)")
    items = [(t, tmp_path / f"{k}.wav") for k, t in enumerate(["Dobrý den.", 'A "quoted" word \\ here.', "123 45"])]
    festival_batch("czech_ph", items)
    for _, path in items:
        info = soundfile.info(str(path))
        assert info.frames / info.samplerate > 0.3
    with pytest.raises(RuntimeError, match="festival voice no_such_voice"):
        festival_batch("no_such_voice", [("x", tmp_path / "x.wav")])


@needs_packages("fest_nsk", "fest_slt", "espeak_en_m1")
def test_festival_and_espeak_speakers(tmp_path):
    report = prepare_offline_speech(
        tmp_path, sources=["fest_nsk", "fest_slt", "espeak_en_m1"], max_utts_per_speaker=4, nj=2
    )
    check_data_dir(report.data_dir)
    assert [(s.speaker, s.n_utts, s.kind) for s in report.speakers] == [
        ("espeak_en_m1", 4, "synthetic"),
        ("fest_nsk", 4, "synthetic"),
        ("fest_slt", 4, "synthetic"),
    ]
    assert not report.skipped
    text = read_scp(report.data_dir / "text")
    nsk, slt = number_sentences(300, voice="fest_nsk"), flite_sentences(300, voice="fest_slt")
    for utt, line in text.items():  # utterance <spk>-s<k> reads sentence k of its voice
        k = int(utt.rsplit("-s", 1)[1])
        if utt.startswith("fest_nsk-"):
            assert line == nsk[k]
        elif utt.startswith("fest_slt-"):
            assert line == slt[k]
    # every utterance lasts about as long as 2-5 spoken words per second of its text
    for utt, d in read_reco2dur(report.data_dir / "utt2dur").items():
        assert 0.5 < d < 12.0, (utt, d)
    # no synthesiser leftovers next to the wav files
    assert not [p for p in report.out_dir.rglob(".*") if p.name != ".config.json"]


def test_installer_installs_every_package_of_the_corpus():
    script = (Path(__file__).resolve().parents[2] / "tools" / "install.sh").read_text()
    listed = script.split("apt_pkgs=(", 1)[1].split(")", 1)[0].split()
    assert set(DEBIAN_PACKAGES) <= set(listed), sorted(set(DEBIAN_PACKAGES) - set(listed))
