"""Describe data dirs for a paper: one table row per set, a csv per recording, and distribution plots.

Statistics come from :mod:`espnet2_tsdia.data.stats` (see its definitions: overlap ratio =
overlapped speech / speech, silence ratio = non-speech / duration, both time-weighted over a set).
A recording's duration is read from ``reco2dur``; where it is missing, the end of the recording's
last UEM region is used, else the end of its last turn (which undercounts trailing silence);
every fallback is reported in :attr:`SetDescription.notes` and logged.

Table columns: recordings, hours, speakers per recording (min / mean / max), overlap ratio (%),
silence ratio (%), mean turn length (s), with fixed decimals (hours 2, mean speakers 2, ratios 1,
turn length 2).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from espnet2_tsdia.data.datadir import DataDir, load_data_dir
from espnet2_tsdia.data.stats import RecordingStats, SetStats, recording_stats, set_stats
from espnet2_tsdia.formats.kaldi import c_sort_key
from espnet2_tsdia.formats.rttm import Turn

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

#: per-recording csv columns
CSV_COLUMNS: Tuple[str, ...] = (
    "reco",
    "duration",
    "speech",
    "overlap",
    "silence",
    "overlap_ratio",
    "silence_ratio",
    "num_speakers",
    "num_turns",
    "mean_turn_length",
    "duration_source",
)


@dataclass(frozen=True)
class SetDescription:
    """Statistics of one data dir.

    Attributes:
        name: the set's name in tables and file names.
        path: the data dir.
        recordings: per-recording statistics, C-locale order of recording ids.
        stats: the set's aggregate.
        duration_source: recording -> ``reco2dur``, ``uem`` or ``last_turn``.
        notes: what was assumed or left out (duration fallbacks, turns of unknown recordings).
    """

    name: str
    path: str
    recordings: Tuple[RecordingStats, ...]
    stats: SetStats
    duration_source: Dict[str, str]
    notes: Tuple[str, ...] = ()


def _examples(keys: Sequence[str], n: int = 5) -> str:
    more = f" (and {len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def recording_durations(dd: DataDir) -> Tuple[Dict[str, float], Dict[str, str], List[str]]:
    """Duration of every recording of ``dd.wav_scp``, with its source and notes on fallbacks.

    Returns:
        ``(durations, sources, notes)``. Recordings with no ``reco2dur`` entry, no UEM region and
        no turn have no duration: they are left out of ``durations`` and named in ``notes``.
    """
    by_reco: Dict[str, List[Turn]] = {}
    for t in dd.turns:
        by_reco.setdefault(t.reco, []).append(t)
    durations: Dict[str, float] = {}
    sources: Dict[str, str] = {}
    fallback: Dict[str, List[str]] = {"uem": [], "last_turn": [], "none": []}
    for reco in sorted(dd.recordings, key=c_sort_key):
        if reco in dd.reco2dur:
            durations[reco], sources[reco] = dd.reco2dur[reco], "reco2dur"
        elif dd.uem is not None and dd.uem.get(reco):
            durations[reco], sources[reco] = max(u.end for u in dd.uem[reco]), "uem"
            fallback["uem"].append(reco)
        elif by_reco.get(reco):
            durations[reco], sources[reco] = max(t.end for t in by_reco[reco]), "last_turn"
            fallback["last_turn"].append(reco)
        else:
            fallback["none"].append(reco)
    notes = []
    if fallback["uem"]:
        notes.append(
            f"{len(fallback['uem'])} recording(s) not in reco2dur: duration = end of the last UEM region ({_examples(fallback['uem'])})"
        )
    if fallback["last_turn"]:
        notes.append(
            f"{len(fallback['last_turn'])} recording(s) not in reco2dur nor the UEM: duration = end of the last turn, "
            f"trailing silence not counted ({_examples(fallback['last_turn'])})"
        )
    if fallback["none"]:
        notes.append(
            f"{len(fallback['none'])} recording(s) without duration or turns left out ({_examples(fallback['none'])})"
        )
    return durations, sources, notes


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "set"


def describe_data_dir(path: PathLike, *, name: Optional[str] = None) -> SetDescription:
    """Load a data dir and compute its statistics.

    Args:
        path: the data dir (``wav.scp`` plus ``rttm`` or ``segments`` + ``utt2spk``).
        name: the set's name (default: the dir's name).

    Raises:
        FileNotFoundError: no data dir (no ``wav.scp``).
        DataFormatError: a malformed file.
        ValueError: no recording with a known duration.
    """
    dd = load_data_dir(path)
    durations, sources, notes = recording_durations(dd)
    if not durations:
        raise ValueError(f"{dd.path}: no recording with a known duration (wav.scp has {len(dd.recordings)} entries)")
    by_reco: Dict[str, List[Turn]] = {r: [] for r in durations}
    unknown = set()
    for t in dd.turns:
        if t.reco in by_reco:
            by_reco[t.reco].append(t)
        else:
            unknown.add(t.reco)
    if unknown:
        notes.append(
            f"turns of {len(unknown)} recording(s) not in wav.scp ignored ({_examples(sorted(unknown, key=c_sort_key))})"
        )
    per_reco = tuple(recording_stats(by_reco[r], durations[r], reco=r) for r in durations)
    for n in notes:
        logger.warning("%s: %s", dd.path, n)
    return SetDescription(
        name=name if name is not None else (Path(path).name or str(path)),
        path=str(path),
        recordings=per_reco,
        stats=set_stats(per_reco),
        duration_source=sources,
        notes=tuple(notes),
    )


def _row_values(d: SetDescription) -> List[str]:
    s = d.stats
    return [
        str(s.recordings),
        f"{s.hours:.2f}",
        str(s.speakers_min),
        f"{s.speakers_mean:.2f}",
        str(s.speakers_max),
        f"{100 * s.overlap_ratio:.1f}",
        f"{100 * s.silence_ratio:.1f}",
        f"{s.turn_length_mean:.2f}",
    ]


def markdown_table(descs: Sequence[SetDescription]) -> str:
    """A markdown table, one row per set, followed by the notes of each set."""
    lines = [
        "|set|recordings|hours|speakers min|speakers mean|speakers max|overlap (%)|silence (%)|mean turn (s)|",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for d in descs:
        lines.append("|" + "|".join([d.name.replace("|", "\\|")] + _row_values(d)) + "|")
    lines += [
        "",
        "Overlap: overlapped speech / speech; silence: non-speech / duration (both time-weighted over the set); "
        "speakers per recording; mean length of a speaker's merged turns.",
    ]
    for d in descs:
        for n in d.notes:
            lines.append(f"- {d.name}: {n}")
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in text)


def latex_table(descs: Sequence[SetDescription], *, caption: Optional[str] = None, label: Optional[str] = None) -> str:
    """A booktabs table, one row per set (needs ``\\usepackage{booktabs}``)."""
    lines = [r"\begin{table}[t]", r"  \centering"]
    if caption is not None:
        lines.append(f"  \\caption{{{latex_escape(caption)}}}")
    if label is not None:
        lines.append(f"  \\label{{{label}}}")
    lines += [
        r"  \begin{tabular}{lrrrrrrrr}",
        r"    \toprule",
        r"    Set & Rec. & Hours & \multicolumn{3}{c}{Speakers / rec.} & Overlap (\%) & Silence (\%) & Turn (s) \\",
        r"    \cmidrule(lr){4-6}",
        r"    & & & min & mean & max & & & \\",
        r"    \midrule",
    ]
    for d in descs:
        lines.append("    " + " & ".join([latex_escape(d.name)] + _row_values(d)) + r" \\")
    lines += [r"    \bottomrule", r"  \end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def per_recording_csv(d: SetDescription) -> str:
    """The per-recording statistics as csv text (:data:`CSV_COLUMNS`, times in seconds)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in d.recordings:
        mean_turn = sum(r.turn_lengths) / len(r.turn_lengths) if r.turn_lengths else 0.0
        w.writerow(
            [
                r.reco,
                f"{r.duration:.3f}",
                f"{r.speech:.3f}",
                f"{r.overlap:.3f}",
                f"{r.silence:.3f}",
                f"{r.overlap_ratio:.4f}",
                f"{r.silence_ratio:.4f}",
                r.num_speakers,
                r.num_turns,
                f"{mean_turn:.3f}",
                d.duration_source[r.reco],
            ]
        )
    return buf.getvalue()


#: plot size in pixels (width, height) at 100 dpi
PLOT_SIZE_PX = (640, 400)


def plot_set(d: SetDescription, out_dir: PathLike) -> List[Path]:
    """Write three PNGs for one set: speakers per recording, overlap ratio per recording, turn lengths.

    Returns:
        The written files: ``<name>_speakers.png``, ``<name>_overlap.png``, ``<name>_turns.png``
        (``name`` made file-safe), each :data:`PLOT_SIZE_PX` pixels.
    """
    import numpy as np
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = _safe_name(d.name)
    w, h = PLOT_SIZE_PX
    written = []

    def new_axes():
        fig = Figure(figsize=(w / 100, h / 100), dpi=100, layout="constrained")
        return fig, fig.add_subplot()

    fig, ax = new_axes()
    ks = [k for k, _ in d.stats.speaker_histogram]
    ax.bar(ks, [c for _, c in d.stats.speaker_histogram], color="#1f77b4")
    ax.set_xticks(ks)
    ax.set_xlabel("speakers per recording")
    ax.set_ylabel("recordings")
    ax.set_title(f"{d.name}: speakers per recording")
    written.append(out_dir / f"{stem}_speakers.png")
    fig.savefig(written[-1], dpi=100)

    fig, ax = new_axes()
    ratios = 100 * np.array([r.overlap_ratio for r in d.recordings])
    ax.hist(ratios, bins=np.arange(0, 105, 5), color="#ff7f0e", edgecolor="white")
    ax.axvline(
        100 * d.stats.overlap_ratio,
        color="k",
        linestyle="--",
        linewidth=1,
        label=f"set: {100 * d.stats.overlap_ratio:.1f}%",
    )
    ax.set_xlim(0, 100)
    ax.set_xlabel("overlap ratio per recording (% of speech)")
    ax.set_ylabel("recordings")
    ax.set_title(f"{d.name}: overlap ratio")
    ax.legend()
    written.append(out_dir / f"{stem}_overlap.png")
    fig.savefig(written[-1], dpi=100)

    fig, ax = new_axes()
    lengths = np.array([x for r in d.recordings for x in r.turn_lengths])
    if lengths.size:
        top = max(float(np.percentile(lengths, 99)), 1e-3)
        ax.hist(np.minimum(lengths, top), bins=50, range=(0, top), color="#2ca02c", edgecolor="white")
        ax.axvline(
            d.stats.turn_length_mean,
            color="k",
            linestyle="--",
            linewidth=1,
            label=f"mean {d.stats.turn_length_mean:.2f} s",
        )
        ax.legend()
        ax.set_xlabel("turn length (s; longer than the 99th percentile counted in the last bin)")
    else:
        ax.text(0.5, 0.5, "no turns", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("turn length (s)")
    ax.set_ylabel("turns")
    ax.set_title(f"{d.name}: turn lengths")
    written.append(out_dir / f"{stem}_turns.png")
    fig.savefig(written[-1], dpi=100)
    return written


def write_description(
    descs: Sequence[SetDescription], out_dir: PathLike, *, name: str, plots: bool = True
) -> List[Path]:
    """Write ``<name>.md``, ``<name>.tex``, ``<name>.json`` (set statistics), one
    ``<set>_recordings.csv`` per set and, with ``plots``, the three PNGs per set.

    Raises:
        ValueError: no sets, or two sets whose names map to the same file name.
    """
    import json

    if not descs:
        raise ValueError("nothing to describe: no data dir given")
    stems = [_safe_name(d.name) for d in descs]
    dup = sorted({s for s in stems if stems.count(s) > 1})
    if dup:
        raise ValueError(
            f"set names must be distinct (as file names), got {[d.name for d in descs]}; duplicates: {dup} (name the sets, e.g. --set_names)"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = _safe_name(name)
    written = [out_dir / f"{base}.md", out_dir / f"{base}.tex", out_dir / f"{base}.json"]
    written[0].write_text(f"# {name}\n\n" + markdown_table(descs), encoding="utf-8")
    written[1].write_text(latex_table(descs, caption=f"Data sets: {name}", label=f"tab:{base}"), encoding="utf-8")
    data = {d.name: {"path": d.path, "notes": list(d.notes), **d.stats.to_dict()} for d in descs}
    written[2].write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    for d, stem in zip(descs, stems, strict=True):
        p = out_dir / f"{stem}_recordings.csv"
        p.write_text(per_recording_csv(d), encoding="utf-8")
        written.append(p)
        if plots:
            written += plot_set(d, out_dir)
    return written
