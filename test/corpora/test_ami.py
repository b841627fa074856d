"""prepare_ami on a tiny AMI in the native layout: real BUT lists/RTTMs/UEMs, sparse 16 kHz audio."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from espnet2_tsdia.corpora.ami import prepare_ami
from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import read_list
from test.corpora.native import (
    check_corpus_yaml,
    data_files,
    label_conversion,
    read_lines,
    real_annotations,
    rttm_rows,
    run_data_sh,
    validate,
    write_sparse_wav,
    write_text,
)

#: meeting -> (split, UEM end = audio length)
MEETINGS = {"TS3007c": ("train", 2420.0), "ES2011a": ("dev", 1113.845375), "EN2002a": ("test", 2142.709375)}


def build_ami(root: Path, *, stream: str = "Mix-Headset", extra: dict = None) -> Path:
    """BUT setup with the real RTTM/UEM of one meeting per split, and sparse audio for it."""
    fx = real_annotations("ami")
    setup = root / "AMI-diarization-setup"
    lists = {"train": [], "dev": [], "test": []}
    for mtg, (split, dur) in MEETINGS.items():
        lists[split].append(mtg)
        (setup / "only_words" / "rttms" / split).mkdir(parents=True, exist_ok=True)
        (setup / "uems" / split).mkdir(parents=True, exist_ok=True)
        shutil.copy(fx / f"{mtg}.rttm", setup / "only_words" / "rttms" / split / f"{mtg}.rttm")
        shutil.copy(fx / f"{mtg}.uem", setup / "uems" / split / f"{mtg}.uem")
        write_sparse_wav(root / "amicorpus" / mtg / "audio" / f"{mtg}.{stream}.wav", dur)
    for split, mtgs in lists.items():
        write_text(setup / "lists" / f"{split}.meetings.txt", "".join(m + "\n" for m in mtgs))
    return root


def test_real_lists_are_the_full_corpus_asr_partition():
    fx = real_annotations("ami")
    lists = {s: read_list(fx / f"{s}.meetings.txt") for s in ("train", "dev", "test")}
    assert [len(lists[s]) for s in ("train", "dev", "test")] == [136, 18, 16]
    assert not (set(lists["train"]) & set(lists["dev"])) and not (set(lists["dev"]) & set(lists["test"]))
    assert {"IS1003b", "IS1007d", "TS3007c"} <= set(lists["train"]) and "IB4005" not in set().union(*lists.values())


def test_prepare_mix_headset(tmp_path):
    corpus = build_ami(tmp_path / "ami")
    reports = prepare_ami(corpus, tmp_path / "data")
    assert sorted(reports) == ["ami_dev", "ami_test", "ami_train"]

    train = tmp_path / "data" / "ami_train"
    files = data_files(train)
    assert files["wav.scp"] == [f"TS3007c {corpus / 'amicorpus/TS3007c/audio/TS3007c.Mix-Headset.wav'}"]
    assert files["reco2dur"] == ["TS3007c 2420"]
    assert files["uem"] == ["TS3007c 1 0.000 2420.000"]
    # TS3007c: one turn crosses the UEM end (clipped), three start after it (dropped).
    r = reports["ami_train"]
    assert [c for c in r.changed if "UEM" in c] == [
        "TS3007c MTD026UID [2415.450, 2422.560]: clipped to the UEM [0.000, 2420.000] -> [2415.450, 2420.000]"
    ]
    assert sorted(d.split(":")[0] for d in r.dropped) == [
        "TS3007c MTD026UID [2427.100, 2428.100]",
        "TS3007c MTD026UID [2429.520, 2429.860]",
        "TS3007c MTD027ID [2428.310, 2430.160]",
    ]
    rows = rttm_rows(train / "rttm")
    assert len(rows) == 564 - 3 and max(end for *_, end in rows) == 2420.0
    # global speaker ids (role suffixes included) are kept as they are
    assert sorted({spk for _, _, spk, _, _ in rows}) == ["MTD025PM", "MTD026UID", "MTD027ID", "MTD028ME"]
    assert [ln.split()[0] for ln in files["spk2utt"]] == ["MTD025PM", "MTD026UID", "MTD027ID", "MTD028ME"]
    assert "DROPPED TS3007c MTD026UID [2427.100, 2428.100]" in (train / "prep_report.txt").read_text()
    # dev/test: nothing changed, every reference line kept
    assert len(read_lines(tmp_path / "data" / "ami_dev" / "rttm")) == 215
    assert len(read_lines(tmp_path / "data" / "ami_test" / "rttm")) == 746
    assert reports["ami_dev"].changed == [] and reports["ami_dev"].dropped == []
    for d in ("ami_train", "ami_dev", "ami_test"):
        validate(tmp_path / "data" / d, expected_fs=16000, global_speakers=True)


def test_label_conversion(tmp_path):
    corpus = build_ami(tmp_path / "ami")
    prepare_ami(corpus, tmp_path / "data", splits=["dev"])
    examples = label_conversion(tmp_path / "data" / "ami_dev", tmp_path / "labels")
    assert examples == ["ES2011a__FEE041", "ES2011a__FEE042", "ES2011a__FEE043", "ES2011a__FEE044"]


def test_sdm_known_missing_meetings_are_left_out(tmp_path):
    corpus = build_ami(tmp_path / "ami", stream="Array1-01")
    setup = corpus / "AMI-diarization-setup"
    # IS1003b is listed for train but has no Array1-01 file anywhere (HTTP 404 on the mirror)
    write_text(setup / "lists" / "train.meetings.txt", "IS1003b\nTS3007c\n")
    shutil.copy(setup / "only_words/rttms/train/TS3007c.rttm", setup / "only_words/rttms/train/IS1003b.rttm")
    reports = prepare_ami(corpus, tmp_path / "data", stream="Array1-01", splits=["train"])
    assert list(reports) == ["ami_sdm_train"]
    assert reports["ami_sdm_train"].dropped[0].startswith("IS1003b: no Array1-01 audio exists for this meeting")
    assert [ln.split()[0] for ln in read_lines(tmp_path / "data" / "ami_sdm_train" / "wav.scp")] == ["TS3007c"]


def test_missing_audio_stops_with_the_file_and_what_to_do(tmp_path):
    corpus = build_ami(tmp_path / "ami")
    (corpus / "amicorpus/ES2011a/audio/ES2011a.Mix-Headset.wav").unlink()
    with pytest.raises(
        MissingAudioError,
        match=r"ES2011a\.Mix-Headset\.wav: audio of meeting 'ES2011a' \(listed in .*dev\.meetings\.txt\) does not exist; download it",
    ):
        prepare_ami(corpus, tmp_path / "data", splits=["dev"])
    reports = prepare_ami(corpus, tmp_path / "data", splits=["dev", "test"], missing_ok=True)
    assert "ami_dev" in reports and "ES2011a: audio" in reports["ami_dev"].dropped[0]


def test_rttm_naming_another_meeting_is_an_error(tmp_path):
    corpus = build_ami(tmp_path / "ami")
    rttm = corpus / "AMI-diarization-setup/only_words/rttms/dev/ES2011a.rttm"
    lines = rttm.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace("ES2011a", "ES2011b")
    rttm.write_text("".join(lines))
    with pytest.raises(DataFormatError, match=r"ES2011a\.rttm:4: names recording 'ES2011b'"):
        prepare_ami(corpus, tmp_path / "data", splits=["dev"])


def test_rttm_of_an_unlisted_meeting_is_an_error(tmp_path):
    corpus = build_ami(tmp_path / "ami")
    setup = corpus / "AMI-diarization-setup"
    shutil.copy(setup / "only_words/rttms/dev/ES2011a.rttm", setup / "only_words/rttms/dev/ES2011b.rttm")
    with pytest.raises(
        DataFormatError, match=r"ES2011b\.rttm: describes meeting 'ES2011b', which is not in .*dev\.meetings\.txt"
    ):
        prepare_ami(corpus, tmp_path / "data", splits=["dev"])


def test_bad_options():
    with pytest.raises(ValueError, match="unknown AMI stream 'Array2-01'; expected one of Mix-Headset, Array1-01"):
        prepare_ami("x", "y", stream="Array2-01")
    with pytest.raises(ValueError, match="unknown split 'eval'"):
        prepare_ami("x", "y", splits=["eval"])


def test_data_sh(tmp_path):
    corpus = build_ami(tmp_path / "ami")
    proc = run_data_sh("ami", "AMI", corpus, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "data" / "ami_test" / "rttm").is_file()
    assert "ami_test" in proc.stderr  # the validate stage names every dir it checked
    proc = run_data_sh("ami", "AMI", None, tmp_path)
    assert proc.returncode != 0 and "AMI is not set" in proc.stderr


def test_corpus_yaml():
    conf = check_corpus_yaml("ami", "AMI")
    assert conf["scoring"]["collar"] == 0.0 and conf["audio"]["condition"] == "Mix-Headset"
    assert [conf["splits"][s]["recordings"] for s in ("train", "dev", "test")] == [136, 18, 16]
