"""Fixtures of the simulation tests (the helper lives in sim_tone_corpus.py so other test folders can import it)."""

import pytest

from test.simulate.sim_tone_corpus import write_tone_corpus


@pytest.fixture
def tone_corpus(tmp_path):
    return write_tone_corpus(tmp_path / "corpus")
