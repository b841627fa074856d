"""prepare_icsi on a tiny ICSI: MRT transcripts in the native XML format (ICSI has no public
diarization reference), headset-mix wavs and SPHERE channels at 16 kHz."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.corpora.icsi import DEV, TEST, prepare_icsi, read_mrt
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from test.corpora.native import (
    check_corpus_yaml,
    data_files,
    label_conversion,
    mrt,
    run_data_sh,
    validate,
    write_audio,
    write_sparse_wav,
    write_text,
)

BED002 = [
    (0.0, 1.5, None, '<Comment Description="Digits"/>'),  # no Participant: not a turn
    (1.0, 3.0, "me011", "so we should start"),
    (2.0, 3.5, "me011", "yes"),  # overlaps the turn before: merged
    (2.5, 4.0, "fe008", '<VocalSound Description="laugh"/>'),  # vocal sound only
    (3.5, 5.0, "fe008", "um <Uncertain>yeah</Uncertain> <Pause/>"),
    (4.5, 6.5, "me011", "<Emphasis>right</Emphasis>"),
    (5.0, 6.0, "mn015", '<NonVocalSound Description="mike noise"/>'),  # never speech
    (6.0, 6.0, "me011", "oops"),  # empty
    (8.5, 10.5, "me011", "and that's it"),  # past the transcript end 9.5
]


def build_icsi(root: Path, *, sph: bool = False) -> Path:
    meetings = {
        "Bed002": BED002,
        "Bmr003": [(0.5, 2.0, "me013", "okay")],
        "Bmr021": [(1.0, 4.0, "fe016", "dev words")],
        "Bmr013": [(2.0, 3.0, "mn005", "test words")],
    }
    for mtg, segments in meetings.items():
        write_text(root / "transcripts" / f"{mtg}.mrt", mrt(mtg, 9.5, segments))
        write_sparse_wav(root / "ICSIsignals" / "NXT" / f"{mtg}.interaction.wav", 10.0)
        if sph:
            write_audio(root / "ICSIsignals" / "SPH" / mtg / "chanF.sph", 10.0)
    write_text(root / "transcripts" / "preambles.mrt", "<Preambles/>\n")
    return root


def test_mrt_rules():
    assert DEV == ("Bmr021", "Bns001") and TEST == ("Bmr013", "Bmr018", "Bro021")


def test_prepare(tmp_path):
    corpus = build_icsi(tmp_path / "icsi")
    reports = prepare_icsi(corpus, tmp_path / "data")
    assert sorted(reports) == ["icsi_dev", "icsi_test", "icsi_train"]
    train = data_files(tmp_path / "data" / "icsi_train")
    assert [ln.split()[0] for ln in train["wav.scp"]] == ["Bed002", "Bmr003"]  # preambles.mrt is no meeting
    assert [ln for ln in train["rttm"] if " Bed002 " in ln] == [
        "SPEAKER Bed002 1 1.000 2.500 <NA> <NA> me011 <NA> <NA>",
        "SPEAKER Bed002 1 3.500 1.500 <NA> <NA> fe008 <NA> <NA>",
        "SPEAKER Bed002 1 4.500 2.000 <NA> <NA> me011 <NA> <NA>",
        "SPEAKER Bed002 1 8.500 1.000 <NA> <NA> me011 <NA> <NA>",
    ]
    assert train["uem"] == ["Bed002 1 0.000 9.500", "Bmr003 1 0.000 9.500"]
    r = reports["icsi_train"]
    assert r.dropped[:4] == [
        "Bed002 me011 [6.000, 6.000]: empty segment (" + str(corpus / "transcripts" / "Bed002.mrt") + ":34)",
        "Bed002: 1 segments without Participant are not speaker turns",
        "Bed002: 1 segments holding only <VocalSound> skipped (only words count as speech)",
        "Bed002: 1 segments without words or vocal sounds (non-vocal sounds, comments) skipped",
    ]
    assert "Bed002 me011 [8.500, 10.500]: clipped to the transcript span [0.000, 9.500] -> [8.500, 9.500]" in r.changed
    assert "Bed002 me011: merged 2 overlapping turns [1.000, 3.000], [2.000, 3.500] into [1.000, 3.500]" in r.changed
    assert [ln.split()[0] for ln in data_files(tmp_path / "data" / "icsi_dev")["wav.scp"]] == ["Bmr021"]
    assert [ln.split()[0] for ln in data_files(tmp_path / "data" / "icsi_test")["wav.scp"]] == ["Bmr013"]
    for d in reports:
        validate(tmp_path / "data" / d, expected_fs=16000, global_speakers=True)


def test_vocal_sounds_option(tmp_path):
    notes = PrepReport()
    segs = [(1.0, 2.0, "me011", '<VocalSound Description="laugh"/>'), (1.5, 3.0, "me011", "hm")]
    f = write_text(tmp_path / "Bed003.mrt", mrt("Bed003", 5.0, segs))
    _, window, turns = read_mrt(f, vocal_sounds=True, notes=notes)
    assert window == (0.0, 5.0)
    assert [(t.speaker, t.onset, t.end) for t in turns] == [("me011", 1.0, 2.0), ("me011", 1.5, 3.0)]
    assert notes.changed == ["Bed003: 1 segments holding only <VocalSound> kept as turns (vocal_sounds)"]


def test_single_channel_sphere(tmp_path):
    corpus = build_icsi(tmp_path / "icsi", sph=True)
    reports = prepare_icsi(corpus, tmp_path / "data", mic="chanF", splits=["dev"])
    assert list(reports) == ["icsi_chanF_dev"]
    wav = data_files(tmp_path / "data" / "icsi_chanF_dev")["wav.scp"]
    assert wav[0].startswith("Bmr021 ") and wav[0].endswith(f"{corpus / 'ICSIsignals/SPH/Bmr021/chanF.sph'} -t wav - |")
    validate(tmp_path / "data" / "icsi_chanF_dev", expected_fs=16000, global_speakers=True, check_pipes=True)


def test_label_conversion(tmp_path):
    corpus = build_icsi(tmp_path / "icsi")
    prepare_icsi(corpus, tmp_path / "data", splits=["train"])
    examples = label_conversion(tmp_path / "data" / "icsi_train", tmp_path / "labels")
    assert set(examples) <= {"Bed002__me011", "Bed002__fe008", "Bmr003__me013"}


def test_broken_corpus(tmp_path):
    corpus = build_icsi(tmp_path / "icsi")
    (corpus / "ICSIsignals" / "NXT" / "Bmr021.interaction.wav").unlink()
    with pytest.raises(
        MissingAudioError,
        match=r"Bmr021\.interaction\.wav: audio of recording 'Bmr021' \(listed in .*transcripts/Bmr021\.mrt\) does not exist; download it .* or pass --exclude Bmr021",
    ):
        prepare_icsi(corpus, tmp_path / "data", splits=["dev"])
    assert (
        prepare_icsi(corpus, tmp_path / "data", splits=["dev"], exclude=["Bmr021"])["icsi_dev"].dropped[0]
        == "Bmr021: excluded by the caller"
    )
    write_text(corpus / "transcripts" / "Bmr013.mrt", mrt("Bmr014", 9.5, [(1.0, 2.0, "me011", "hi")]))
    with pytest.raises(
        DataFormatError,
        match=r"Bmr013\.mrt:3: <Meeting Session='Bmr014'> names another meeting than the file name 'Bmr013'",
    ):
        prepare_icsi(corpus, tmp_path / "data", splits=["test"])
    write_text(corpus / "transcripts" / "Bmr013.mrt", mrt("Bmr013", 9.5, [(1.0, 2.0, "me011", "hi <b>")]))
    with pytest.raises(DataFormatError, match=r"Bmr013\.mrt:\d+: not well-formed XML"):
        prepare_icsi(corpus, tmp_path / "data", splits=["test"])
    (corpus / "transcripts" / "Bmr013.mrt").unlink()
    write_text(corpus / "transcripts" / "bmr013.mrt", mrt("bmr013", 9.5, [(1.0, 2.0, "me011", "hi")]))
    with pytest.raises(
        ValueError, match=r"bmr013\.mrt: meeting 'bmr013' is 'Bmr013' of the test set spelled with another case"
    ):
        prepare_icsi(corpus, tmp_path / "data", splits=["train"])
    with pytest.raises(ValueError, match="unknown ICSI mic 'sdm'"):
        prepare_icsi(corpus, tmp_path / "data", mic="sdm")


def test_corpus_yaml():
    conf = check_corpus_yaml("icsi", "ICSI")
    assert conf["splits"]["dev"]["meetings"] == ["Bmr021", "Bns001"] and conf["splits"]["test"]["meetings"] == [
        "Bmr013",
        "Bmr018",
        "Bro021",
    ]


def test_data_sh(tmp_path):
    corpus = build_icsi(tmp_path / "icsi")
    proc = run_data_sh("icsi", "ICSI", corpus, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "data" / "icsi_train" / "rttm").is_file()
    proc = run_data_sh("icsi", "ICSI", None, tmp_path)
    assert proc.returncode == 1 and "ICSI is not set" in proc.stderr
