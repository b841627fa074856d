"""prepare_callhome on a tiny CALLHOME: summed single-channel 8 kHz mu-law SPHERE files and the
reference key as OpenSLR 10's ``sre2000-key`` ships it.

Where the layout comes from: Kaldi's ``egs/callhome_diarization/v1/local/make_callhome.sh``
reads ``sre2000-key/reco2num`` (first column: the 500 calls), ``segments`` and ``fullref.rttm``,
finds each call's audio with ``find <LDC2001S97 root> -name <reco>.sph`` and decodes it with
``sph2pipe -f wav -p`` (so the files are not 16-bit PCM; mu-law is what ``-p`` converts, and
the NIST SRE corpora of that period are 8-bit mu-law) into one channel (EEND reads the result
as mono). The folders inside the LDC disk are not named in the public material; since every
reader searches the tree by file name, the miniature puts the files two folders down. The
``fullref.rttm`` line form (channel ``0``, 2-decimal times, speaker letters) is the one Kaldi's
RTTM converters quote (``SPEAKER iaaa 0 6.14 2.99 <NA> <NA> B <NA> <NA>``); lhotse's CALLHOME
reader skips zero-duration turns, so the miniature has one. The call ids (``iaaa``, ...) are
the real ones' form (BUT's published lists run ``iaaa`` .. ``iatf``).
"""

from __future__ import annotations

import hashlib
import io
import os
import string
import tarfile
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import soundfile

from espnet2_tsdia.bin import prepare_corpus
from espnet2_tsdia.corpora import callhome
from espnet2_tsdia.corpora.callhome import (
    holdout,
    kaldi_shuffle,
    kaldi_split,
    prepare_callhome,
    read_sphere_header,
)
from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.utils.download import ChecksumError
from test.corpora.fileserver import FileServer
from test.corpora.native import (
    check_corpus_yaml,
    data_files,
    label_conversion,
    rttm_rows,
    run_data_sh,
    validate,
    write_text,
)

#: call -> (duration, speakers in reco2num, fullref lines as (onset, duration, speaker))
CALLS: Dict[str, Tuple[float, int, List[Tuple[str, str, str]]]] = {
    "iaaa": (
        20.0,
        2,
        [
            ("0.00", "3.50", "A"),
            ("3.20", "2.10", "B"),
            ("6.00", "0.00", "A"),
            ("7.00", "5.00", "A"),
            ("11.50", "4.00", "B"),
        ],
    ),
    "iaab": (20.0, 3, [("0.50", "4.00", "A"), ("4.00", "3.00", "B"), ("7.50", "6.00", "C"), ("14.00", "2.00", "A")]),
    "iaac": (20.0, 2, [("1.00", "8.00", "A"), ("8.50", "7.00", "B"), ("14.00", "3.00", "B")]),
    "iaad": (20.0, 2, [("0.00", "10.00", "A"), ("10.00", "9.50", "B")]),
    "iaae": (20.0, 2, [("2.00", "5.00", "A"), ("6.00", "6.00", "B"), ("18.00", "4.00", "A")]),
    "iaaf": (25.0, 4, [("0.00", "5.00", "A"), ("5.00", "5.00", "B"), ("10.00", "5.00", "C"), ("15.00", "5.00", "D")]),
}


def write_sph(path: Path, duration: float, *, channels: int = 1, seed: int = 0) -> Path:
    frames = int(duration * 8000)
    x = (np.random.default_rng(seed).standard_normal((frames, channels)) * 300).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), x if channels > 1 else x[:, 0], 8000, subtype="ULAW", format="NIST")
    return path


def write_key(key: Path, calls=CALLS) -> Path:
    write_text(key / "reco2num", "".join(f"{r} {n}\n" for r, (_, n, _) in calls.items()))
    lines = [f"SPEAKER {r} 0 {a} {d} <NA> <NA> {s} <NA> <NA>\n" for r, (_, _, ts) in calls.items() for a, d, s in ts]
    write_text(key / "fullref.rttm", "".join(lines))
    seg = [
        f"{r}-{i:03d} {r} {a} {float(a) + float(d):.2f}\n"
        for r, (_, _, ts) in calls.items()
        for i, (a, d, _) in enumerate(ts)
    ]
    write_text(key / "segments", "".join(seg))
    return key


def build_callhome(root: Path, *, calls=CALLS) -> Path:
    for i, (reco, (dur, _, _)) in enumerate(calls.items()):
        write_sph(root / "LDC2001S97" / "disk" / f"{reco}.sph", dur, seed=i)
    write_key(root / "sre2000-key", calls)
    return root


@pytest.fixture
def no_sph2pipe(monkeypatch):
    """sph2pipe absent, whatever this machine has (the wav.scp form depends on it)."""
    which = callhome.shutil.which
    monkeypatch.setattr(
        callhome.shutil, "which", lambda name, *a, **k: None if name == "sph2pipe" else which(name, *a, **k)
    )


def test_kaldi_shuffle_is_perls_shuffle_list():
    """Pinned outputs of Kaldi's shuffle_list.pl (srand(0); sort { rand() <=> rand() }), as
    Perl 5.36 prints them; any Perl >= 5.20 gives the same."""
    ids = [f"iaa{c}" for c in "abcdefghij"]
    assert kaldi_shuffle(ids[:6]) == ["iaae", "iaaf", "iaac", "iaad", "iaaa", "iaab"]
    assert kaldi_shuffle(ids) == ["iaaj", "iaah", "iaai", "iaac", "iaad", "iaaa", "iaag", "iaab", "iaae", "iaaf"]
    assert kaldi_shuffle(ids, seed=1) != kaldi_shuffle(ids)
    # the split sorts first (Kaldi shuffles the sorted wav.scp), so the input order does not matter
    assert kaldi_split(ids[:6][::-1], num_part1=3) == (["iaac", "iaae", "iaaf"], ["iaaa", "iaab", "iaad"])
    # the 500 calls of the key (iaaa .. iatf): 250 + 250, the first shuffled and the whole part1
    calls = [f"ia{a}{b}" for a in string.ascii_lowercase for b in string.ascii_lowercase if f"ia{a}{b}" <= "iatf"]
    assert len(calls) == 500
    assert kaldi_shuffle(calls)[:5] == ["iark", "iabs", "iast", "iabh", "iagf"]
    part1, part2 = kaldi_split(calls)
    assert len(part1) == len(part2) == 250
    assert hashlib.md5("".join(f"{r}\n" for r in part1).encode()).hexdigest() == "b2696d53366586c055bc6cf1c5bfe77c"
    with pytest.raises(ValueError, match="num_part1 must be between 1 and 5 for 6 recordings, got 6"):
        kaldi_split(ids[:6], num_part1=6)


def test_prepare(tmp_path, no_sph2pipe):
    corpus = build_callhome(tmp_path / "callhome")
    reports = prepare_callhome(corpus, tmp_path / "data", num_part1=3, num_valid=1)
    assert sorted(reports) == [
        "callhome1",
        "callhome1_spk2",
        "callhome1_train",
        "callhome1_valid",
        "callhome2",
        "callhome2_spk2",
    ]
    ch1 = data_files(tmp_path / "data" / "callhome1")
    sph = corpus / "LDC2001S97" / "disk" / "iaac.sph"
    assert ch1["wav.scp"][0] == f"iaac sox -t sph {sph} -t wav -e signed-integer -b 16 - |"
    assert [ln.split()[0] for ln in ch1["wav.scp"]] == ["iaac", "iaae", "iaaf"]
    assert ch1["reco2dur"] == ["iaac 20", "iaae 20", "iaaf 25"]
    # the scored region md-eval uses without a UEM: the extent of the reference (clipped to the audio)
    assert ch1["uem"] == ["iaac 1 1.000 17.000", "iaae 1 2.000 20.000", "iaaf 1 0.000 20.000"]
    assert reports["callhome1"].changed == [
        "fullref.rttm: channel field rewritten to 1 in 10 turns (md-eval keys on file and channel)",
        "iaae: UEM region [2.000, 22.000] clipped to the audio end 20.000",
        "iaac iaac_B: merged 2 overlapping turns [8.500, 15.500], [14.000, 17.000] into [8.500, 17.000]",
        "iaae iaae_A [18.000, 22.000]: clipped to the recording end 20.000",
    ]
    assert reports["callhome1"].dropped == []
    ch2 = reports["callhome2"]
    assert ch2.dropped == ["iaaa A at 6.00 (fullref.rttm:3): zero-duration reference turn left out"]
    rows = rttm_rows(tmp_path / "data" / "callhome2" / "rttm")
    assert rows[:3] == [
        ("iaaa", "1", "iaaa_A", 0.0, 3.5),
        ("iaaa", "1", "iaaa_B", 3.2, 5.3),
        ("iaaa", "1", "iaaa_A", 7.0, 12.0),
    ]
    # EEND's 2-speaker subsets follow reco2num; the held-out call comes from callhome1
    spk2 = {d: [ln.split()[0] for ln in data_files(tmp_path / "data" / d)["wav.scp"]] for d in reports}
    assert spk2["callhome1_spk2"] == ["iaac", "iaae"] and spk2["callhome2_spk2"] == ["iaaa", "iaad"]
    assert spk2["callhome1_valid"] == holdout(["iaac", "iaae", "iaaf"], 1) and len(spk2["callhome1_valid"]) == 1
    assert sorted(spk2["callhome1_train"] + spk2["callhome1_valid"]) == spk2["callhome1"]
    for d in reports:
        validate(tmp_path / "data" / d, expected_fs=8000)


def test_sphere_header_and_decoders(tmp_path, monkeypatch, no_sph2pipe):
    sph = write_sph(tmp_path / "a.sph", 1.0)
    h = read_sphere_header(sph)
    assert (h["sample_rate"], h["sample_count"], h["sample_coding"], h["channel_count"]) == (
        "8000",
        "8000",
        "ulaw",
        "1",
    )
    # a shorten-compressed file (the header says so): sox cannot decode it, sph2pipe can
    head = b"NIST_1A\n   1024\nsample_count -i 16000\nsample_rate -i 8000\nchannel_count -i 1\n"
    head += b"sample_coding -s26 ulaw,embedded-shorten-v2.00\nsample_n_bytes -i 1\nend_head\n"
    shn = tmp_path / "corpus" / "x" / "iaac.sph"
    shn.parent.mkdir(parents=True)
    shn.write_bytes(head.ljust(1024, b" ") + b"\x00" * 200)
    with pytest.raises(
        RuntimeError,
        match=r"iaac\.sph: SPHERE sample_coding 'ulaw,embedded-shorten-v2\.00' is shorten-compressed.*install sph2pipe",
    ):
        callhome.decode_pipe(shn, "ulaw,embedded-shorten-v2.00")
    corpus = build_callhome(tmp_path / "callhome")
    (corpus / "LDC2001S97" / "disk" / "iaac.sph").write_bytes(shn.read_bytes())
    with pytest.raises(RuntimeError, match=r"iaac\.sph: SPHERE sample_coding .* shorten"):
        prepare_callhome(corpus, tmp_path / "data", num_part1=3, num_valid=0)
    monkeypatch.undo()  # sph2pipe "installed": a fake one on PATH
    bin_dir = tmp_path / "bin"
    write_text(bin_dir / "sph2pipe", "#!/bin/sh\nexit 1\n").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    prepare_callhome(corpus, tmp_path / "data", num_part1=3, num_valid=0, two_speaker=False)
    wav = data_files(tmp_path / "data" / "callhome1")["wav.scp"]
    assert wav[0] == f"iaac sph2pipe -f wav -p {corpus / 'LDC2001S97' / 'disk' / 'iaac.sph'} |"
    assert data_files(tmp_path / "data" / "callhome1")["reco2dur"][0] == "iaac 2"  # from the header: 16000 / 8000
    write_text(tmp_path / "bad.sph", "RIFF....")
    with pytest.raises(DataFormatError, match=r"bad\.sph: not a NIST SPHERE file"):
        read_sphere_header(tmp_path / "bad.sph")


def test_bad_corpus(tmp_path, no_sph2pipe):
    corpus = build_callhome(tmp_path / "callhome")
    (corpus / "LDC2001S97" / "disk" / "iaad.sph").unlink()
    with pytest.raises(
        MissingAudioError, match=r"audio of call 'iaad' .* not found below .*LDC2001S97 .* or pass --exclude iaad"
    ):
        prepare_callhome(corpus, tmp_path / "data", num_part1=3)
    reports = prepare_callhome(corpus, tmp_path / "data", num_part1=3, exclude=["iaad"])
    assert reports["callhome2"].dropped[0] == "iaad: excluded by the caller"
    assert [ln.split()[0] for ln in data_files(tmp_path / "data" / "callhome2")["wav.scp"]] == ["iaaa", "iaab"]
    # the split does not move when a call is left out (it is derived from the key's list)
    assert [ln.split()[0] for ln in data_files(tmp_path / "data" / "callhome1")["wav.scp"]] == ["iaac", "iaae", "iaaf"]
    write_sph(corpus / "LDC2001S97" / "disk" / "iaad.sph", 20.0, channels=2)
    with pytest.raises(
        DataFormatError, match=r"iaad\.sph: has 2 channels; the CALLHOME diarization set .* one summed channel"
    ):
        prepare_callhome(corpus, tmp_path / "data", num_part1=3)
    write_sph(corpus / "elsewhere" / "iaad.sph", 20.0)
    with pytest.raises(ValueError, match=r"two SPHERE files for recording 'iaad'"):
        prepare_callhome(corpus, tmp_path / "data", num_part1=3)
    rttm = corpus / "sre2000-key" / "fullref.rttm"
    rttm.write_text(rttm.read_text() + "SPEAKER ibzz 0 1.00 1.00 <NA> <NA> A <NA> <NA>\n")
    with pytest.raises(DataFormatError, match=r"fullref\.rttm:22: names recording 'ibzz'"):
        prepare_callhome(corpus, tmp_path / "data", num_part1=3)
    with pytest.raises(
        FileNotFoundError,
        match=r"sre2000-key/reco2num: CALLHOME reference key missing; fetch it \(prepare_corpus callhome download",
    ):
        prepare_callhome(tmp_path / "nothing", tmp_path / "data")


def test_split_lists(tmp_path, no_sph2pipe):
    """Published lists (BUT's, 249 + 250 calls without iaeu) instead of the derivation."""
    corpus = build_callhome(tmp_path / "callhome")
    lists = tmp_path / "lists"
    write_text(lists / "part1.txt", "iaaa\niaab\n")
    write_text(lists / "part2.txt", "iaac\niaad\niaae\n")
    reports = prepare_callhome(corpus, tmp_path / "data", split_lists=lists, num_valid=0, two_speaker=False)
    assert [ln.split()[0] for ln in data_files(tmp_path / "data" / "callhome1")["wav.scp"]] == ["iaaa", "iaab"]
    assert reports["callhome1"].dropped[0] == "1 calls of the key are in neither split list: iaaf"
    write_text(lists / "part2.txt", "iaac\niaax\n")
    with pytest.raises(DataFormatError, match=r"part2\.txt:2: recording 'iaax' is not in the key's reco2num"):
        prepare_callhome(corpus, tmp_path / "data", split_lists=lists)
    write_text(lists / "part2.txt", "iaab\n")
    with pytest.raises(DataFormatError, match=r"part2\.txt: recordings in both lists: iaab"):
        prepare_callhome(corpus, tmp_path / "data", split_lists=lists)


def test_describe_row(tmp_path, no_sph2pipe):
    """callhome2 (iaaa, iaab, iaad: 60 s) by hand: speech 13.8 + 14.5 + 19.5 = 47.8 s, overlap
    0.3 + 0.5 (iaaa) + 0.5 (iaab) = 1.3 s, 2/3/2 speakers, ten turns of 49.1 s in all."""
    from espnet2_tsdia.bin import describe

    corpus = build_callhome(tmp_path / "callhome")
    prepare_callhome(corpus, tmp_path / "data", num_part1=3, num_valid=0, two_speaker=False)
    assert describe.main([str(tmp_path / "data" / "callhome2"), "--out_dir", str(tmp_path / "desc"), "--no_plots"]) == 0
    rows = [ln for ln in (tmp_path / "desc" / "callhome2.md").read_text().splitlines() if ln.startswith("|callhome2|")]
    assert rows == ["|callhome2|3|0.02|2|2.33|3|2.7|20.3|4.91|"]


def test_label_conversion(tmp_path, no_sph2pipe):
    corpus = build_callhome(tmp_path / "callhome")
    prepare_callhome(corpus, tmp_path / "data", num_part1=3, num_valid=0)
    examples = label_conversion(tmp_path / "data" / "callhome2_spk2", tmp_path / "labels")
    assert examples == ["iaaa__iaaa_A", "iaaa__iaaa_B", "iaad__iaad_A", "iaad__iaad_B"]


@contextmanager
def test_download_from_local_server(tmp_path, monkeypatch, no_sph2pipe):
    """The key tarball and BUT's lists from a local HTTP server: unpacked in the native layout,
    kept on a rerun, and a checksum mismatch stops with the file named."""
    key = write_key(tmp_path / "src" / "sre2000-key")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        t.add(key, arcname="sre2000-key")
    corpus = tmp_path / "callhome"
    for i, (reco, (dur, _, _)) in enumerate(CALLS.items()):
        write_sph(corpus / "LDC2001S97" / "disk" / f"{reco}.sph", dur, seed=i)
    with FileServer() as server:
        server.put(callhome.KEY_URL, buf.getvalue())
        server.put(callhome.BUT_LISTS_URL.format(part="part1"), b"iaac\niaae\niaaf\n")
        server.put(callhome.BUT_LISTS_URL.format(part="part2"), b"iaaa\niaab\niaad\n")
        monkeypatch.setattr(callhome, "KEY_URL", server.url(callhome.KEY_URL))
        monkeypatch.setattr(callhome, "BUT_LISTS_URL", server.url(callhome.BUT_LISTS_URL))
        callhome.download_callhome(corpus)
        assert (corpus / "sre2000-key" / "fullref.rttm").read_text() == (key / "fullref.rttm").read_text()
        stamp = (corpus / "downloads" / "sre2000-key.tar.gz").stat().st_mtime_ns
        callhome.download_callhome(corpus)  # rerun: the complete file is kept
        assert (corpus / "downloads" / "sre2000-key.tar.gz").stat().st_mtime_ns == stamp
        reports = prepare_callhome(corpus, tmp_path / "data", split_lists=corpus / "lists" / "but", num_valid=0)
        assert reports["callhome1"].dropped == []
        monkeypatch.setattr(callhome, "MD5", {"sre2000-key.tar.gz": "0" * 32})
        with pytest.raises(ChecksumError, match=r"sre2000-key\.tar\.gz(\.part)?: md5 [0-9a-f]{32}, expected 0{32}"):
            callhome.download_callhome(tmp_path / "fresh")


def test_corpus_yaml():
    conf = check_corpus_yaml("callhome", "CALLHOME")
    assert conf["scoring"]["collar"] == 0.25 and conf["scoring"]["skip_overlap"] is False
    assert conf["audio"]["sample_rate"] == 8000


def test_cli(tmp_path, capsys, no_sph2pipe):
    corpus = build_callhome(tmp_path / "callhome")
    out = tmp_path / "data"
    args = ["--corpus_dir", str(corpus), "--out_dir", str(out), "--num_part1", "3", "--num_valid", "1"]
    assert prepare_corpus.main(["callhome", *args]) == 0
    assert (out / "callhome1_valid" / "wav.scp").is_file()
    assert prepare_corpus.main(["callhome", "validate", *args]) == 0
    capsys.readouterr()
    assert prepare_corpus.main(["callhome", *args, "--num_part1", "6"]) == 2
    assert "num_part1 must be between 1 and 5 for 6 recordings, got 6" in capsys.readouterr().err


def test_data_sh(tmp_path):
    corpus = build_callhome(tmp_path / "callhome")
    opts = ("--num_part1", "3", "--num_valid", "1")
    proc = run_data_sh("callhome", "CALLHOME", corpus, tmp_path, *opts)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "callhome1",
        "callhome1_spk2",
        "callhome1_train",
        "callhome1_valid",
        "callhome2",
        "callhome2_spk2",
    ]
    proc = run_data_sh("callhome", "CALLHOME", None, tmp_path)
    assert proc.returncode == 1 and "CALLHOME is not set" in proc.stderr
    (corpus / "LDC2001S97" / "disk" / "iaab.sph").unlink()
    proc = run_data_sh("callhome", "CALLHOME", corpus, tmp_path, "--stage", "2", *opts)
    assert proc.returncode == 2 and "audio of call 'iaab'" in proc.stderr


def test_reference_problems_other_than_zero_duration_stop(tmp_path, no_sph2pipe):
    corpus = build_callhome(tmp_path / "callhome")
    rttm = corpus / "sre2000-key" / "fullref.rttm"
    lines = rttm.read_text().splitlines(keepends=True)
    lines[6] = "SPEAKER iaab 0 4.00 -1.00 <NA> <NA> B <NA> <NA>\n"
    rttm.write_text("".join(lines))
    with pytest.raises(DataFormatError, match=r"fullref\.rttm:7: field 5 is a duration and must be > 0, got '-1\.00'"):
        prepare_callhome(corpus, tmp_path / "data", num_part1=3)
