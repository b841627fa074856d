"""The outputs of a study, the same for every backend.

``<output_dir>/``

- ``results.md``: the protocol (library, objective, direction, pruner) and one row per trial
  (state, objective, best round, rounds run, every parameter, experiment dir), best first;
- ``trials.json``: the same records, machine-readable;
- ``best.yaml``: the base training config with the best trial's parameters applied (the same
  layout as the input: train with it as it is);
- ``plots/objective.png``: the objective of every trial by trial number, pruned and failed
  trials marked, and the best so far;
- ``plots/intermediate.png``: each trial's objective per validation round (what the pruner saw);
- ``plots/importances.png``: parameter importances (Optuna's fANOVA evaluator over the
  finished trials; needs two or more complete trials).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence

import yaml

from espnet2_tsdia.config.tuning import SearchSpace, comparability_warnings
from espnet2_tsdia.tune.optuna_backend import distributions
from espnet2_tsdia.tune.records import RUNNING, TrialRecord, best_record
from espnet2_tsdia.tune.trial import COMPLETE, FAILED, PRUNED

logger = logging.getLogger(__name__)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def results_markdown(records: Sequence[TrialRecord], *, settings, space: SearchSpace, study: str, storage: str) -> str:
    """The results table (markdown), best complete trial first."""
    best = best_record(records, settings.minimize)
    counts = {s: sum(r.state == s for r in records) for s in (COMPLETE, PRUNED, FAILED, RUNNING)}
    lines = [
        f"# Tuning study {study}",
        "",
        f"- library: {settings.library}; storage: {storage}",
        f"- objective: {settings.direction} {settings.metric} (the best value over a trial's validation rounds)",
        f"- pruner: {settings.pruner} {settings.pruner_conf or ''}".rstrip(),
        "- search space: " + "; ".join(f"{p.name} ({p.key}) {p.describe()}" for p in space.params),
        f"- trials: {len(records)} ({', '.join(f'{n} {s}' for s, n in counts.items() if n)})",
    ]
    lines += [f"- WARNING: {w}" for w in comparability_warnings(settings)]
    if best is not None:
        lines.append(
            f"- best: trial {best.number}, {settings.metric} = {_fmt(best.value)} at round {best.best_round} ({best.exp_dir})"
        )
    else:
        lines.append("- best: no complete trial yet")
    names = space.names
    lines += [
        "",
        "| trial | state | " + settings.metric + " | best round | rounds | " + " | ".join(names) + " | exp dir |",
    ]
    lines.append("|" + "---|" * (6 + len(names)))

    def order(r: TrialRecord):
        v = r.value if r.value is not None else math.inf
        return (r.state != COMPLETE, v if settings.minimize else -v, r.number)

    for r in sorted(records, key=order):
        cells = [str(r.number), r.state, _fmt(r.value), _fmt(r.best_round), str(len(r.rounds))]
        cells += [_fmt(r.params.get(n)) for n in names] + [r.exp_dir]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_best_yaml(path: Path, base_config: Mapping, space: SearchSpace, best: TrialRecord, *, metric: str) -> None:
    config = space.apply(base_config, best.params)
    header = (
        f"# The best trial ({best.number}) of the study: {metric} = {_fmt(best.value)} at round {best.best_round}.\n"
        f"# Its experiment dir: {best.exp_dir}\n"
    )
    path.write_text(header + yaml.safe_dump(config, sort_keys=False))


def plot_objective(path: Path, records: Sequence[TrialRecord], *, settings) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    styles = {COMPLETE: ("o", "C0"), PRUNED: ("x", "C1"), FAILED: ("s", "C3")}
    for state, (marker, color) in styles.items():
        pts = [(r.number, r.value) for r in records if r.state == state and r.value is not None]
        if pts:
            ax.scatter(*zip(*pts, strict=True), marker=marker, color=color, label=f"{state} ({len(pts)})")
    best, xs, ys = None, [], []
    for r in sorted(records, key=lambda r: r.number):
        if r.state == COMPLETE and r.value is not None and (best is None or settings.better(r.value, best)):
            best = r.value
        if best is not None:
            xs.append(r.number)
            ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", color="C2", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{settings.metric} (best round)")
    ax.set_title(f"objective: {settings.direction} {settings.metric}")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_intermediate(path: Path, records: Sequence[TrialRecord], *, settings) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for r in sorted(records, key=lambda r: r.number):
        if not r.rounds:
            continue
        xs = sorted(r.rounds)
        style = "-" if r.state == COMPLETE else ":"
        ax.plot(xs, [r.rounds[x] for x in xs], style, marker=".", label=f"{r.number} ({r.state})")
    ax.set_xlabel("validation round")
    ax.set_ylabel(settings.metric)
    ax.set_title("intermediate values (pruned trials dotted)")
    if records:
        ax.legend(loc="best", fontsize="small", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def importances(records: Sequence[TrialRecord], space: SearchSpace, *, minimize: bool) -> Dict[str, float]:
    """Parameter importances (Optuna's default evaluator) over the complete trials; {} when
    fewer than two complete trials differ in their parameters."""
    import optuna

    done = [r for r in records if r.state == COMPLETE and r.value is not None]
    if len({json.dumps(r.params, sort_keys=True) for r in done}) < 2:
        return {}

    dists = distributions(space)
    study = optuna.create_study(direction="minimize" if minimize else "maximize")
    for r in done:
        study.add_trial(optuna.trial.create_trial(params=r.params, distributions=dists, value=r.value))
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError) as e:  # e.g. every parameter constant
        logger.warning("parameter importances not computed: %s", e)
        return {}


def plot_importances(path: Path, imp: Mapping[str, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(imp, key=imp.get)
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.4 * len(names)))
    ax.barh(names, [imp[n] for n in names], color="C0")
    ax.set_xlabel("importance (fANOVA, share of the objective's variance)")
    ax.set_xlim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(
    out_dir: Path,
    records: Sequence[TrialRecord],
    *,
    settings,
    base_config: Mapping,
    study: str,
    storage: str,
) -> Dict[str, Path]:
    """Write every output of the module docstring; returns {name: path} of what was written."""
    out_dir = Path(out_dir)
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    space = settings.space
    written = {}
    text = results_markdown(records, settings=settings, space=space, study=study, storage=storage)
    imp = importances(records, space, minimize=settings.minimize)
    if imp:
        text += "\n## Parameter importances\n\n| parameter | importance |\n|---|---|\n"
        text += "".join(f"| {n} | {v:.3f} |\n" for n, v in sorted(imp.items(), key=lambda kv: -kv[1]))
    (out_dir / "results.md").write_text(text)
    written["results"] = out_dir / "results.md"
    (out_dir / "trials.json").write_text(json.dumps([asdict(r) for r in records], indent=1) + "\n")
    written["trials"] = out_dir / "trials.json"
    best = best_record(records, settings.minimize)
    if best is not None:
        write_best_yaml(out_dir / "best.yaml", base_config, space, best, metric=settings.metric)
        written["best"] = out_dir / "best.yaml"
    plot_objective(plots / "objective.png", records, settings=settings)
    written["objective_plot"] = plots / "objective.png"
    plot_intermediate(plots / "intermediate.png", records, settings=settings)
    written["intermediate_plot"] = plots / "intermediate.png"
    if imp:
        plot_importances(plots / "importances.png", imp)
        written["importances_plot"] = plots / "importances.png"
    return written
