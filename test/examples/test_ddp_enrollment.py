"""Random training enrollments through the task's iterator: two DDP ranks (gloo) draw for every
key and epoch exactly what one process draws."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from espnet2_tsdia.examples.example_dir import read_example_list
from test.examples.enroll_draws import draw_enrollments

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 3
pytestmark = pytest.mark.multiprocess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_ranks(example_dir: Path, tmp_path: Path) -> list:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    port = free_port()
    procs, outs = [], []
    for rank in (0, 1):
        outs.append(tmp_path / f"rank{rank}.npz")
        cmd = [sys.executable, "-m", "test.examples.enroll_draws", "--example_dir", str(example_dir)]
        cmd += ["--out", str(outs[-1]), "--epochs", str(EPOCHS), "--world_size", "2", "--rank", str(rank)]
        cmd += ["--port", str(port)]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for p in procs:
        log, _ = p.communicate(timeout=300)
        assert p.returncode == 0, log[-3000:]
    return [dict(np.load(o)) for o in outs]


def test_two_gloo_ranks_draw_the_enrollments_of_one_process(example_dir, tmp_path):
    one = draw_enrollments(example_dir, EPOCHS, distributed=False)
    ranks = two_ranks(example_dir, tmp_path)

    spans = read_example_list(example_dir / "chunks")
    assert len(one) == EPOCHS * len(spans)
    # ESPnet shards every batch over the ranks: each (epoch, key) is loaded on exactly one rank
    assert not set(ranks[0]) & set(ranks[1])
    assert set(ranks[0]) | set(ranks[1]) == set(one)
    # and chunks of one example land on both ranks (per-process draw counters broke there)
    examples_on = [{spans[k.split("/", 1)[1]].example_id for k in r} for r in ranks]
    assert examples_on[0] & examples_on[1]

    for rank in ranks:
        for key, enroll in rank.items():
            np.testing.assert_array_equal(enroll, one[key], err_msg=key)
    # every epoch draws anew
    key = next(iter(spans))
    assert any(not np.array_equal(one[f"1/{key}"], one[f"{e}/{key}"]) for e in range(2, EPOCHS + 1))
