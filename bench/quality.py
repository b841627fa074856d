#!/usr/bin/env python3
"""Quality of the offline demo: DER on every test split, both enrollment sources, the baselines.

Usage:
    # run the README's demo (timed) and write the figures into the recipe's RESULTS.md
    tools/venv/bin/python bench/quality.py --run
    # only collect the figures of a finished run (default: egs2/offline_demo/diar1, tag demo_default)
    tools/venv/bin/python bench/quality.py
    tools/venv/bin/python bench/quality.py --recipe ../copy/egs2/offline_demo/diar1 --no_write  # print only

What is reported, per test split (``test``: two recorded voices never heard in training;
``test_hard``: the same two and the noisy recorded voice it_menardi, 2-3 per conversation;
``test_loso``: the flite voices, a family never heard in training in any form, 2-4 per
conversation), from the scores stage 7 of ``tsdia.sh`` wrote:

- the model with oracle enrollment (the longest solo run of each target in the test recording,
  at most 5 s) and with separate 3-second clips (utterances of the speaker that no test
  conversation uses: ``data/<set>/enroll/``), decoded with the options chosen on the dev set
  (``exp/.../decode_search_*/best.yaml``; never tuned on a test set);
- the trivial baselines: all silence (DER 100 %) and every target always speaking;
- without enrollment: the first pass alone (speech activity, x-vectors, clustering), TS-DIA
  with its regions as enrollments, and after one refinement (stage 6 with ``--enroll_source
  first_pass``);
- ESPnet's stock EEND (SA-EEND, EEND-EDA) trained on the same data under the same CPU budget
  (``local/eend_baseline.sh --tag <tag>``), when it has been run;
``--extra NAME=PATH`` adds a row from any ``result.json``.

Protocol: DER = (missed + false-alarm + confused speech) / reference speech, collar 0, overlapped
speech scored, each recording scored over its whole extent (no UEM: the simulated sets have
none), pyannote.metrics with the optimal speaker mapping (``espnet2_tsdia.scoring``). The optimal
mapping forgives a model that follows the wrong voice (the target's output holding another
speaker's turns counts as correct when the other's output holds the target's), so a second figure
is reported: the **target error**, (missed + false-alarm speech of each target against its own
reference, no remapping) / reference speech, the same protocol otherwise (each target scored
alone with ``espnet2_tsdia.scoring.der.score``).

With ``--run``: the wall time of ``./run.sh`` (every stage, from an empty recipe dir unless
``--keep`` is given), its children's CPU time, and the machine's load average before and after
(a shared machine inflates the wall time; the CPU time is the robust figure).

Writes the generated part of ``<recipe>/RESULTS.md`` between ``<!-- quality:begin -->`` and
``<!-- quality:end -->`` (the hand-written parts around it are kept) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs2" / "offline_demo" / "diar1"
SETS = (
    ("test", "in-source, easier: fr_june + es_july"),
    ("test_hard", "in-source, harder: + it_menardi (noisy), 2-3 speakers"),
    ("test_loso", "leave one source out: flite awb/kal/rms/slt, 2-4 speakers"),
)
BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"
#: the issue's targets for the default demo (fractions)
TARGETS = {"test_hard_der": 0.20, "test_hard_miss": 0.112, "test_loso_der": 0.35}


def load_result(path: Path) -> Optional[Dict[str, float]]:
    """The overall rates of a ``result.json`` (None when the file does not exist)."""
    if not path.is_file():
        return None
    overall = json.loads(path.read_text())["overall"]
    return {k: float(overall[k] or 0.0) for k in ("der", "miss_rate", "false_alarm_rate", "confusion_rate")}


def target_error(ref_rttm: Path, hyp_rttm: Path) -> Optional[float]:
    """(miss + FA) / reference speech with each hypothesis speaker scored against the reference
    speaker of the same name only (no remapping); None when a file is missing."""
    if not (ref_rttm.is_file() and hyp_rttm.is_file()):
        return None
    from espnet2_tsdia.formats.rttm import Turn, read_rttm
    from espnet2_tsdia.scoring.der import score

    def per_target(turns):
        return [
            Turn(reco=f"{t.reco}__{t.speaker}", onset=t.onset, duration=t.duration, speaker="target") for t in turns
        ]

    ref = per_target(read_rttm(ref_rttm))
    targets = {t.reco for t in ref}
    hyp = [t for t in per_target(read_rttm(hyp_rttm)) if t.reco in targets]
    total = score(ref, hyp).total
    return (total.miss + total.false_alarm) / total.scored_speech


def decode_dir(exp: Path) -> Path:
    """The oracle decoding dir of stage 6 (``<inference config>_<model>``): the one with a test set."""
    dirs = sorted(
        d
        for d in exp.iterdir()
        if d.is_dir() and not d.name.endswith("_first_pass") and (d / "test" / "hyp.rttm").is_file()
    )
    if not dirs:
        raise FileNotFoundError(f"{exp}: no decoding dir with test/hyp.rttm (run the demo to stage 7)")
    return dirs[0]


#: system -> (its dir, ``{dec}`` the oracle decoding dir's name; the hypothesis; whether it names
#: the reference's speakers, so that the target error applies)
TSDIA_SYSTEMS = {
    "TS-DIA, oracle enrollment regions": ("{dec}/{set}", "hyp", True),
    "TS-DIA, separate 3-s enrollment clips": ("{dec}/{set}_clips", "hyp", True),
    "TS-DIA after the first pass": ("{dec}_first_pass/{set}", "rttm.pass0", False),
    "TS-DIA after the first pass, 1 refinement": ("{dec}_first_pass/{set}", "rttm.pass1", False),
    "first pass alone (no TS-DIA)": ("{dec}_first_pass/{set}", "first_pass", False),
}
#: system -> its result.json under the recipe's exp/ (``{tag}``: the demo's tag)
EEND_SYSTEMS = {
    "stock SA-EEND (ESPnet, same data and CPU budget)": "eend_sa_{tag}/decode_model/{set}/score/result.json",
    "stock EEND-EDA, speaker count estimated": "eend_eda_{tag}/decode_estimated/{set}/score/result.json",
    "stock EEND-EDA, oracle speaker count": "eend_eda_{tag}/decode_oracle/{set}/score/result.json",
}
BASELINES = {"all silence": "baseline_silence", "every target always speaking": "baseline_always"}


def collect(
    exp: Path, extra: List[Tuple[str, Path]], data: Path, tag: str
) -> Dict[str, Dict[str, Optional[Dict[str, float]]]]:
    """set -> system -> rates (None: not run); ``target_error`` where the hypothesis names the
    reference's speakers. The trivial baselines come last."""
    dec = decode_dir(exp)
    out: Dict[str, Dict[str, Optional[Dict[str, float]]]] = {}
    for name, _ in SETS:
        systems = dict(TSDIA_SYSTEMS)
        systems.update({k: ("{dec}/{set}", hyp, True) for k, hyp in BASELINES.items()})
        scored: Dict[str, Optional[Dict[str, float]]] = {}
        for system, (where, hyp, named) in systems.items():
            d = exp / where.format(dec=dec.name, set=name)
            r = load_result(d / f"score_{hyp}" / "result.json")
            if r is not None and named:
                r["target_error"] = target_error(data / name / "rttm", d / f"{hyp}.rttm")
            scored[system] = r
        rows = {k: v for k, v in scored.items() if k not in BASELINES}
        for system, where in EEND_SYSTEMS.items():
            rows[system] = load_result(exp.parent / where.format(tag=tag, set=name))
        for label, path in extra:
            rows[label] = load_result(Path(str(path).replace("{set}", name)))
        out[name] = {**rows, **{k: scored[k] for k in BASELINES}}
    return out


def pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def table(results) -> str:
    keys = ("der", "miss_rate", "false_alarm_rate", "confusion_rate", "target_error")
    lines = []
    for name, what in SETS:
        lines += [
            f"### {name} ({what})",
            "",
            "| system | DER % | miss % | FA % | confusion % | target error % |",
            "|---|---|---|---|---|---|",
        ]
        for system, r in results[name].items():
            if r is None:
                lines.append(f"| {system} | (not run) | | | | |")
            else:
                lines.append(f"| {system} | " + " | ".join(pct(r.get(k)) for k in keys) + " |")
        lines.append("")
    return "\n".join(lines)


def targets(results, timing: Optional[Dict[str, float]] = None) -> List[str]:
    out = []
    hard = results["test_hard"]["TS-DIA, oracle enrollment regions"]
    loso = results["test_loso"]["TS-DIA, oracle enrollment regions"]
    silence = results["test_loso"]["all silence"]
    if hard is not None:
        ok = hard["der"] < TARGETS["test_hard_der"]
        out.append(f"- test_hard DER {pct(hard['der'])} % (target < 20 %): {'met' if ok else 'NOT met'}")
        ok = hard["miss_rate"] < TARGETS["test_hard_miss"]
        out.append(
            f"- test_hard missed speech {pct(hard['miss_rate'])} % (target < 11.2 %): {'met' if ok else 'NOT met'}"
        )
    if loso is not None:
        ok = loso["der"] < TARGETS["test_loso_der"]
        margin = f", all silence {pct(silence['der'])} %" if silence else ""
        out.append(f"- test_loso DER {pct(loso['der'])} % (target < 35 %{margin}): {'met' if ok else 'NOT met'}")
    for name, _ in SETS:  # the goal: TS-DIA after the first pass beats the stock EEND
        rows = results[name]
        ours = [r["der"] for k, r in rows.items() if k.startswith("TS-DIA after the first pass") and r]
        eend = [r["der"] for k, r in rows.items() if k.startswith("stock") and r]
        if ours and eend:
            ok = min(ours) < min(eend)
            out.append(
                f"- {name}: TS-DIA after the first pass {pct(min(ours))} % against the best stock EEND "
                f"{pct(min(eend))} %: {'beats it' if ok else 'does NOT beat it'}"
            )
    if timing and timing.get("fresh", True):
        ok = timing["wall_s"] <= 15 * 60
        out.append(
            f"- `./run.sh` wall time {timing['wall_s'] / 60:.1f} min (target <= 15): {'met' if ok else 'NOT met'}"
        )
    return out


def run_demo(recipe: Path, keep: bool, args: List[str]) -> Dict[str, float]:
    """Run ./run.sh in ``recipe`` (cleaned first unless ``keep``); wall, CPU time and load."""
    if not keep:
        for d in ("data", "dump", "exp", "db"):
            shutil.rmtree(recipe / d, ignore_errors=True)
    load_before = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(["./run.sh", *args], cwd=recipe)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"./run.sh failed with exit status {proc.returncode}")
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "load_before": load_before[0],
        "load_after": os.getloadavg()[0],
    }


def decode_options(exp: Path) -> str:
    found = sorted(exp.glob("decode_search_*/RESULTS.md"))
    if not found:
        return "- decode options: the train config's eval_knobs (no search)"
    text = found[0].read_text()
    chosen = re.search(r"^- chosen: (.*)$", text, re.M)
    default = re.search(r"^- the defaults .*: frame error (.*)$", text, re.M)
    line = f"- decode options chosen on dev ({found[0].relative_to(exp.parent.parent)}): {chosen.group(1) if chosen else '?'}"
    if default:
        line += f"; the defaults (threshold 0.5, no smoothing) had frame error {default.group(1)}"
    return line


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", type=Path, default=RECIPE, help="the demo recipe dir")
    parser.add_argument("--tag", default="demo_default", help="experiment tag (exp/tsdia_<tag>)")
    parser.add_argument("--run", action="store_true", help="run ./run.sh first (timed)")
    parser.add_argument("--keep", action="store_true", help="with --run: keep earlier data/exp (resume)")
    parser.add_argument("--run_args", default="", help="extra ./run.sh options (space separated)")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=PATH", help="a row from a result.json")
    parser.add_argument("--no_write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    timing_file = args.recipe / "exp" / "quality_timing.json"
    if args.run:
        timing = run_demo(args.recipe, args.keep, args.run_args.split())
        timing.update(date=time.strftime("%Y-%m-%d %H:%M"), fresh=not args.keep, run_args=args.run_args)
        timing_file.write_text(json.dumps(timing, indent=1) + "\n")
    else:  # the figures of the last timed run, when there was one
        timing = json.loads(timing_file.read_text()) if timing_file.is_file() else None
    exp = args.recipe / "exp" / f"tsdia_{args.tag}"
    extra = []
    for item in args.extra:
        label, sep, path = item.partition("=")
        if not sep:
            parser.error(f"--extra expects NAME=PATH, got {item!r}")
        extra.append((label, Path(path)))
    results = collect(exp, extra, args.recipe / "dump", args.tag)
    lines = [
        BEGIN,
        f"## Figures of `./run.sh` (exp/tsdia_{args.tag}, written by bench/quality.py)",
        "",
        "- protocol: DER = (miss + false alarm + confusion) / reference speech; collar 0; overlapped speech "
        "scored; no UEM (each recording scored over its whole extent); pyannote.metrics, optimal speaker mapping; "
        "target error: each target against its own reference, no remapping (a model following the wrong voice "
        "is not forgiven)",
        decode_options(exp),
    ]
    if timing:
        how = "from an empty recipe dir" if timing.get("fresh", True) else "resumed"
        command = " ".join(["./run.sh", *timing.get("run_args", "").split()])
        lines.append(
            f"- `{command}` {how} ({timing.get('date', '?')}): wall {timing['wall_s'] / 60:.1f} min, "
            f"CPU {timing['cpu_s'] / 60:.1f} min (all processes), load average {timing['load_before']:.2f} before / "
            f"{timing['load_after']:.2f} after; {os.cpu_count()} cores"
        )
    lines += ["", table(results), "Targets of the issue for the default demo:", *targets(results, timing), END]
    section = "\n".join(lines) + "\n"
    print(section)
    if not args.no_write:
        path = args.recipe / "RESULTS.md"
        text = path.read_text() if path.is_file() else f"# RESULTS of the offline demo\n\n{BEGIN}\n{END}\n"
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) + 1 :]
        else:
            text = text.rstrip("\n") + "\n\n" + section
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
