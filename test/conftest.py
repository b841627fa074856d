"""Shared pytest fixtures.

``real_annotations``: the folder of unmodified corpus annotation files (RTTM, UEM, lists) in
``$TSDIA_SHARED/fixtures/real_annotations`` (``TSDIA_SHARED`` defaults to ``<repo>/../shared``).
Tests that use it are skipped, with the path in the reason, when it is absent.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("TSDIA_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def real_annotations() -> Path:
    path = shared_dir() / "fixtures" / "real_annotations"
    if not path.is_dir():
        pytest.skip(f"real annotation fixtures not found at {path} (set TSDIA_SHARED to the shared folder)")
    return path


def pytest_configure(config):
    # used under test/train and test/recipes (registered here so either folder runs alone cleanly)
    config.addinivalue_line("markers", "multiprocess: spawns training processes (DDP, SIGKILL); short, runs in CI")
