"""prepare_chime6 on a tiny CHiME-6 in the native layout: JSON transcripts, sparse 16 kHz audio.

Where the layout comes from: the CHiME-5/6 data pages (``CHiME6/audio/<split>/`` with
``<S>_<U>.CH<c>.wav`` mono per array channel and ``<S>_<P>.wav`` stereo per worn mic,
``CHiME6/transcriptions/<split>/<S>.json``), lhotse's ``recipes/chime6.py`` and Kaldi's
``egs/chime6/s5_track1/local/json2text.py`` (utterance keys ``speaker``, ``session_id``,
``words``, ``start_time``/``end_time`` as ``H:MM:SS.ss``, and ``ref``/``location`` in dev and
eval), Kaldi's ``s5_track1/local/distant_audio_list`` (S05 has no U03/U04), Kaldi's
``s5_track2/local/uem_file`` (track-2 UEM starts) and ``s5_track2/local/dev_rttm`` (improved
reference keys ``S09_U06.ENH``). The OpenSLR 150 archive nesting used by the download test
(``CHiME6_<split>/CHiME6/audio/<split>/``, ``transcriptions/transcriptions/<split>/``) is
second-hand; the URL layout ``/resources/150/<file>`` with ``checksum.md5`` is OpenSLR's (that
resource 150 has such a list is not verified). The transcripts are made up; the audio is silence of the real format.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Dict, Iterable, Sequence, Tuple

import pytest

from espnet2_tsdia.audio.info import audio_info
from espnet2_tsdia.bin import prepare_corpus
from espnet2_tsdia.corpora import chime6
from espnet2_tsdia.corpora.chime6 import parse_time, prepare_chime6
from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.data.describe import describe_data_dir, markdown_table
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.utils.checksums import Manifest
from espnet2_tsdia.utils.download import ChecksumError
from test.corpora.fileserver import FileServer
from test.corpora.native import (
    check_corpus_yaml,
    data_files,
    label_conversion,
    rttm_rows,
    run_data_sh,
    validate,
    write_sparse_wav,
    write_text,
)

#: session -> (split, participants)
SESSIONS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "S03": ("train", ("P09", "P10", "P11", "P12")),
    "S05": ("train", ("P13", "P14", "P15", "P16")),
    "S02": ("dev", ("P05", "P06", "P07", "P08")),
    "S01": ("eval", ("P01", "P02", "P03", "P04")),
}
DURATION = 100.0
#: (start, end, participant index, words): one [redacted] and one end <= start utterance are left
#: out; participant 0's turns at 30-34 and 33-37 overlap and are merged.
UTTERANCES = [
    (5.0, 9.5, 0, "hello there"),
    (9.0, 14.0, 1, "hi"),
    (15.0, 20.0, 2, "how are you"),
    (19.5, 23.0, 3, "fine thanks"),
    (30.0, 34.0, 0, "so"),
    (33.0, 37.0, 0, "and then"),
    (40.0, 46.0, 1, "yes"),
    (50.0, 55.0, 2, "right"),
    (60.0, 62.0, 2, "it is at [redacted]"),
    (70.0, 69.5, 1, "oops"),
    (80.0, 86.0, 3, "okay"),
    (85.0, 90.0, 1, "sure"),
]
#: S03 also has a turn that runs past the end of the audio (clipped)
LATE = (97.0, 103.0, 3, "bye")


def hms(x: float) -> str:
    return f"{int(x // 3600)}:{int(x % 3600 // 60):02d}:{x % 60:05.2f}"


def transcript(session: str, split: str, speakers: Sequence[str]) -> list:
    utts = UTTERANCES + ([LATE] if session == "S03" else [])
    out = []
    for i, (a, b, p, words) in enumerate(utts):
        u = {
            "end_time": hms(b),
            "start_time": hms(a),
            "words": words,
            "speaker": speakers[p],
            "session_id": session,
        }
        if split != "train":
            u["ref"] = "U04" if (session == "S02" and i >= 8) else ("U02" if session == "S02" else "U01")
            u["location"] = "kitchen"
        out.append(u)
    return out


def build_chime6(
    root: Path,
    *,
    sessions: Iterable[str] = tuple(SESSIONS),
    arrays: Sequence[str] = chime6.ARRAYS,
    channels: Sequence[int] = (1, 2, 3, 4),
    worn: bool = True,
    audio_dir: str = "CHiME6/audio/{split}",
    transcript_dir: str = "CHiME6/transcriptions/{split}",
) -> Path:
    """The sessions' JSON transcripts, every array channel the corpus has (S05 has no U03, U04)
    and the worn mics, as sparse wavs of :data:`DURATION` seconds."""
    for s in sessions:
        split, speakers = SESSIONS[s]
        write_text(
            root / transcript_dir.format(split=split) / f"{s}.json",
            json.dumps(transcript(s, split, speakers), indent=4),
        )
        adir = root / audio_dir.format(split=split)
        for u in arrays:
            if s in chime6.KNOWN_MISSING.get(u, ()):
                continue
            for c in channels:
                write_sparse_wav(adir / f"{s}_{u}.CH{c}.wav", DURATION)
        if worn:
            for p in speakers:
                write_sparse_wav(adir / f"{s}_{p}.wav", DURATION, channels=2)
    return root


def test_prepare_u06(tmp_path):
    corpus = build_chime6(tmp_path / "c6")
    reports = prepare_chime6(corpus, tmp_path / "data", sessions=list(SESSIONS))
    assert list(reports) == ["chime6_train", "chime6_dev", "chime6_eval"]
    train = data_files(tmp_path / "data" / "chime6_train")
    assert train["wav.scp"] == [
        f"S03 {corpus / 'CHiME6/audio/train/S03_U06.CH1.wav'}",
        f"S05 {corpus / 'CHiME6/audio/train/S05_U06.CH1.wav'}",
    ]
    assert train["reco2dur"] == ["S03 100", "S05 100"]
    # track-2 UEM: train sessions from their first utterance, S02 from 75 s, S01 from 0 s
    assert train["uem"] == ["S03 1 5.000 100.000", "S05 1 5.000 100.000"]
    assert data_files(tmp_path / "data" / "chime6_dev")["uem"] == ["S02 1 75.000 100.000"]
    assert data_files(tmp_path / "data" / "chime6_eval")["uem"] == ["S01 1 0.000 100.000"]

    s03 = corpus / "CHiME6/transcriptions/train/S03.json"
    r = reports["chime6_train"]
    assert r.dropped[:2] == [
        f"S03: 1 [redacted] utterances left out ({s03})",
        f"S03: 1 utterances with end <= start left out ({s03}: 9 (P10 70.00-69.50))",
    ]
    assert "S03 P09: merged 2 overlapping turns [30.000, 34.000], [33.000, 37.000] into [30.000, 37.000]" in r.changed
    assert "S03 P12 [97.000, 103.000]: clipped to the recording end 100.000" in r.changed
    rows = rttm_rows(tmp_path / "data" / "chime6_train" / "rttm")
    # 12 utterances - 2 left out - 1 merge = 9 turns; S03 has the late one too
    assert [sum(1 for row in rows if row[0] == s) for s in ("S03", "S05")] == [10, 9]
    assert ("S03", "1", "P09", 30.0, 37.0) in rows and ("S03", "1", "P12", 97.0, 100.0) in rows
    # participant ids are global and kept
    assert [ln.split()[0] for ln in train["spk2utt"]] == ["P09", "P10", "P11", "P12", "P13", "P14", "P15", "P16"]
    for d in reports:
        validate(tmp_path / "data" / d, expected_fs=16000, global_speakers=True)


def test_describe_row(tmp_path):
    corpus = build_chime6(tmp_path / "c6", sessions=["S02"])
    prepare_chime6(corpus, tmp_path / "data", splits=["dev"], sessions=["S02"])
    d = describe_data_dir(tmp_path / "data" / "chime6_dev")
    # 100 s; speech: 5-14, 15-23, 30-37, 40-46, 50-55, 80-90 = 45 s; overlap 0.5 + 0.5 + 1 = 2 s;
    # 9 turns of 4.5 + 5 + 5 + 3.5 + 7 + 6 + 5 + 6 + 5 = 47 s
    assert markdown_table([d]).splitlines()[2] == "|chime6_dev|1|0.03|4|4.00|4|4.4|55.0|5.22|"


def test_label_conversion(tmp_path):
    corpus = build_chime6(tmp_path / "c6", sessions=["S01"])
    prepare_chime6(corpus, tmp_path / "data", splits=["eval"], sessions=["S01"])
    examples = label_conversion(tmp_path / "data" / "chime6_eval", tmp_path / "labels")
    assert examples == ["S01__P01", "S01__P02", "S01__P03", "S01__P04"]


def test_known_missing_arrays_are_reported(tmp_path):
    corpus = build_chime6(tmp_path / "c6", sessions=["S03", "S05"])
    reports = prepare_chime6(corpus, tmp_path / "data", mic="U03", channel=2, splits=["train"], sessions=["S03", "S05"])
    assert list(reports) == ["chime6_u03_ch2_train"]
    assert "S05: the corpus has no U03 recording for this session; left out of chime6_u03_ch2_train" in (
        reports["chime6_u03_ch2_train"].dropped
    )
    wav = data_files(tmp_path / "data" / "chime6_u03_ch2_train")["wav.scp"]
    assert wav == [f"S03 {corpus / 'CHiME6/audio/train/S03_U03.CH2.wav'}"]
    # an array file missing where the corpus has one stops, unless missing_ok
    (corpus / "CHiME6/audio/train/S03_U03.CH2.wav").unlink()
    with pytest.raises(
        MissingAudioError,
        match=r"S03_U03\.CH2\.wav: audio of session 'S03' \(train\) does not exist; download CHiME6_train\.tar\.gz again",
    ):
        prepare_chime6(corpus, tmp_path / "data", mic="U03", channel=2, splits=["train"], sessions=["S03", "S05"])
    with pytest.raises(FileNotFoundError, match=r"chime6_u03_ch2_train: every session was left out"):
        prepare_chime6(
            corpus, tmp_path / "d", mic="U03", channel=2, splits=["train"], sessions=["S03"], missing_ok=True
        )
    r = prepare_chime6(corpus, tmp_path / "d", mic="U04", splits=["train"], sessions=["S03", "S05"])
    assert (
        r["chime6_u04_train"].dropped[-1]
        == "S05: the corpus has no U04 recording for this session; left out of chime6_u04_train"
    )


def test_worn_mics_mixed_to_one_channel(tmp_path):
    corpus = build_chime6(tmp_path / "c6", sessions=["S02"])
    reports = prepare_chime6(corpus, tmp_path / "data", mic="worn", splits=["dev"], sessions=["S02"])
    (value,) = [ln.split(None, 1)[1] for ln in data_files(tmp_path / "data" / "chime6_worn_dev")["wav.scp"]]
    adir = corpus / "CHiME6/audio/dev"
    assert (
        value == f"sox -m {adir}/S02_P05.wav {adir}/S02_P06.wav {adir}/S02_P07.wav {adir}/S02_P08.wav -t wav -c 1 - |"
    )
    info = audio_info(value, run_pipes=True)
    assert (info.samplerate, info.channels, info.frames) == (16000, 1, 1_600_000)
    assert list(reports) == ["chime6_worn_dev"]
    (adir / "S02_P07.wav").unlink()
    with pytest.raises(
        MissingAudioError, match=r"S02_P07\.wav: worn mic of P07 \(a participant of session S02\) does not exist"
    ):
        prepare_chime6(corpus, tmp_path / "data", mic="worn", splits=["dev"], sessions=["S02"])


def test_reference_array(tmp_path):
    corpus = build_chime6(tmp_path / "c6", sessions=["S02", "S03"])
    reports = prepare_chime6(corpus, tmp_path / "data", mic="ref", splits=["train", "dev"], sessions=["S02", "S03"])
    assert reports["chime6_ref_dev"].changed[0] == "S02: reference array U02 (named by 8 of 10 utterances)"
    assert reports["chime6_ref_train"].changed[0] == "S03: the transcript names no reference array; U06 used"
    assert data_files(tmp_path / "data" / "chime6_ref_dev")["wav.scp"] == [
        f"S02 {corpus / 'CHiME6/audio/dev/S02_U02.CH1.wav'}"
    ]


def test_uem_rules_and_redacted_kept(tmp_path):
    corpus = build_chime6(tmp_path / "c6", sessions=["S02"])
    prepare_chime6(corpus, tmp_path / "a", splits=["dev"], sessions=["S02"], uem="first_utterance", redacted="keep")
    files = data_files(tmp_path / "a" / "chime6_dev")
    assert files["uem"] == ["S02 1 5.000 100.000"]
    assert ("S02", "1", "P07", 60.0, 62.0) in rttm_rows(tmp_path / "a" / "chime6_dev" / "rttm")
    prepare_chime6(corpus, tmp_path / "b", splits=["dev"], sessions=["S02"], uem="whole")
    assert data_files(tmp_path / "b" / "chime6_dev")["uem"] == ["S02 1 0.000 100.000"]


def test_improved_reference(tmp_path):
    corpus = build_chime6(tmp_path / "c6", sessions=["S02", "S03"])
    refs = tmp_path / "chime6_rttm"
    write_text(
        refs / "dev_rttm",
        "SPEAKER S02_U06.ENH 1 76.00 2.5 <NA> <NA> P05 <NA> <NA>\n"
        "SPEAKER S02_U06.ENH 1 77.0 1.0 <NA> <NA> P06 <NA> <NA>\n"
        "SPEAKER S02_U01.ENH 1 76.00 2.5 <NA> <NA> P05 <NA> <NA>\n",
    )
    reports = prepare_chime6(corpus, tmp_path / "data", splits=["train", "dev"], sessions=["S02", "S03"], rttm_dir=refs)
    assert rttm_rows(tmp_path / "data" / "chime6_dev" / "rttm") == [
        ("S02", "1", "P05", 76.0, 78.5),
        ("S02", "1", "P06", 77.0, 78.0),
    ]
    dev = reports["chime6_dev"]
    assert f"{refs / 'dev_rttm'}: recording keys S02_U01.ENH, S02_U06.ENH reduced to their session ids" in dev.changed
    assert f"dev: reference turns from the improved RTTM {refs / 'dev_rttm'}, not the JSON transcripts" in dev.changed
    assert f"{refs / 'dev_rttm'}: 1 turns repeated under another array of the same session kept once" in dev.dropped
    assert f"train: no improved reference {refs / 'train_rttm'}; reference turns from the JSON transcripts" in (
        reports["chime6_train"].changed
    )
    write_text(
        refs / "dev_rttm",
        "SPEAKER S02_U06.ENH 1 76.00 2.5 <NA> <NA> P05 <NA> <NA>\nSPEAKER S09_U06.ENH 1 1 1 <NA> <NA> P25 <NA> <NA>\n",
    )
    with pytest.raises(
        DataFormatError,
        match=r"dev_rttm:2: names recording 'S09_U06\.ENH', which is not a session of this split \(S02\)",
    ):
        prepare_chime6(corpus, tmp_path / "data", splits=["dev"], sessions=["S02"], rttm_dir=refs)


def test_bad_transcripts(tmp_path):
    corpus = build_chime6(tmp_path / "c6", sessions=["S02"])
    path = corpus / "CHiME6/transcriptions/dev/S02.json"
    utts = json.loads(path.read_text())
    chime5 = [dict(utts[0], start_time={"original": "0:00:05.00", "U01": "0:00:05.12"})] + utts[1:]
    path.write_text(json.dumps(chime5))
    with pytest.raises(
        DataFormatError,
        match=r"S02\.json: utterance 0 \(start_time\) is a per-device table \(U01, original\): an unsynchronised CHiME-5 transcript",
    ):
        prepare_chime6(corpus, tmp_path / "data", splits=["dev"], sessions=["S02"])
    path.write_text(json.dumps([dict(utts[0], session_id="S09")]))
    with pytest.raises(DataFormatError, match=r"S02\.json: utterance 0 belongs to session 'S09', expected 'S02'"):
        prepare_chime6(corpus, tmp_path / "data", splits=["dev"], sessions=["S02"])
    path.write_text(json.dumps([{k: v for k, v in utts[0].items() if k != "end_time"}]))
    with pytest.raises(DataFormatError, match=r"utterance 0 has no 'end_time'"):
        prepare_chime6(corpus, tmp_path / "data", splits=["dev"], sessions=["S02"])
    path.write_text('[{"start_time": "0:00:01.00",')
    with pytest.raises(DataFormatError, match=r"S02\.json:1: not valid JSON"):
        prepare_chime6(corpus, tmp_path / "data", splits=["dev"], sessions=["S02"])
    path.unlink()
    with pytest.raises(FileNotFoundError, match=r"S02\.json: transcript of session S02 \(dev\) missing"):
        prepare_chime6(corpus, tmp_path / "data", splits=["dev"], sessions=["S02"])


def test_parse_time():
    assert parse_time("1:02:03.45", path="x", index=0, field="start_time") == pytest.approx(3723.45)
    assert parse_time("0:00:05", path="x", index=0, field="start_time") == 5.0
    assert parse_time("12.345", path="x", index=0, field="start_time") == 12.345  # CHiME-7 style
    assert parse_time(7, path="x", index=0, field="start_time") == 7.0
    with pytest.raises(DataFormatError, match=r"x: utterance 3 \(end_time\): expected HH:MM:SS\.ss, got '5 seconds'"):
        parse_time("5 seconds", path="x", index=3, field="end_time")
    with pytest.raises(DataFormatError, match="time must be >= 0"):
        parse_time("-1", path="x", index=0, field="start_time")


def test_bad_options_and_sessions():
    with pytest.raises(ValueError, match="unknown CHiME-6 microphone 'U07'"):
        prepare_chime6("x", "y", mic="U07")
    with pytest.raises(ValueError, match="CHiME-6 array channel must be 1..4, got 5"):
        prepare_chime6("x", "y", channel=5)
    with pytest.raises(ValueError, match=r"sessions \['S02'\] are not CHiME-6 sessions of train"):
        prepare_chime6("x", "y", splits=["train"], sessions=["S02"])
    with pytest.raises(ValueError, match="unknown UEM rule 'full'"):
        prepare_chime6("x", "y", uem="full")


def test_missing_split_folder_names_where_it_looked(tmp_path):
    corpus = build_chime6(tmp_path / "c6", sessions=["S02"])
    with pytest.raises(
        FileNotFoundError,
        match=r"no CHiME-6 audio folder for eval \(looked in .*CHiME6/audio/eval, .*audio/eval, .*CHiME6_eval/CHiME6/audio/eval\)",
    ):
        prepare_chime6(corpus, tmp_path / "data", splits=["eval"], sessions=["S01"])


def test_dirs_action_matches_prepare(tmp_path, capsys):
    corpus = build_chime6(tmp_path / "c6", sessions=["S02", "S01"])
    opts = ["--sessions", "S01 S02", "--mic", "worn"]
    assert prepare_corpus.main(["chime6", "dirs", "--out_dir", str(tmp_path / "data"), *opts]) == 0
    listed = capsys.readouterr().out.split()
    assert prepare_corpus.main(["chime6", "--corpus_dir", str(corpus), "--out_dir", str(tmp_path / "data"), *opts]) == 0
    assert listed == [str(tmp_path / "data" / n) for n in ("chime6_worn_dev", "chime6_worn_eval")]
    assert all(Path(d, "rttm").is_file() for d in listed)


def test_corpus_yaml():
    conf = check_corpus_yaml("chime6", "CHIME6")
    assert conf["scoring"]["collar"] == 0.0 and conf["scoring"]["skip_overlap"] is False
    assert conf["splits"]["dev"]["sessions"] == ["S02", "S09"] and conf["splits"]["eval"]["sessions"] == ["S01", "S21"]


def test_data_sh(tmp_path):
    corpus = build_chime6(tmp_path / "c6", sessions=["S02", "S01"], arrays=("U06",), channels=(1,), worn=False)
    proc = run_data_sh("chime6", "CHIME6", corpus, tmp_path, "--splits", "dev eval", "--sessions", "S01 S02")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "data" / "chime6_eval" / "rttm").is_file() and (
        tmp_path / "data" / "chime6_dev" / "uem"
    ).is_file()
    proc = run_data_sh("chime6", "CHIME6", None, tmp_path)
    assert proc.returncode == 1 and "CHIME6 is not set" in proc.stderr
    (corpus / "CHiME6/audio/dev/S02_U06.CH1.wav").unlink()
    proc = run_data_sh("chime6", "CHIME6", corpus, tmp_path, "--stage", "2", "--splits", "dev", "--sessions", "S02")
    assert proc.returncode == 2 and "S02_U06.CH1.wav: audio of session 'S02' (dev)" in proc.stderr  # bad input


# --------------------------------------------------------------------------- download
def _tar(members: Dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_download_from_openslr_layout(tmp_path, capsys):
    """The archives at OpenSLR's paths (``/resources/150/``) with OpenSLR's checksum list: checked,
    recorded, extracted in their reported nesting, prepared; a rerun fetches nothing; the wavs
    checked against an md5 list; an archive that differs from the list is refused."""
    src = build_chime6(tmp_path / "src", sessions=["S02"], arrays=("U06",), channels=(1,), worn=False)
    wav = (src / "CHiME6/audio/dev/S02_U06.CH1.wav").read_bytes()
    archives = {
        "CHiME6_dev.tar.gz": _tar({"CHiME6_dev/CHiME6/audio/dev/S02_U06.CH1.wav": wav}),
        "CHiME6_transcriptions.tar.gz": _tar(
            {"transcriptions/transcriptions/dev/S02.json": (src / "CHiME6/transcriptions/dev/S02.json").read_bytes()}
        ),
    }
    with FileServer() as server:
        for name, data in archives.items():
            server.put(f"{chime6.OPENSLR}/{name}", data)
        server.put(f"{chime6.OPENSLR}/checksum.md5", "".join(f"{md5(d)}  {n}\n" for n, d in archives.items()).encode())
        md5_url = server.put(chime6.AUDIO_MD5_URL, f"{md5(wav)} S02_U06.CH1.wav\n{'1' * 32} S09_U06.CH1.wav\n".encode())
        base = server.url(chime6.OPENSLR)
        corpus = tmp_path / "c6"
        chime6.download_chime6(corpus, splits=["dev"], base_url=base, verify_audio=True, audio_md5_url=md5_url)
        assert Manifest(corpus / "checksums.md5").entries() == {f"downloads/{n}": md5(d) for n, d in archives.items()}
        assert (corpus / "CHiME6_dev/CHiME6/audio/dev/S02_U06.CH1.wav").read_bytes() == wav
        assert list(prepare_chime6(corpus, tmp_path / "data", splits=["dev"], sessions=["S02"])) == ["chime6_dev"]
        before = len(server.requests)
        chime6.download_chime6(corpus, splits=["dev"], base_url=base)
        assert len(server.requests) == before  # extracted archives: nothing fetched

        server.put(chime6.AUDIO_MD5_URL, f"{'0' * 32}  CHiME6/audio/dev/S02_U06.CH1.wav\n".encode())
        with pytest.raises(
            ChecksumError, match=r"S02_U06\.CH1\.wav: md5 [0-9a-f]{32}, expected 0{32} \(listed in .*audio_md5sums\.txt"
        ) as e:
            chime6.download_chime6(corpus, splits=["dev"], base_url=base, verify_audio=True, audio_md5_url=md5_url)
        assert e.value.actual == md5(wav) and "1 CHiME-6 wavs differ from the list (S02_U06.CH1.wav)" in str(e.value)

        good = archives["CHiME6_dev.tar.gz"]
        server.put(f"{chime6.OPENSLR}/CHiME6_dev.tar.gz", good[:-10] + bytes(10))
        fresh = tmp_path / "c6b"
        argv = ["chime6", "download", "--corpus_dir", str(fresh), "--splits", "dev", "--mirror", base]
        assert prepare_corpus.main(argv) == 1  # a failed download
        assert f"{fresh / 'downloads' / 'CHiME6_dev.tar.gz.part'}: md5" in capsys.readouterr().err
        assert not (fresh / "CHiME6_dev").exists()  # nothing extracted from an archive that failed its checksum
