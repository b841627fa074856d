"""Helpers for the corpus tests: tiny corpora in each corpus's native layout and format.

Audio is written at the corpus's real sample rate and channel count. Recordings that must be
long (a real AMI reference runs 40 minutes) are written as *sparse* WAV files: a correct RIFF
header declaring the full length, and a data chunk the file system stores as a hole, so they
cost no disk and no time while every header reader sees the true duration and reads zeros.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import soundfile

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- real annotations
def real_annotations(corpus: str) -> Path:
    """``test/fixtures/real_annotations/<corpus>``: unmodified files of the corpus's public setup
    repository (origins in ``test/fixtures/SOURCES.md``)."""
    return REPO / "test" / "fixtures" / "real_annotations" / corpus


# --------------------------------------------------------------------------- audio
def write_sparse_wav(path: Path, duration: float, *, sample_rate: int = 16000, channels: int = 1) -> Path:
    """A 16-bit PCM WAV of ``duration`` seconds of silence that occupies (almost) no disk."""
    frames = int(round(duration * sample_rate))
    block = 2 * channels
    data = frames * block
    header = b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block, block, 16)
    header += b"data" + struct.pack("<I", data)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + data)
    return path


def write_audio(path: Path, duration: float, *, sample_rate: int = 16000, channels: int = 1, seed: int = 0) -> Path:
    """Low-level noise in any format soundfile writes (by extension: .wav, .flac, .sph)."""
    frames = int(round(duration * sample_rate))
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((frames, channels)) * 30).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".sph": "NIST"}.get(path.suffix.lower())
    soundfile.write(str(path), x if channels > 1 else x[:, 0], sample_rate, subtype="PCM_16", format=fmt)
    return path


def write_movie(
    path: Path, duration: float, *, sample_rate: int = 48000, channels: int = 2, source: Optional[Path] = None
) -> Path:
    """A movie file holding a silent soundtrack (FLAC; .mkv or .mp4 by extension).

    With ``source``, the soundtrack of that movie is copied into the new container without
    re-encoding (fast), cut to ``duration``.
    """
    layout = "stereo" if channels == 2 else "mono"
    path.parent.mkdir(parents=True, exist_ok=True)
    inputs = (
        ["-i", str(source), "-c", "copy"]
        if source is not None
        else ["-f", "lavfi", "-i", f"anullsrc=r={sample_rate}:cl={layout}", "-c:a", "flac"]
    )
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, "-t", f"{duration}", "-strict", "-2", str(path)],
        check=True,
    )
    return path


# --------------------------------------------------------------------------- text files
def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def crop_rttm(src: Path, dest: Path, *, until: float) -> Path:
    """Copy the SPEAKER lines of ``src`` whose turn starts before ``until`` (line text unchanged)."""
    keep = [
        ln
        for ln in src.read_text(encoding="utf-8").splitlines(keepends=True)
        if ln.split() and float(ln.split()[3]) < until
    ]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("".join(keep), encoding="utf-8")
    return dest


def textgrid(xmax: float, tiers: Sequence[Tuple[str, Sequence[Tuple[float, float, str]]]]) -> str:
    """A long-format ("ooTextFile") Praat TextGrid as AISHELL-4 ships: one interval tier per
    speaker, speech intervals with their transcript and the gaps as empty intervals."""
    out = [
        'File type = "ooTextFile"',
        'Object class = "TextGrid"',
        "",
        "xmin = 0 ",
        f"xmax = {xmax} ",
        "tiers? <exists> ",
        f"size = {len(tiers)} ",
        "item []: ",
    ]
    for i, (name, speech) in enumerate(tiers, start=1):
        intervals: List[Tuple[float, float, str]] = []
        t = 0.0
        for a, b, text in sorted(speech):
            if a > t:
                intervals.append((t, a, ""))
            intervals.append((a, b, text))
            t = b
        if t < xmax:
            intervals.append((t, xmax, ""))
        out += [
            f"    item [{i}]:",
            '        class = "IntervalTier" ',
            f'        name = "{name}" ',
            "        xmin = 0 ",
            f"        xmax = {xmax} ",
        ]
        out.append(f"        intervals: size = {len(intervals)} ")
        for j, (a, b, text) in enumerate(intervals, start=1):
            text = text.replace('"', '""')
            out += [
                f"        intervals [{j}]:",
                f"            xmin = {a} ",
                f"            xmax = {b} ",
                f'            text = "{text}" ',
            ]
    return "\n".join(out) + "\n"


def mrt(
    session: str, end: float, segments: Iterable[Tuple[float, float, Optional[str], str]], *, start: float = 0.0
) -> str:
    """An ICSI MRT transcript: ``segments`` are ``(start, end, participant or None, inner XML)``."""
    parts = [
        '<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>',
        '<!DOCTYPE Meeting SYSTEM "meeting.dtd">',
        f'<Meeting Session="{session}" DateTimeStamp="2001-02-14-1600" Version="1" VersionDate="Oct 17 2003">',
        "  <Preamble>",
        "    <Channels>",
        '      <Channel Name="chan0" Mic="c2" Transmission="w" Gain="1"/>',
        "    </Channels>",
        '    <Participants CloseMic="true">',
        '      <Participant Name="me011" Channel="chan0"/>',
        "    </Participants>",
        "  </Preamble>",
        f'  <Transcript StartTime="{start:.3f}" EndTime="{end:.3f}">',
    ]
    for a, b, who, body in segments:
        attr = f' Participant="{who}"' if who else ""
        parts += [f'    <Segment StartTime="{a:.3f}" EndTime="{b:.3f}"{attr}>', f"      {body}", "    </Segment>"]
    parts += ["  </Transcript>", "</Meeting>"]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- data-dir checks
def read_lines(path: Path) -> List[str]:
    return path.read_text(encoding="utf-8").splitlines()


def rttm_rows(path: Path) -> List[Tuple[str, str, str, float, float]]:
    """``(reco, channel, speaker, onset, end)`` per line of a written RTTM."""
    rows = []
    for ln in read_lines(path):
        f = ln.split()
        rows.append((f[1], f[2], f[7], float(f[3]), round(float(f[3]) + float(f[4]), 3)))
    return rows


def validate(data_dir: Path, **kwargs) -> None:
    """Run the shared validator and fail with its report unless the dir is usable."""
    from espnet2_tsdia.data.validate import validate_data_dir

    report = validate_data_dir(data_dir, **kwargs)
    assert report.ok, report.text()


def label_conversion(data_dir: Path, out: Path) -> List[str]:
    """Run the label conversion CLI on a prepared dir and check that every (recording, speaker)
    pair of the RTTM became an example or is listed in ``skipped.txt`` with a reason. Returns the
    example ids."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "espnet2_tsdia.bin.make_tsdia_examples",
            str(data_dir),
            str(out),
            "--num_samples_from",
            "reco2dur",
        ],
        capture_output=True,
        text=True,
        cwd=str(REPO),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    examples = [ln.split()[0] for ln in read_lines(out / "examples")]
    skipped = {" ".join(ln.split()[:2]) for ln in read_lines(out / "skipped.txt") if not ln.startswith("#")}
    pairs = sorted({(reco, spk) for reco, _, spk, _, _ in rttm_rows(data_dir / "rttm")})
    missing = [p for p in pairs if f"{p[0]}__{p[1]}" not in set(examples) and f"{p[0]} {p[1]}" not in skipped]
    assert not missing, f"speakers neither converted nor reported as skipped: {missing[:5]}"
    assert set(examples) <= {f"{r}__{s}" for r, s in pairs}
    return examples


def run_data_sh(
    corpus: str, env_var: str, corpus_dir: Optional[Path], cwd: Path, *args: str
) -> subprocess.CompletedProcess:
    """Run ``egs2/<corpus>/diar1/local/data.sh --skip_download true`` in ``cwd`` with the corpus
    root in ``env_var`` (unset when ``corpus_dir`` is None)."""
    script = REPO / "egs2" / corpus / "diar1" / "local" / "data.sh"
    env = {k: v for k, v in os.environ.items() if k != env_var}
    if corpus_dir is not None:
        env[env_var] = str(corpus_dir)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        ["bash", str(script), "--skip_download", "true", "--python", sys.executable, *args],
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
    )


def data_files(d: Path) -> Dict[str, List[str]]:
    return {p.name: read_lines(p) for p in sorted(d.iterdir()) if p.is_file()}


def check_corpus_yaml(corpus: str, env_var: str) -> dict:
    """``egs2/<corpus>/diar1/conf/corpus.yaml`` has the fields the plan asks for (name, source,
    splits, audio condition, scoring protocol) and its split dirs are the ones ``prepare`` writes
    with default options."""
    import yaml

    from espnet2_tsdia.bin.prepare_corpus import data_dirs, get_parser

    conf = yaml.safe_load((REPO / "egs2" / corpus / "diar1" / "conf" / "corpus.yaml").read_text(encoding="utf-8"))
    assert {"name", "db_variable", "source", "splits", "audio", "scoring"} <= set(conf)
    assert conf["name"] == corpus and conf["db_variable"] == env_var
    assert {"condition", "sample_rate"} <= set(conf["audio"])
    assert isinstance(conf["scoring"]["collar"], float) and isinstance(conf["scoring"]["skip_overlap"], bool)
    args = get_parser().parse_args([corpus, "dirs"])
    assert sorted(s["data_dir"] for s in conf["splits"].values()) == sorted(data_dirs(args))
    return conf
