"""prepare_libriheavymix on tiny LibriheavyMix parts in the hub layout, manifests written by lhotse.

Where the layout comes from: the file listings of the hub repos zrjin/LibriheavyMix-{dev,test,
small,medium} (``lsheavymix_cuts_<set>[_variant].jsonl.gz`` at the top and in ``<part>-lhotse/``
and ``<part>-mtt-lhotse/``; per set a folder with ``audio.tar.gz``, ``audio_anechoic.tar.gz``,
``src.tar.gz`` and Kaldi lists), and two public readers of the release: one reads each cut as a
``MixedCut`` whose tracks (one per speaker, a track itself a ``MixedCut`` of that speaker's
utterances in the turn-taking sets) carry an ``offset`` and the rendered mixture as
``audio/<part>_mtt/<cut id>.flac``; the other reads ``MonoCut``s whose recording names the
mixture file. Both shapes are built here with lhotse itself; speaker ids are LibriVox reader ids;
the mixture audio is low-level noise of the cut's length. Unverified (no release file could be
read here): the folder names inside ``audio.tar.gz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import pytest

from espnet2_tsdia.bin import prepare_corpus
from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.corpora.libriheavymix import check_libriheavymix, prepare_libriheavymix
from espnet2_tsdia.data.describe import describe_data_dir, markdown_table
from espnet2_tsdia.formats.errors import DataFormatError
from test.corpora.native import check_corpus_yaml, data_files, rttm_rows, validate, write_audio

lhotse = pytest.importorskip("lhotse")
from lhotse import CutSet, MonoCut, Recording, SupervisionSegment  # noqa: E402
from lhotse.audio import AudioSource  # noqa: E402
from lhotse.cut import MixedCut, MixTrack  # noqa: E402


def source(cid: str, spk: str, dur: float, start: float = 0.0) -> MonoCut:
    """A Libriheavy utterance as lhotse stores it (the recording path is the authors' machine's)."""
    rec = Recording(
        id=cid,
        sources=[AudioSource(type="file", channels=[0], source=f"/export/libriheavy/{cid}.flac")],
        sampling_rate=16000,
        num_samples=int((start + dur) * 16000),
        duration=start + dur,
    )
    sup = SupervisionSegment(id=cid, recording_id=cid, start=0.0, duration=dur, speaker=spk, text="SOME WORDS")
    return MonoCut(id=cid, start=start, duration=dur, channel=0, recording=rec, supervisions=[sup])


def mixture(cid: str, tracks: List[Tuple[object, float]]) -> MixedCut:
    return MixedCut(id=cid, tracks=[MixTrack(cut=c, offset=o) for c, o in tracks])


def turn_taking(cid: str, utts: List[Tuple[MonoCut, float]]) -> MixedCut:
    """One speaker's track of a turn-taking mixture: their utterances at their offsets."""
    return mixture(cid, utts)


#: dev_2spk: mixture 1 = reader 103 (two utterances, a turn-taking track) + reader 1034 from 3.0 s;
#: mixture 2 = two single utterances overlapping by 1 s
DEV = [
    mixture(
        "lsheavymix_dev_2spk_000001",
        [
            (turn_taking("trk_103", [(source("103_a", "103", 2.0), 0.0), (source("103_b", "103", 1.5), 5.5)]), 0.0),
            (source("1034_a", "1034", 2.5), 3.0),
        ],
    ),
    mixture(
        "lsheavymix_dev_2spk_000002",
        [(source("1040_a", "1040", 3.0), 0.0), (source("1069_a", "1069", 2.0), 2.0)],
    ),
]


def mono_mix(cid: str, dur: float, sups: List[Tuple[str, float, float]]) -> MonoCut:
    """A mixture as a MonoCut: its recording is the rendered file, supervisions in its time."""
    rec = Recording(
        id=cid,
        sources=[AudioSource(type="file", channels=[0], source=f"/export/lsheavymix/test-clean_2spk/{cid}.flac")],
        sampling_rate=16000,
        num_samples=int(dur * 16000),
        duration=dur,
    )
    segs = [
        SupervisionSegment(id=f"{cid}-{i}", recording_id=cid, start=s, duration=e - s, speaker=spk)
        for i, (spk, s, e) in enumerate(sups)
    ]
    return MonoCut(id=f"{cid}-cut", start=0.0, duration=dur, channel=0, recording=rec, supervisions=segs)


TEST = [mono_mix("lsheavymix_test-clean_2spk_000007", 6.0, [("1089", 0.0, 3.5), ("1188", 2.5, 6.0)])]


#: the 100-hour training part: turn-taking mixtures, audio under audio/small_mtt/ (no set folder)
SMALL = [
    mixture(
        f"lsheavymix_small_{i:06d}",
        [(source(f"{a}_s{i}", a, 2.0 + i), 0.0), (source(f"{b}_s{i}", b, 2.5), 1.5 + i)],
    )
    for i, (a, b) in enumerate([("1088", "1089"), ("1116", "1121"), ("1088", "1121")])
]


def build_libriheavymix(root: Path, *, anechoic: bool = False, small: bool = False) -> Path:
    if small:
        part = root / "LibriheavyMix-small"
        (part / "small-mtt-lhotse").mkdir(parents=True)
        CutSet.from_cuts(SMALL).to_file(part / "small-mtt-lhotse" / "lsheavymix_cuts_small.jsonl.gz")
        for i, c in enumerate(SMALL):
            write_audio(part / "audio" / "small_mtt" / f"{c.id}.flac", c.duration, seed=10 + i)
    dev = root / "LibriheavyMix-dev"
    dev.mkdir(parents=True)
    CutSet.from_cuts(DEV).to_file(dev / "lsheavymix_cuts_dev_2spk.jsonl.gz")
    for i, c in enumerate(DEV):
        write_audio(dev / "dev_2spk" / "audio" / "dev_2spk" / f"{c.id}.flac", c.duration, seed=i)
        if anechoic:
            write_audio(dev / "dev_2spk" / "audio_anechoic" / "dev_2spk" / f"{c.id}.flac", c.duration, seed=i)
    test = root / "LibriheavyMix-test"
    (test / "test-lhotse").mkdir(parents=True)
    CutSet.from_cuts(TEST).to_file(test / "test-lhotse" / "lsheavymix_cuts_test-clean_2spk.jsonl.gz")
    write_audio(test / "test-clean_2spk" / "audio" / "lsheavymix_test-clean_2spk_000007.flac", 6.0)
    return root


def test_prepare_mixed_and_mono_cuts(tmp_path):
    corpus = build_libriheavymix(tmp_path / "lhm")
    reports = prepare_libriheavymix(corpus, tmp_path / "data", sets=["dev_2spk", "test-clean_2spk"])
    assert sorted(reports) == ["libriheavymix_dev_2spk", "libriheavymix_test_clean_2spk"]
    dev = data_files(tmp_path / "data" / "libriheavymix_dev_2spk")
    assert dev["reco2dur"] == ["lsheavymix_dev_2spk_000001 7", "lsheavymix_dev_2spk_000002 4"]
    # track offsets applied, also inside the turn-taking track; reader ids kept (global)
    assert rttm_rows(tmp_path / "data" / "libriheavymix_dev_2spk" / "rttm") == [
        ("lsheavymix_dev_2spk_000001", "1", "103", 0.0, 2.0),
        ("lsheavymix_dev_2spk_000001", "1", "1034", 3.0, 5.5),
        ("lsheavymix_dev_2spk_000001", "1", "103", 5.5, 7.0),
        ("lsheavymix_dev_2spk_000002", "1", "1040", 0.0, 3.0),
        ("lsheavymix_dev_2spk_000002", "1", "1069", 2.0, 4.0),
    ]
    assert dev["uem"] == ["lsheavymix_dev_2spk_000001 1 0.000 7.000", "lsheavymix_dev_2spk_000002 1 0.000 4.000"]
    # a MonoCut names its mixture through its recording
    test = data_files(tmp_path / "data" / "libriheavymix_test_clean_2spk")
    wav = (
        corpus.absolute()
        / "LibriheavyMix-test"
        / "test-clean_2spk"
        / "audio"
        / "lsheavymix_test-clean_2spk_000007.flac"
    )
    assert test["wav.scp"] == [f"lsheavymix_test-clean_2spk_000007-cut {wav}"]
    assert [r[2:] for r in rttm_rows(tmp_path / "data" / "libriheavymix_test_clean_2spk" / "rttm")] == [
        ("1089", 0.0, 3.5),
        ("1188", 2.5, 6.0),
    ]
    for name, r in reports.items():
        assert (r.changed, r.dropped) == ([], [])
        validate(tmp_path / "data" / name, expected_fs=16000, global_speakers=True)


def test_training_part(tmp_path):
    corpus = build_libriheavymix(tmp_path / "lhm", small=True)
    reports = prepare_libriheavymix(corpus, tmp_path / "data", sets=["small"])
    d = tmp_path / "data" / "libriheavymix_small"
    assert data_files(d)["reco2dur"] == [
        "lsheavymix_small_000000 4",
        "lsheavymix_small_000001 5",
        "lsheavymix_small_000002 6",
    ]
    assert rttm_rows(d / "rttm")[-2:] == [
        ("lsheavymix_small_000002", "1", "1088", 0.0, 4.0),
        ("lsheavymix_small_000002", "1", "1121", 3.5, 6.0),
    ]
    assert reports["libriheavymix_small"].dropped == []
    validate(d, expected_fs=16000, global_speakers=True)


def test_describe_row(tmp_path):
    prepare_libriheavymix(build_libriheavymix(tmp_path / "lhm"), tmp_path / "data", sets=["dev_2spk"])
    row = markdown_table([describe_data_dir(tmp_path / "data" / "libriheavymix_dev_2spk")]).splitlines()[2]
    # 11 s; speech 0-2 and 3-7 s of mixture 1, 0-4 s of mixture 2 = 10 s, silence 1 s (9.1 %);
    # overlap 2-3 s of mixture 2: 1 s of 10 s speech = 10.0 %; turns 2 + 2.5 + 1.5 + 3 + 2 = 11 s / 5
    assert row == "|libriheavymix_dev_2spk|2|0.00|2|2.00|2|10.0|9.1|2.20|"


def test_condition_and_bad_copies(tmp_path):
    corpus = build_libriheavymix(tmp_path / "lhm", anechoic=True)
    prepare_libriheavymix(corpus, tmp_path / "data", sets=["dev_2spk"], condition="anechoic")
    assert "/audio_anechoic/" in (tmp_path / "data" / "libriheavymix_dev_2spk" / "wav.scp").read_text()
    audio = corpus / "LibriheavyMix-dev" / "dev_2spk" / "audio" / "dev_2spk"
    (audio / "lsheavymix_dev_2spk_000002.flac").rename(tmp_path / "moved.flac")
    with pytest.raises(MissingAudioError, match=r"no mixture lsheavymix_dev_2spk_000002\.flac/\.wav for cut"):
        prepare_libriheavymix(corpus, tmp_path / "data", sets=["dev_2spk"])
    reports = prepare_libriheavymix(corpus, tmp_path / "data", sets=["dev_2spk"], missing_ok=True)
    assert len(reports["libriheavymix_dev_2spk"].dropped) == 1
    assert reports["libriheavymix_dev_2spk"].dropped[0].startswith("lsheavymix_dev_2spk_000002: ")
    write_audio(audio / "sub" / "lsheavymix_dev_2spk_000001.wav", 7.0)
    with pytest.raises(DataFormatError, match=r"mixture 'lsheavymix_dev_2spk_000001' exists twice"):
        prepare_libriheavymix(corpus, tmp_path / "data", sets=["dev_2spk"])
    with pytest.raises(
        FileNotFoundError, match=r"lsheavymix_cuts_dev_3spk\.jsonl\.gz: LibriheavyMix manifest not found"
    ):
        prepare_libriheavymix(corpus, tmp_path / "data", sets=["dev_3spk"])
    with pytest.raises(ValueError, match="unknown LibriheavyMix set 'dev_9spk'"):
        prepare_libriheavymix(corpus, tmp_path / "data", sets=["dev_9spk"])


def test_supervision_without_speaker(tmp_path):
    corpus = build_libriheavymix(tmp_path / "lhm")
    bad = [mono_mix("lsheavymix_test-clean_2spk_000007", 6.0, [("", 0.0, 3.5)])]
    CutSet.from_cuts(bad).to_file(
        corpus / "LibriheavyMix-test" / "test-lhotse" / "lsheavymix_cuts_test-clean_2spk.jsonl.gz"
    )
    with pytest.raises(
        DataFormatError, match=r"cut 'lsheavymix_test-clean_2spk_000007-cut': supervision .* has no speaker"
    ):
        prepare_libriheavymix(corpus, tmp_path / "data", sets=["test-clean_2spk"])


def test_check_local_copy(tmp_path):
    corpus = build_libriheavymix(tmp_path / "lhm")
    check_libriheavymix(corpus, sets=["dev_2spk", "test-clean_2spk"])
    args = ["libriheavymix", "download", "--corpus_dir", str(corpus), "--sets", "dev_2spk"]
    assert prepare_corpus.main(args) == 0
    with pytest.raises(FileNotFoundError, match=r"test-other_3spk \(lsheavymix_cuts_test-other_3spk\.jsonl\.gz\)\. Fetch .*"
                       r"hf download zrjin/LibriheavyMix-test --repo-type dataset --local-dir .*LibriheavyMix-test"):  # fmt: skip
        check_libriheavymix(corpus, sets=["test-other_3spk"])


def test_corpus_yaml():
    conf = check_corpus_yaml("libriheavymix", "LIBRIHEAVYMIX")
    assert conf["scoring"]["collar"] == 0.0
