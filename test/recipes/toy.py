"""The toy corpus and recipe of the template tests: 16 kHz noise-band "speakers" in three sets
(tr, dv, ts), copied into data/ by the recipe's own local/data.sh, the rest linked to the template
like the real recipes (the ``recipe`` fixture of conftest.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Dict, List

import numpy as np
import soundfile as sf

from espnet2_tsdia.data.datadir import write_data_dir
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.formats.uem import UemSegment
from test.recipes.helpers import EGS2, TEMPLATE

FS = 16000  # not the standard's 8 kHz: the loaders resample
DUR = 12.0
#: set -> recording -> [(speaker, onset, duration)]; every speaker also talks alone for >= 1 s
SETS: Dict[str, Dict[str, List[tuple]]] = {
    "tr": {
        "tr1": [("a", 0.5, 3.0), ("b", 3.0, 4.0), ("a", 7.5, 2.0), ("c", 9.5, 2.0)],
        "tr2": [("b", 0.0, 2.5), ("c", 3.0, 3.0), ("b", 5.5, 3.0)],
    },
    "dv": {"dv1": [("a", 1.0, 4.0), ("c", 5.5, 4.0)]},
    "ts": {
        "ts1": [("d", 0.5, 4.0), ("e", 4.0, 3.0), ("d", 8.0, 3.5)],
        "ts2": [("e", 1.0, 3.0), ("d", 5.0, 2.0)],
    },
}
DATA_SH = """#!/usr/bin/env bash
# toy corpus: copy the prepared dirs into data/ and count the runs
set -euo pipefail
echo run >> data_sh_runs.txt
mkdir -p data
for s in tr dv ts; do rm -rf "data/${s}"; cp -r "SRC/${s}" "data/${s}"; done
"""
OPTS = [
    "--train_set",
    "tr",
    "--valid_set",
    "dv",
    "--test_sets",
    "ts",
    "--nj",
    "2",
    "--example_opts",
    "--chunk_frames 40 --chunk_hop 20",
]


def turns_of(name: str, reco: str) -> List[Turn]:
    return [Turn(reco, on, dur, f"{reco}_{spk}") for spk, on, dur in SETS[name][reco]]


def write_set(root: Path, name: str, recos=None) -> None:
    rng = np.random.default_rng(len(name))
    wav, turns = {}, []
    for reco in recos or SETS[name]:
        x = 0.001 * rng.standard_normal(int(DUR * FS))
        for k, t in enumerate(turns_of(name, reco)):
            a, b = int(t.onset * FS), int(t.end * FS)
            x[a:b] += 0.1 * np.sin(2 * np.pi * (300 + 150 * k) * np.arange(b - a) / FS)
        path = root / "audio" / f"{reco}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, x.astype(np.float32), FS, subtype="PCM_16")
        wav[reco] = str(path)
        turns += turns_of(name, reco)
    durs = {r: DUR for r in wav}
    uem = {r: [UemSegment(r, 0.0, DUR)] for r in wav}
    write_data_dir(root / name, wav_scp=wav, turns=turns, reco2dur=durs, uem=uem)


def make_toy_recipe(tmp: Path) -> Path:
    """The toy corpus under ``tmp/corpus`` and a recipe ``tmp/egs2/toy/diar1`` linked to the template."""
    for name in SETS:
        write_set(tmp / "corpus", name)
    egs2 = tmp / "egs2"
    egs2.mkdir()
    os.symlink(EGS2 / "TEMPLATE", egs2 / "TEMPLATE")
    rec = egs2 / "toy" / "diar1"
    (rec / "local").mkdir(parents=True)
    (rec / "local" / "data.sh").write_text(DATA_SH.replace("SRC", str(tmp / "corpus")))
    (rec / "local" / "data.sh").chmod(0o755)
    subprocess.run(["bash", str(TEMPLATE / "utils" / "link_recipe.sh"), str(rec)], check=True, capture_output=True)
    return rec
