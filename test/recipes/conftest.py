"""Recipe tests: the ``demo`` marker (the offline demo end to end; ``pytest -m demo`` runs it
alone, ``-m "not demo"`` leaves it out). Helpers are in :mod:`test.recipes.helpers`."""


def pytest_configure(config):
    config.addinivalue_line("markers", "demo: the offline demo recipe end to end (tiny size, about 1-2 minutes)")
