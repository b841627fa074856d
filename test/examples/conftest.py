"""Fixtures of the target-speaker example tests."""

import pytest

from espnet2_tsdia.examples.enrollment import EnrollOptions
from espnet2_tsdia.examples.example_dir import ExampleDirOptions, make_example_dir
from espnet2_tsdia.examples.features import extract_example_dir

from ..frontend.synth import make_data_dir


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory):
    """An example dir with chunks (200 frames, hop 100) and stored features, of two synthetic
    recordings (test/frontend/synth.py)."""
    root = tmp_path_factory.mktemp("dt")
    data = make_data_dir(root)
    out = data / "tsdia"
    make_example_dir(
        data, out, ExampleDirOptions(enroll=EnrollOptions(min_enroll=1.5), chunk_frames=200, chunk_hop=100)
    )
    extract_example_dir(out)
    return out
