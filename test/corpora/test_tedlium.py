"""prepare_tedlium on tiny TED-LIUM releases in their native layouts.

Where the layout comes from: the release READMEs quoted in lhotse's ``recipes/tedlium.py`` and
``tedlium2.py`` (SPHERE 16 kHz 16-bit mono; release 3 with the ``legacy`` and speaker adaptation
distributions), Kaldi's ``egs/tedlium/s5_r2`` and ``s5_r3`` ``local/prepare_data.sh`` (paths
``TEDLIUM_release2/<split>/{sph,stm}`` and ``TEDLIUM_release-3/legacy/<split>/{sph,stm}``, the
STM fields, ``ignore_time_segment_in_scoring``, dev labels ``<F0_M>``, train lines ending with
``(<utterance name>)``), sclite STM readers (``inter_segment_gap`` as the speaker of excluded
regions) and ``local/download_data.sh`` (1514 / 2351 SPHERE files). Talk names, times and words
are made up; the audio is low-level noise written as NIST SPHERE by libsndfile.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import pytest

from espnet2_tsdia.bin import prepare_corpus
from espnet2_tsdia.corpora import tedlium
from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.corpora.tedlium import Release, download_tedlium, prepare_tedlium, read_stm
from espnet2_tsdia.data.describe import describe_data_dir, markdown_table
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.utils.download import ChecksumError
from test.corpora.fileserver import FileServer
from test.corpora.native import (
    check_corpus_yaml,
    data_files,
    label_conversion,
    read_lines,
    rttm_rows,
    validate,
    write_audio,
    write_text,
)

#: split -> talk -> (audio seconds, STM text)
TALKS = {
    "train": {
        "AaronHuey_2010X": (
            16.0,
            "AaronHuey_2010X 1 AaronHuey_2010X 0.00 6.51 <o,f0,male> i 'm going to talk about the lakota (AaronHuey_2010X-1)\n"
            "AaronHuey_2010X 1 AaronHuey_2010X 6.51 12.25 <o,f0,male> one of the oldest nations (AaronHuey_2010X-2)\n"
            "AaronHuey_2010X 1 AaronHuey_2010X 13.02 15.40 <o,f0,male> thank you (AaronHuey_2010X-3)\n",
        ),
        "AlGore_2009": (
            12.0,
            "AlGore_2009 1 AlGore_2009 0.50 4.00 <o,f0,male> last year i showed these two slides (AlGore_2009-1)\n"
            "AlGore_2009 1 AlGore_2009 4.00 9.75 <o,f0,male> the arctic ice cap (AlGore_2009-2)\n",
        ),
    },
    "dev": {
        "AimeeMullins_2009P": (
            10.0,
            "AimeeMullins_2009P 1 AimeeMullins_2009P 0.80 5.10 <o,f0,female> i 'd like to share <sil> a conversation\n"
            "AimeeMullins_2009P 1 AimeeMullins_2009P 5.10 9.00 <o,f0,female> with you\n",
        ),
    },
    "test": {
        "BillGates_2010": (
            20.0,
            ";; a comment line, as sclite STMs may have\n"
            "BillGates_2010 1 BillGates_2010 1.25 7.80 <o,f0,male> i 'm going to talk today about energy\n"
            "BillGates_2010 1 inter_segment_gap 7.80 9.10 <o,,unknown> ignore_time_segment_in_scoring\n"
            "BillGates_2010 1 BillGates_2010 9.10 15.33 <o,f0,male> and climate\n",
        ),
    },
}


def build_tedlium3(root: Path, *, distribution: str = "legacy") -> Path:
    base = root / "TEDLIUM_release-3"
    for split, talks in TALKS.items():
        for talk, (dur, stm) in talks.items():
            write_audio(base / distribution / split / "sph" / f"{talk}.sph", dur, seed=len(talk))
            write_text(base / distribution / split / "stm" / f"{talk}.stm", stm)
    return root


def test_prepare_release3(tmp_path):
    corpus = build_tedlium3(tmp_path / "ted")
    reports = prepare_tedlium(corpus, tmp_path / "data")
    assert sorted(reports) == ["tedlium3_dev", "tedlium3_test", "tedlium3_train"]
    train = data_files(tmp_path / "data" / "tedlium3_train")
    sph = corpus / "TEDLIUM_release-3" / "legacy" / "train" / "sph"
    assert train["wav.scp"] == [
        f"AaronHuey_2010X {sph / 'AaronHuey_2010X.sph'}",
        f"AlGore_2009 {sph / 'AlGore_2009.sph'}",
    ]
    assert train["reco2dur"] == ["AaronHuey_2010X 16", "AlGore_2009 12"]
    assert train["uem"] == ["AaronHuey_2010X 1 0.000 16.000", "AlGore_2009 1 0.000 12.000"]
    # one segment per STM utterance: touching utterances stay apart; the speaker is the talk
    assert rttm_rows(tmp_path / "data" / "tedlium3_train" / "rttm") == [
        ("AaronHuey_2010X", "1", "AaronHuey_2010X", 0.0, 6.51),
        ("AaronHuey_2010X", "1", "AaronHuey_2010X", 6.51, 12.25),
        ("AaronHuey_2010X", "1", "AaronHuey_2010X", 13.02, 15.4),
        ("AlGore_2009", "1", "AlGore_2009", 0.5, 4.0),
        ("AlGore_2009", "1", "AlGore_2009", 4.0, 9.75),
    ]
    assert train["spk2utt"][0].split()[0] == "AaronHuey_2010X" and len(train["segments"]) == 5
    assert reports["tedlium3_train"].changed == [] and reports["tedlium3_train"].dropped == []
    # the excluded region of the test talk is left out, and said so
    assert reports["tedlium3_test"].dropped == [
        "BillGates_2010 [7.800, 9.100]: STM line 3 is an excluded region (speaker inter_segment_gap, "
        "words 'ignore_time_segment_in_scoring'), not speech of the talk's speaker"
    ]
    assert [r[3:] for r in rttm_rows(tmp_path / "data" / "tedlium3_test" / "rttm")] == [(1.25, 7.8), (9.1, 15.33)]
    report_text = (tmp_path / "data" / "tedlium3_test" / "prep_report.txt").read_text()
    assert report_text.splitlines()[:2] == ["changed 0, dropped 1", f"DROPPED {reports['tedlium3_test'].dropped[0]}"]
    for d in reports:
        validate(tmp_path / "data" / d, expected_fs=16000)


def test_describe_row(tmp_path):
    prepare_tedlium(build_tedlium3(tmp_path / "ted"), tmp_path / "data", splits=["test"])
    row = markdown_table([describe_data_dir(tmp_path / "data" / "tedlium3_test")]).splitlines()[2]
    # 20 s, speech 6.55 + 6.23 = 12.78 s (silence 36.1 %), one speaker, two turns of 6.39 s on average
    assert row == "|tedlium3_test|1|0.01|1|1.00|1|0.0|36.1|6.39|"


def test_label_conversion(tmp_path):
    prepare_tedlium(build_tedlium3(tmp_path / "ted"), tmp_path / "data", splits=["dev"])
    assert label_conversion(tmp_path / "data" / "tedlium3_dev", tmp_path / "labels") == [
        "AimeeMullins_2009P__AimeeMullins_2009P"
    ]


def test_speaker_adaptation_and_release2(tmp_path):
    corpus = build_tedlium3(tmp_path / "ted", distribution="speaker-adaptation")
    reports = prepare_tedlium(corpus, tmp_path / "data", distribution="speaker-adaptation", splits=["dev"])
    assert sorted(reports) == ["tedlium3_sa_dev"]
    # release 2: <split>/{sph,stm} directly under TEDLIUM_release2 (dev labels <F0_M>); the
    # release folder itself may be given as the root; a line naming another speaker is reported
    r2 = tmp_path / "r2" / "TEDLIUM_release2"
    write_audio(r2 / "dev" / "sph" / "JamesCameron_2010.sph", 8.0)
    write_text(
        r2 / "dev" / "stm" / "JamesCameron_2010.stm",
        "JamesCameron_2010 1 JamesCameron_2010 0.50 3.00 <F0_M> i grew up on a steady diet\n"
        "JamesCameron_2010 1 Host 3.20 4.00 <F0_F> thank you\n",
    )
    for root in (r2.parent, r2):
        reports = prepare_tedlium(root, tmp_path / "data2", release="2", splits=["dev"])
        assert reports["tedlium2_dev"].changed == [
            "JamesCameron_2010: 1 STM lines name speaker 'Host'; labelled as the talk's speaker JamesCameron_2010"
        ]
    assert [r[2:] for r in rttm_rows(tmp_path / "data2" / "tedlium2_dev" / "rttm")] == [
        ("JamesCameron_2010", 0.5, 3.0),
        ("JamesCameron_2010", 3.2, 4.0),
    ]


def test_bad_corpus(tmp_path):
    corpus = build_tedlium3(tmp_path / "ted")
    dev = corpus / "TEDLIUM_release-3" / "legacy" / "dev"
    (dev / "sph" / "AimeeMullins_2009P.sph").unlink()
    with pytest.raises(
        MissingAudioError,
        match=r"AimeeMullins_2009P\.sph: audio of recording 'AimeeMullins_2009P' \(listed in .*AimeeMullins_2009P\.stm\) "
        r"does not exist; re-extract the release archive or pass --exclude AimeeMullins_2009P",
    ):
        prepare_tedlium(corpus, tmp_path / "data", splits=["dev"])
    write_audio(dev / "sph" / "Extra_2011.sph", 3.0)
    write_text(dev / "stm" / "Extra_2011.stm", "Extra_2011 1 Extra_2011 0.5 2.5 <o,f0,male> extra\n")
    reports = prepare_tedlium(corpus, tmp_path / "data", splits=["dev"], exclude=["AimeeMullins_2009P"])
    assert reports["tedlium3_dev"].dropped == ["AimeeMullins_2009P: excluded by the caller"]
    with pytest.raises(ValueError, match=r"legacy/dev: every talk of the dev split is excluded"):
        prepare_tedlium(corpus, tmp_path / "data", splits=["dev"], exclude=["AimeeMullins_2009P", "Extra_2011"])
    stm = corpus / "TEDLIUM_release-3" / "legacy" / "test" / "stm" / "BillGates_2010.stm"
    stm.write_text(stm.read_text() + "AlGore_2009 1 AlGore_2009 16.0 17.0 <o,f0,male> hello\n")
    with pytest.raises(DataFormatError, match=r"BillGates_2010\.stm:5: names talk 'AlGore_2009'"):
        prepare_tedlium(corpus, tmp_path / "data", splits=["test"])
    stm.write_text("BillGates_2010 1 BillGates_2010 1.0 two <o,f0,male> hello\n")
    with pytest.raises(DataFormatError, match=r"BillGates_2010\.stm:1: start and end must be numbers"):
        read_stm(stm)
    with pytest.raises(FileNotFoundError, match=r"legacy/train/stm: TED-LIUM 3 train transcripts missing"):
        prepare_tedlium(tmp_path / "empty", tmp_path / "data", splits=["train"])
    with pytest.raises(ValueError, match="unknown TED-LIUM release '4'"):
        prepare_tedlium(corpus, tmp_path / "data", release="4")


def test_simulation_source(tmp_path):
    """A TED-LIUM dir is a simulation source dir: its segments are the source utterances."""
    from espnet2_tsdia.bin import simulate

    prepare_tedlium(build_tedlium3(tmp_path / "ted"), tmp_path / "data", splits=["train"])
    conf = write_text(
        tmp_path / "sim.yaml",
        "fs: 8000\nname: ted_ns2\nnum_conversations: 1\nspeaker_counts: {2: 1}\nmin_utts: 2\nmax_utts: 2\nseed: 3\n"
        "turn_model: {type: histogram, pause_same: {edges: [0, 0.5], counts: [1]}, "
        "pause_diff: {edges: [0, 0.5, 1.0], counts: [2, 1]}, overlap: {edges: [0, 0.5], counts: [1]}}\n",
    )
    out = tmp_path / "data" / "ted_ns2"
    assert (
        simulate.main(["--source_dir", str(tmp_path / "data" / "tedlium3_train"), "--out_dir", str(out), str(conf)])
        == 0
    )
    speakers = {r[2] for r in rttm_rows(out / "rttm")}
    assert speakers == {"AaronHuey_2010X", "AlGore_2009"}


def _release_tgz(src: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        t.add(src / "TEDLIUM_release-3", arcname="TEDLIUM_release-3")
    return buf.getvalue()


def test_download_from_local_server(tmp_path, monkeypatch, capsys):
    """The archive from a local server at OpenSLR's URL path: SHA-256 checked once, md5 recorded
    in checksums.md5 (no OpenSLR list served), extracted, SPHERE files counted; a rerun fetches
    nothing."""
    src = build_tedlium3(tmp_path / "src")
    shutil.copytree(src / "TEDLIUM_release-3" / "legacy" / "train", src / "TEDLIUM_release-3" / "data")
    data = _release_tgz(src)
    real = tedlium.DOWNLOADS["3"].url
    good = hashlib.sha256(data).hexdigest()
    with FileServer() as server:
        url = server.put(real, data)
        monkeypatch.setitem(tedlium.DOWNLOADS, "3", Release(url, good, "TEDLIUM_release-3", 2, "data"))
        corpus = tmp_path / "ted"
        assert download_tedlium(corpus) == corpus / "TEDLIUM_release-3"
        assert sorted(prepare_tedlium(corpus, tmp_path / "data", splits=["dev"])) == ["tedlium3_dev"]
        recorded = read_lines(corpus / "checksums.md5")[-1]
        assert recorded == f"{hashlib.md5(data).hexdigest()}  downloads/TEDLIUM_release-3.tgz"
        before = len(server.fetched(real))
        download_tedlium(corpus)  # complete: nothing fetched again
        assert len(server.fetched(real)) == before
        # a wrong SHA-256 stops before anything is extracted
        monkeypatch.setitem(tedlium.DOWNLOADS, "3", Release(url, "0" * 64, "TEDLIUM_release-3", 2, "data"))
        fresh = tmp_path / "fresh"
        with pytest.raises(
            ChecksumError,
            match=r"TEDLIUM_release-3\.tgz: sha256 [0-9a-f]{64}, expected 0{64} \(recorded by torchaudio's TEDLIUM dataset",
        ):
            download_tedlium(fresh)
        assert not (fresh / "TEDLIUM_release-3").exists()
        assert prepare_corpus.main(["tedlium", "download", "--corpus_dir", str(fresh)]) == 1
        assert "sha256" in capsys.readouterr().err
        # an archive that lacks talks: the count check says so
        monkeypatch.setitem(tedlium.DOWNLOADS, "3", Release(url, good, "TEDLIUM_release-3", 2351, "data"))
        with pytest.raises(RuntimeError, match=r"data: 2 SPHERE files, a complete TED-LIUM 3 has 2351"):
            download_tedlium(tmp_path / "third")
    assert tedlium.DOWNLOADS["2"].sha256.startswith("93281b5f")


def test_corpus_yaml():
    conf = check_corpus_yaml("tedlium", "TEDLIUM")
    assert conf["role"].startswith("single-speaker source")
