"""``metrics.json``: the metrics of every validation round of a run, for tools that follow it.

TSDiaTrainer rewrites the file (atomically) at the end of every round, rank 0 only::

    {"rounds": [{"round": 1, "train": {"loss": ...}, "valid": {"loss": ..., "accuracy": ...}}, ...],
     "step": 120, "data_epoch": 2}

``step`` and ``data_epoch`` are the position after the latest round. Non-finite values are
written as null. ``espnet2_tsdia.bin.tune`` reads it to report and prune trials. This module
imports neither torch nor ESPnet, so such tools start quickly.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from espnet2_tsdia.utils.atomic import atomic_write_json

METRICS_FILE = "metrics.json"


def _number(v: Any) -> Optional[float]:
    v = float(v)
    return v if math.isfinite(v) else None


def _is_number(v: Any) -> bool:
    if isinstance(v, (str, bytes)):
        return False
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def write_round_metrics(
    output_dir: Union[str, Path], stats: Mapping[int, Mapping[str, Any]], *, step: int, data_epoch: int
) -> None:
    """Write ``metrics.json`` from an ESPnet Reporter's ``stats`` ({round: {phase: {key: value}}})."""
    rounds = []
    for r in sorted(stats):
        row: Dict[str, Any] = {"round": int(r)}
        for phase, values in stats[r].items():
            if isinstance(values, Mapping):
                row[phase] = {k: _number(v) for k, v in values.items() if _is_number(v)}
        rounds.append(row)
    atomic_write_json(
        {"rounds": rounds, "step": int(step), "data_epoch": int(data_epoch)}, Path(output_dir) / METRICS_FILE
    )


def read_round_metrics(output_dir: Union[str, Path]) -> Optional[dict]:
    """The ``metrics.json`` of ``output_dir``, or None while there is none."""
    try:
        with open(Path(output_dir) / METRICS_FILE, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def metric_series(metrics: Optional[dict], phase: str, key: str) -> Tuple[Dict[int, Optional[float]], List[str]]:
    """({round: value of phase.key}, every phase.key reported) from a ``metrics.json`` dict."""
    series: Dict[int, Optional[float]] = {}
    reported = set()
    for row in (metrics or {}).get("rounds", []):
        for ph, values in row.items():
            if isinstance(values, dict):
                reported |= {f"{ph}.{k}" for k in values}
        values = row.get(phase)
        if isinstance(values, dict) and key in values:
            series[int(row["round"])] = values[key]
    return series, sorted(reported)
