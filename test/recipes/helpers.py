"""Helpers of the recipe tests (test/recipes): scratch copies of recipes and running their shell scripts.

A scratch recipe is ``<tmp>/egs2/<name>/diar1``: the recipe's own files copied, its symlinks
copied as they are (the committed relative links), and ``<tmp>/egs2/TEMPLATE`` a link to the
repository's template. So the runs use exactly the committed links, ``path.sh`` finds this
repository from its real location, and nothing is written into the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Optional, Sequence

import pytest

REPO = Path(__file__).resolve().parents[2]
EGS2 = REPO / "egs2"
TEMPLATE = EGS2 / "TEMPLATE" / "tsdia1"
# generated outputs of a recipe (git-ignored); never copied into a scratch recipe
GENERATED = {"data", "dump", "exp", "db", "downloads"}


def need_install() -> None:
    """Skip when the venv activation script (written by tools/install.sh) is missing."""
    if not (REPO / "tools" / "activate_python.sh").is_file():
        pytest.skip("tools/activate_python.sh missing: run tools/install.sh first")


def scratch_recipe(tmp: Path, name: str, *, src: Optional[Path] = None) -> Path:
    """A copy of ``egs2/<name>/diar1`` (or of ``src``) under ``tmp/egs2/<name>/diar1``."""
    src = src or EGS2 / name / "diar1"
    egs2 = tmp / "egs2"
    egs2.mkdir(parents=True, exist_ok=True)
    if not (egs2 / "TEMPLATE").exists():
        os.symlink(EGS2 / "TEMPLATE", egs2 / "TEMPLATE")
    dest = egs2 / name / "diar1"
    shutil.copytree(
        src, dest, symlinks=True, ignore=lambda d, names: [n for n in names if Path(d) == src and n in GENERATED]
    )
    return dest


def run(
    cmd: Sequence[str], cwd: Path, env: Optional[Dict[str, str]] = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run a recipe command with the local backend and one thread per job."""
    full = {k: v for k, v in os.environ.items() if k not in ("cmd_backend", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    full.update({"OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    full.update(env or {})
    return subprocess.run(list(cmd), cwd=str(cwd), env=full, capture_output=True, text=True, timeout=timeout)


def check(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-5000:]}"
    )
    return proc
