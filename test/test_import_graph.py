"""The package's import graph has no cycles, and every module imports on its own.

The layers (docs/design.md, "Layers") only import downwards: formats and audio at the bottom,
then frontend, labels, data dirs, simulate, target-speaker examples, the model stacks, training,
the task, config, inference, and the command-line tools on top. A cycle between two modules, or
between two packages, breaks that order even when Python happens to resolve it; a module that
imports only after another one was imported first hides one.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Set

import networkx as nx
import pytest

PACKAGE = "espnet2_tsdia"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def all_modules() -> Dict[str, Path]:
    mods = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def imported_modules(name: str, path: Path, known: Set[str]) -> Set[str]:
    """Every module of the package that ``name`` imports, at any depth of its code."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            candidates = [module] + [f"{module}.{a.name}" for a in node.names]
        else:
            continue
        found.update(c for c in candidates if c in known and c != name)
    return found


def import_graph() -> nx.DiGraph:
    mods = all_modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(mods)
    for name, path in mods.items():
        graph.add_edges_from((name, target) for target in imported_modules(name, path, set(mods)))
    return graph


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    # a deferred import (inside a function) is an edge like any other
    assert graph.has_edge("espnet2_tsdia.inference.pack", "espnet2_tsdia.inference.model_files")
    assert graph.has_edge("espnet2_tsdia.formats.rttm", "espnet2_tsdia.formats.kaldi")


def test_no_module_imports_itself_back():
    cycles = sorted(sorted(c) for c in nx.simple_cycles(import_graph()))
    assert cycles == []


def test_no_package_imports_itself_back():
    packages = nx.DiGraph()
    for a, b in import_graph().edges:
        pa, pb = package_of(a), package_of(b)
        if pa != pb and PACKAGE not in (pa, pb):
            packages.add_edge(pa, pb)
    cycles = sorted(sorted(c) for c in nx.simple_cycles(packages))
    assert cycles == []


def test_the_bottom_layers_import_nothing_above_them():
    allowed = {
        "espnet2_tsdia.formats": {"espnet2_tsdia.formats", "espnet2_tsdia.utils"},
        "espnet2_tsdia.utils": {"espnet2_tsdia.utils"},
        "espnet2_tsdia.audio": {"espnet2_tsdia.audio", "espnet2_tsdia.formats", "espnet2_tsdia.utils"},
    }
    bad = [
        (a, b)
        for a, b in import_graph().edges
        if package_of(a) in allowed and package_of(b) not in allowed[package_of(a)]
    ]
    assert bad == []


ISOLATION_SCRIPT = r"""
import importlib, os, sys, traceback
# third-party dependencies once, in the parent; each module of ours then in a fresh child
import numpy, torch, scipy, yaml  # noqa: F401
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failed.append(name)
print("FAILED:" + ",".join(failed))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="isolation by fork needs a POSIX system")
def test_every_module_imports_on_its_own():
    # each module is the first of the package that a fresh interpreter imports: an import that
    # works only after another module was loaded first (a hidden cycle) fails here
    names = sorted(all_modules())
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", ISOLATION_SCRIPT, *names],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT.parent,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    failed = proc.stdout.strip().rsplit("FAILED:", 1)[-1]
    assert failed == "", proc.stderr[-3000:]
