"""DDP on CPU (gloo, 2 processes), SIGKILL mid-epoch + resume, kill during a checkpoint write."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from test.train.tiny_data import data_args, make_dataset, tiny_config, train, write_config

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.multiprocess


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e["OMP_NUM_THREADS"] = "1"
    return e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(conf: Path, out: Path, data, *extra):
    return [
        sys.executable,
        "-m",
        "test.train.train_with_hooks",
        "--config",
        str(conf),
        "--output_dir",
        str(out),
        *data_args(data),
        *extra,
    ]


def test_ddp_gloo_two_ranks_keep_identical_parameters(tmp_path):
    data = make_dataset(tmp_path / "data", n_train=16, n_valid=4)
    cfg = tiny_config("encoder", max_epoch=1, max_steps=2, ddp_static_graph=False, sync_gradient_barrier=True)
    cfg["callbacks"] = ["test_dump_params"]
    cfg["callback_conf"] = {"test_dump_params": {"dir": str(tmp_path / "dump")}}
    conf = write_config(tmp_path / "ddp.yaml", cfg)
    port = free_port()
    procs = []
    for rank in (0, 1):
        extra = [
            "--ngpu",
            "0",
            "--dist_backend",
            "gloo",
            "--dist_world_size",
            "2",
            "--dist_rank",
            str(rank),
            "--local_rank",
            str(rank),
            "--dist_master_addr",
            "127.0.0.1",
            "--dist_master_port",
            str(port),
            "--multiprocessing_distributed",
            "false",
        ]
        log = open(tmp_path / f"rank{rank}.log", "w")
        procs.append(
            subprocess.Popen(
                command(conf, tmp_path / "exp", data, *extra), env=env(), stdout=log, stderr=subprocess.STDOUT
            )
        )
    codes = [p.wait(timeout=240) for p in procs]
    assert codes == [0, 0], (tmp_path / "rank0.log").read_text()[-3000:] + (tmp_path / "rank1.log").read_text()[-3000:]
    dump = tmp_path / "dump"
    for step in (1, 2):
        a = torch.load(dump / f"rank0.step{step}.pt")
        b = torch.load(dump / f"rank1.step{step}.pt")
        assert a.keys() == b.keys()
        for k in a:
            assert torch.allclose(a[k], b[k], atol=1e-6), (step, k)
    # The ranks read different batches (ESPnet shards each batch), yet agree: synchronised.
    s1, s2 = torch.load(dump / "rank0.step1.pt"), torch.load(dump / "rank0.step2.pt")
    assert not torch.equal(s1["network.head.weight"], s2["network.head.weight"])


def latest_step(path: Path) -> int:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)["position"]["step"]
    except Exception:  # noqa: BLE001 - absent or being replaced
        return -1


def test_sigkill_mid_epoch_then_resume_gives_the_same_model(tmp_path):
    data = make_dataset(tmp_path / "data", n_train=16, n_valid=4)
    base = tiny_config("encoder", max_epoch=2, batch_size=2, checkpoint_interval_steps=1)
    base["encoder_conf"]["dropout"] = 0.2  # exercises the RNG state in the checkpoint
    # The uninterrupted reference runs in this process (one thread, like the subprocesses).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(tmp_path, base, out="ref", data=data)
    finally:
        torch.set_num_threads(threads)

    slow = dict(base, callbacks=["test_slow"], callback_conf={"test_slow": {"seconds": 0.15}})
    conf = write_config(tmp_path / "run.yaml", slow)
    out = tmp_path / "run"
    proc = subprocess.Popen(command(conf, out, data), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 200
    while latest_step(out / "checkpoint.pth") < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = latest_step(out / "checkpoint.pth")
    assert 3 <= killed_at < 8, killed_at  # 8 steps per data epoch: killed inside epoch 1
    done = subprocess.run(
        command(conf, out, data, "--resume", "true"), env=env(), capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    a = torch.load(tmp_path / "ref" / "checkpoint.pth", weights_only=False)
    b = torch.load(out / "checkpoint.pth", weights_only=False)
    assert a["position"] == b["position"] and a["position"]["step"] == 16
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k


KILL_DURING_SAVE = """
import sys, torch
from espnet2_tsdia.train.checkpoint import atomic_save
big = {"v": torch.ones(64 * 1024 * 1024 // 4)}
while True:
    atomic_save(big, sys.argv[1])
"""


def test_kill_during_checkpoint_write_leaves_previous_loadable(tmp_path):
    from espnet2_tsdia.train.checkpoint import atomic_save

    path = tmp_path / "checkpoint.pth"
    atomic_save({"v": torch.arange(5)}, path)
    proc = subprocess.Popen([sys.executable, "-c", KILL_DURING_SAVE, str(path)], env=env())
    deadline = time.time() + 60
    while not list(tmp_path.glob(".checkpoint.pth.*.tmp")) and time.time() < deadline:
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    state = torch.load(path, weights_only=False)  # never a truncated file
    leftovers = list(tmp_path.glob(".checkpoint.pth.*.tmp"))
    if leftovers:  # killed inside the first write: the previous checkpoint is intact
        assert torch.equal(state["v"], torch.arange(5))
    else:  # the write completed just before the kill
        assert state["v"].numel() == 64 * 1024 * 1024 // 4
