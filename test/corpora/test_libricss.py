"""prepare_libricss on a tiny LibriCSS in the native layout: two sessions of each condition.

Where the layout comes from: lhotse's ``recipes/libricss.py`` (``for_release/<cond>/<session
folder>/record/raw_recording.wav``, ``clean/mix.wav``, ``transcription/meeting_info.txt`` read
as a header line then tab-separated ``start end speaker utterance_id text``; the six conditions;
the session folder names, copied here for sessions 0 and 1), the libri_css repository's
``dataprep`` scripts (7-channel recordings, channels selected 0-based) and Kaldi's
``egs/libri_css/s5_mono/local/data_prep_mono.sh`` (session 0 is the dev set). The header's
column names are as other LibriCSS readers quote them. The utterances are made up; the audio is
silence of the real format (16 kHz, 7 channels for the recording, mono for the mixture).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Dict, Sequence

import pytest

from espnet2_tsdia.audio.info import audio_info
from espnet2_tsdia.bin import prepare_corpus
from espnet2_tsdia.corpora import libricss
from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.corpora.libricss import download_libricss, prepare_libricss
from espnet2_tsdia.data.describe import describe_data_dir, markdown_table
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.utils.download import extraction_marker
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

#: (condition, session) -> folder name (as in the release)
FOLDERS: Dict[tuple, str] = {
    ("0L", 0): "overlap_ratio_0.0_sil2.9_3.0_session0_actual0.0",
    ("0S", 0): "overlap_ratio_0.0_sil0.1_0.5_session0_actual0.0",
    ("OV10", 0): "overlap_ratio_10.0_sil0.1_1.0_session0_actual10.1",
    ("OV20", 0): "overlap_ratio_20.0_sil0.1_1.0_session0_actual20.8",
    ("OV30", 0): "overlap_ratio_30.0_sil0.1_1.0_session0_actual29.7",
    ("OV40", 0): "overlap_ratio_40.0_sil0.1_1.0_session0_actual39.5",
    ("0L", 1): "overlap_ratio_0.0_sil2.9_3.0_session1_actual0.0",
    ("0S", 1): "overlap_ratio_0.0_sil0.1_0.5_session1_actual0.0",
    ("OV10", 1): "overlap_ratio_10.0_sil0.1_1.0_session1_actual10.2",
    ("OV20", 1): "overlap_ratio_20.0_sil0.1_1.0_session1_actual20.5",
    ("OV30", 1): "overlap_ratio_30.0_sil0.1_1.0_session1_actual30.4",
    ("OV40", 1): "overlap_ratio_40.0_sil0.1_1.0_session1_actual39.7",
}
#: session -> LibriSpeech readers (1089 reads in both: speaker ids are global)
READERS = {0: ("1089", "121", "237", "260"), 1: ("1089", "1188", "1221", "1284")}
DURATION = 36.0
#: (start, end, reader index): no-overlap conditions, and overlapped ones (3.5 s of overlap)
PLAIN = [(1.0, 5.0, 0), (8.0, 12.5, 1), (15.5, 20.0, 2), (23.0, 27.0, 3), (30.0, 34.0, 0)]
OVERLAPPED = [(1.0, 6.0, 0), (5.0, 10.0, 1), (9.5, 14.0, 2), (13.0, 18.0, 3), (20.0, 25.0, 0), (24.0, 28.0, 1)]
HEADER = "start_time\tend_time\tspeaker\tutterance_id\ttranscription\n"


def meeting_info(cond: str, session: int) -> str:
    lines = [HEADER]
    for n, (a, b, r) in enumerate(PLAIN if cond.startswith("0") else OVERLAPPED):
        spk = READERS[session][r]
        lines.append(f"{a}\t{b}\t{spk}\t{spk}-{session + 1}0000-{n:04d}\tWORDS OF UTTERANCE {n}\n")
    return "".join(lines)


def build_libricss(root: Path, *, sessions: Sequence[int] = (0, 1), duration: float = DURATION) -> Path:
    """``for_release/`` with every condition of ``sessions``: meeting_info.txt, the 7-channel
    recording and the clean mixture (sparse wavs)."""
    for (cond, k), folder in FOLDERS.items():
        if k not in sessions:
            continue
        d = root / "for_release" / cond / folder
        write_text(d / "transcription" / "meeting_info.txt", meeting_info(cond, k))
        write_sparse_wav(d / "record" / "raw_recording.wav", duration, channels=7)
        write_sparse_wav(d / "clean" / "mix.wav", duration)
    return root


ALL_DIRS = [
    "libricss_dev",
    *(f"libricss_dev_{c}" for c in libricss.CONDITIONS),
    "libricss_eval",
    *(f"libricss_eval_{c}" for c in libricss.CONDITIONS),
]


def test_prepare_record_channel_0(tmp_path):
    corpus = build_libricss(tmp_path / "lc")
    reports = prepare_libricss(corpus, tmp_path / "data", sessions=[0, 1])
    assert list(reports) == ALL_DIRS
    dev = data_files(tmp_path / "data" / "libricss_dev")
    rel = corpus / "for_release"
    assert dev["wav.scp"] == [
        f"{c}_session0 sox {rel / c / FOLDERS[(c, 0)]}/record/raw_recording.wav -t wav - remix 1 |"
        for c in ("0L", "0S", "OV10", "OV20", "OV30", "OV40")
    ]
    assert dev["reco2dur"] == [f"{c}_session0 36" for c in libricss.CONDITIONS]
    assert dev["uem"] == [f"{c}_session0 1 0.000 36.000" for c in libricss.CONDITIONS]
    rows = rttm_rows(tmp_path / "data" / "libricss_dev" / "rttm")
    assert len(rows) == 2 * 5 + 4 * 6
    assert ("OV10_session0", "1", "121", 5.0, 10.0) in rows
    # reader 1089 is the same speaker in session 0 and session 1 (global ids)
    eval_ov10 = data_files(tmp_path / "data" / "libricss_eval_OV10")
    assert [ln.split()[0] for ln in eval_ov10["wav.scp"]] == ["OV10_session1"]
    assert [ln.split()[0] for ln in eval_ov10["spk2utt"]] == ["1089", "1188", "1221", "1284"]
    assert all(r.changed == [] and r.dropped == [] for r in reports.values())
    info = audio_info(dev["wav.scp"][0].split(None, 1)[1], run_pipes=True)
    assert (info.samplerate, info.channels, info.frames) == (16000, 1, 576_000)
    for d in reports:
        validate(tmp_path / "data" / d, expected_fs=16000, global_speakers=True)


def test_describe_row_per_condition(tmp_path):
    corpus = build_libricss(tmp_path / "lc", sessions=[0])
    prepare_libricss(corpus, tmp_path / "data", sessions=[0], conditions=["OV10", "0S"])
    rows = [describe_data_dir(tmp_path / "data" / f"libricss_dev_{c}") for c in ("OV10", "0S")]
    # OV10: speech 1-18 and 20-28 = 25 s of 36, overlap 1 + 0.5 + 1 + 1 = 3.5 s, turns 28.5 s / 6
    # 0S: speech 4 + 4.5 + 4.5 + 4 + 4 = 21 s, no overlap, turns 21 s / 5
    assert markdown_table(rows).splitlines()[2:4] == [
        "|libricss_dev_OV10|1|0.01|4|4.00|4|14.0|30.6|4.75|",
        "|libricss_dev_0S|1|0.01|4|4.00|4|0.0|41.7|4.20|",
    ]


def test_label_conversion(tmp_path):
    corpus = build_libricss(tmp_path / "lc", sessions=[1])
    prepare_libricss(corpus, tmp_path / "data", sessions=[1], conditions=["OV40"])
    examples = label_conversion(tmp_path / "data" / "libricss_eval_OV40", tmp_path / "labels")
    assert examples == ["OV40_session1__1089", "OV40_session1__1188", "OV40_session1__1221", "OV40_session1__1284"]


def test_clean_mix_and_other_channel(tmp_path):
    corpus = build_libricss(tmp_path / "lc", sessions=[0])
    reports = prepare_libricss(corpus, tmp_path / "data", audio="mix", sessions=[0], by_condition=False)
    assert list(reports) == ["libricss_mix_dev"]
    wav = data_files(tmp_path / "data" / "libricss_mix_dev")["wav.scp"]
    assert wav[2] == f"OV10_session0 {corpus / 'for_release' / 'OV10' / FOLDERS[('OV10', 0)]}/clean/mix.wav"
    reports = prepare_libricss(corpus, tmp_path / "data", channel=6, sessions=[0], conditions=["0L"])
    assert list(reports) == ["libricss_ch6_dev", "libricss_ch6_dev_0L"]
    assert data_files(tmp_path / "data" / "libricss_ch6_dev")["wav.scp"][0].endswith("remix 7 |")
    with pytest.raises(ValueError, match=r"LibriCSS channel must be 0\.\.6 \(0-based\), got 7"):
        prepare_libricss(corpus, tmp_path / "data", channel=7)


def test_dev_sessions_and_names(tmp_path):
    corpus = build_libricss(tmp_path / "lc")
    reports = prepare_libricss(corpus, tmp_path / "data", sessions=[0, 1], dev_sessions=[], by_condition=False)
    assert list(reports) == ["libricss_eval"]
    assert len(data_files(tmp_path / "data" / "libricss_eval")["wav.scp"]) == 12
    assert libricss.data_dir_names(sessions=[0], conditions=["OV20"]) == ["libricss_dev", "libricss_dev_OV20"]


def test_missing_sessions_and_conditions(tmp_path):
    corpus = build_libricss(tmp_path / "lc")
    with pytest.raises(
        FileNotFoundError,
        match=r"for_release/0L: sessions \[2, 3\] of condition 0L not found \(found \[0, 1\]\)",
    ):
        prepare_libricss(corpus, tmp_path / "data", sessions=[0, 1, 2, 3])
    (corpus / "for_release" / "OV30").rename(tmp_path / "elsewhere")
    with pytest.raises(
        FileNotFoundError,
        match=r"for_release/OV30: LibriCSS condition OV30 not found; extract the complete for_release\.zip",
    ):
        prepare_libricss(corpus, tmp_path / "data", sessions=[0, 1])
    reports = prepare_libricss(corpus / "for_release", tmp_path / "data", sessions=[0], conditions=["OV10"])
    assert list(reports) == ["libricss_dev", "libricss_dev_OV10"]  # the for_release folder itself works too


def test_folders_in_the_wrong_place(tmp_path):
    corpus = build_libricss(tmp_path / "lc", sessions=[0])
    rel = corpus / "for_release"
    (rel / "OV10" / "notes").mkdir()
    reports = prepare_libricss(corpus, tmp_path / "data", sessions=[0], conditions=["OV10", "OV20"])
    assert reports["libricss_dev"].dropped == [f"{rel / 'OV10'}: notes are not session folders; ignored"]
    assert reports["libricss_dev_OV10"].dropped == []
    (rel / "OV20" / FOLDERS[("OV20", 0)]).rename(rel / "OV10" / FOLDERS[("OV20", 0)])
    with pytest.raises(
        DataFormatError,
        match=r"session0_actual20\.8: the folder name says overlap ratio 20\.0 .* but condition OV10 has ratio 10\.0",
    ):
        prepare_libricss(corpus, tmp_path / "data", sessions=[0], conditions=["OV10"])


def test_bad_meeting_info_and_missing_audio(tmp_path):
    corpus = build_libricss(tmp_path / "lc", sessions=[0])
    sess = corpus / "for_release" / "OV20" / FOLDERS[("OV20", 0)]
    info = sess / "transcription" / "meeting_info.txt"
    lines = info.read_text().splitlines(keepends=True)
    info.write_text("".join(lines[:2] + ["7.0\t6.0\t237\t237-10000-0009\tBACKWARDS\n"] + lines[2:]))
    reports = prepare_libricss(corpus, tmp_path / "data", sessions=[0], conditions=["OV20"])
    assert reports["libricss_dev_OV20"].dropped == [
        f"OV20_session0: 1 utterances with end <= start left out ({info}: line 3 (237 7.00-6.00))"
    ]
    info.write_text("".join(lines[:2] + ["7.0\tsix\t237\t237-10000-0009\tBAD\n"]))
    with pytest.raises(
        DataFormatError, match=r"meeting_info\.txt:3: start_time/end_time must be numbers, got '7\.0' 'six'"
    ):
        prepare_libricss(corpus, tmp_path / "data", sessions=[0], conditions=["OV20"])
    info.write_text("".join(lines[1:]))
    with pytest.raises(
        DataFormatError,
        match=r"meeting_info\.txt:1: expected the header line 'start_time end_time speaker utterance_id transcription'",
    ):
        prepare_libricss(corpus, tmp_path / "data", sessions=[0], conditions=["OV20"])
    info.write_text("".join(lines[:2] + ["7.0\t8.0\n"]))
    with pytest.raises(DataFormatError, match=r"meeting_info\.txt:3: expected 5 tab-separated fields"):
        prepare_libricss(corpus, tmp_path / "data", sessions=[0], conditions=["OV20"])
    info.write_text("".join(lines))
    (sess / "record" / "raw_recording.wav").unlink()
    with pytest.raises(
        MissingAudioError,
        match=r"raw_recording\.wav: audio of recording 'OV20_session0' .* does not exist; extract the complete for_release\.zip again",
    ):
        prepare_libricss(corpus, tmp_path / "data", sessions=[0], conditions=["OV20"])


def test_dirs_action_matches_prepare(tmp_path, capsys):
    corpus = build_libricss(tmp_path / "lc")
    opts = ["--sessions", "0 1", "--conditions", "0S OV40", "--audio", "mix"]
    assert prepare_corpus.main(["libricss", "dirs", "--out_dir", str(tmp_path / "data"), *opts]) == 0
    listed = capsys.readouterr().out.split()
    assert (
        prepare_corpus.main(["libricss", "--corpus_dir", str(corpus), "--out_dir", str(tmp_path / "data"), *opts]) == 0
    )
    assert [Path(d).name for d in listed] == [
        "libricss_mix_dev",
        "libricss_mix_dev_0S",
        "libricss_mix_dev_OV40",
        "libricss_mix_eval",
        "libricss_mix_eval_0S",
        "libricss_mix_eval_OV40",
    ]
    assert all(Path(d, "rttm").is_file() for d in listed)


def test_corpus_yaml():
    conf = check_corpus_yaml("libricss", "LIBRICSS")
    assert conf["scoring"]["collar"] == 0.0 and conf["scoring"]["skip_overlap"] is False
    assert conf["splits"]["dev"]["sessions"] == [0] and conf["splits"]["eval"]["recordings"] == 54


def test_data_sh(tmp_path):
    corpus = build_libricss(tmp_path / "lc")
    proc = run_data_sh("libricss", "LIBRICSS", corpus, tmp_path, "--sessions", "0 1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "data" / "libricss_eval_OV40" / "rttm").is_file()
    proc = run_data_sh("libricss", "LIBRICSS", None, tmp_path)
    assert proc.returncode == 1 and "LIBRICSS is not set" in proc.stderr


# --------------------------------------------------------------------------- hand download
def _zip(src: Path, dest: Path, *, skip: str = "") -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(src.rglob("*")):
            rel = p.relative_to(src).as_posix()
            if p.is_file() and not (skip and skip in rel):
                z.write(p, rel)
    return dest


def test_download_checks_the_hand_downloaded_zip(tmp_path, capsys):
    src = build_libricss(tmp_path / "src", duration=2.0)
    corpus = tmp_path / "lc"
    corpus.mkdir()
    with pytest.raises(
        FileNotFoundError,
        match=r"for_release\.zip: the LibriCSS release is not there\. It cannot be downloaded automatically: fetch it from https://drive\.google\.com/file/d/1Piioxd5G_85K9Bhcr8ebdhXx0CnaHy7l",
    ):
        download_libricss(corpus, sessions=[0, 1])
    (corpus / "for_release.zip").write_text("<html>Google Drive can't scan this file for viruses</html>")
    with pytest.raises(ValueError, match=r"for_release\.zip: not a complete zip file"):
        download_libricss(corpus, sessions=[0, 1])
    _zip(src, corpus / "for_release.zip", skip="OV30/overlap_ratio_30.0_sil0.1_1.0_session1")
    with pytest.raises(
        ValueError, match=r"not the complete LibriCSS release: sessions missing per condition OV30: \[1\]"
    ):
        download_libricss(corpus, sessions=[0, 1])
    assert not (corpus / "for_release").exists()
    _zip(src, corpus / "for_release.zip")
    assert download_libricss(corpus, sessions=[0, 1]) == corpus / "for_release"
    wav = corpus / "for_release" / "OV30" / FOLDERS[("OV30", 1)] / "record" / "raw_recording.wav"
    assert wav.is_file()
    # a finished extraction is not redone; one without its marker (interrupted) is
    wav.unlink()
    download_libricss(corpus, sessions=[0, 1])
    assert not wav.exists()
    extraction_marker(corpus / "for_release.zip", corpus).unlink()
    download_libricss(corpus, sessions=[0, 1])
    assert wav.is_file()
    reports = prepare_libricss(corpus, tmp_path / "data", sessions=[0, 1], by_condition=False)
    # 2 s of audio: turns past the end are dropped or clipped, and reported
    assert "0L_session0 1089 [1.000, 5.000]: clipped to the recording end 2.000" in reports["libricss_dev"].changed
    # the zip elsewhere, through the CLI; a missing zip is exit status 1 with the instruction
    other = tmp_path / "lc2"
    assert (
        prepare_corpus.main(
            [
                "libricss",
                "download",
                "--corpus_dir",
                str(other),
                "--zip",
                str(corpus / "for_release.zip"),
                "--sessions",
                "0 1",
            ]
        )
        == 0
    )
    assert (other / "for_release" / "0L").is_dir()
    capsys.readouterr()
    assert prepare_corpus.main(["libricss", "download", "--corpus_dir", str(tmp_path / "none")]) == 2  # bad input
    assert "fetch it from https://drive.google.com" in capsys.readouterr().err
