"""Fixtures of the recipe tests: the toy recipe (test/recipes/toy.py) and private Slurm clusters
(test/recipes/slurm_cluster.py). Helpers are in :mod:`test.recipes.helpers`."""

from pathlib import Path
from typing import Iterator

import pytest

from test.recipes.helpers import need_install
from test.recipes.slurm_cluster import SlurmCluster, cluster_or_skip
from test.recipes.toy import make_toy_recipe


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    """The toy recipe, linked to the template like the real ones, with its own local/data.sh
    (one per test module: a module's tests share its state)."""
    need_install()
    return make_toy_recipe(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory) -> Iterator[SlurmCluster]:
    """A running private single-node Slurm cluster (skips, with the reason, where none can run)."""
    yield from cluster_or_skip(tmp_path_factory, 1)


@pytest.fixture(scope="module")
def slurm_two_nodes(tmp_path_factory) -> Iterator[SlurmCluster]:
    """A running private cluster of two nodes on this host (two slurmd; skips where none can run)."""
    yield from cluster_or_skip(tmp_path_factory, 2)
