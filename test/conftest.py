"""Shared pytest fixtures.

``real_annotations``: the folder of unmodified corpus annotation files (RTTM, UEM, lists) that
ship with the repository in ``test/fixtures/real_annotations``; ``test/fixtures/SOURCES.md`` says
where each file comes from (repository, commit, licence) and which quirk it carries.
"""

from pathlib import Path

import pytest

REAL_ANNOTATIONS = Path(__file__).resolve().parent / "fixtures" / "real_annotations"


@pytest.fixture(scope="session")
def real_annotations() -> Path:
    return REAL_ANNOTATIONS
