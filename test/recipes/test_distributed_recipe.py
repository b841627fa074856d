"""Training on several processes from the recipe (tsdia.sh stage 5), on CPU with gloo.

The toy recipe of test_tsdia_stages.py trains a tiny model whose config is in the plan's layout
with every ``training.distributed.*`` key set, so the checklist keys are followed from the yaml to
the DistributedDataParallel object (its construction log, TORCH_DISTRIBUTED_DEBUG=INFO):

- ``./tsdia.sh --ngpu 0 --num_nodes 2`` with the local backend: two "node" processes on this
  machine with the options ESPnet's launcher gives each node;
- ``cmd_backend=slurm ./tsdia.sh --ngpu 0 --num_nodes 2``: ESPnet's launcher through
  utils/slurm.pl, with stand-in sbatch/srun commands (srun starts one task per node here, with
  the SLURM_* variables ESPnet reads).

Each run uses test/train/train_with_hooks.py (through a ``--python`` wrapper), whose
``test_dump_params`` callback saves every rank's parameters after every optimizer step: the two
ranks read different halves of each batch (ESPnet shards every batch over the ranks, so an epoch
has as many steps as on one process) and still hold the same parameters after every step.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Dict, List

import pytest
import torch
import yaml

from test.recipes.helpers import REPO, check, run
from test.recipes.toy import OPTS

pytestmark = pytest.mark.multiprocess

STEPS = 5  # 25 training chunks, batches of 5, one epoch
#: DDP and gloo write their construction details to each rank's log
DEBUG_ENV = {"TORCH_DISTRIBUTED_DEBUG": "INFO", "TORCH_CPP_LOG_LEVEL": "INFO"}

PYTHON_WRAPPER = """#!/usr/bin/env bash
# tsdia.sh --python: the venv's Python, running the trainer with the test callbacks registered
args=()
for a in "$@"; do [ "$a" = espnet2_tsdia.bin.tsdia_train ] && a=test.train.train_with_hooks; args+=("$a"); done
PYTHONPATH=REPO${PYTHONPATH:+:$PYTHONPATH} exec REPO/tools/venv/bin/python "${args[@]}"
"""

FAKE_SBATCH = """#!/usr/bin/env bash
# stand-in for "sbatch --wait --nodes=N ... SCRIPT": runs the job script here as an N-node job
echo "sbatch $*" >> "$FAKE_SLURM_LOG"
nodes=1 script=""
for a in "$@"; do case "$a" in --nodes=*) nodes=${a#--nodes=} ;; -*) ;; *) script=$a ;; esac; done
echo "Submitted batch job 9"
SLURM_JOB_ID=9 SLURM_NNODES=$nodes SLURM_JOB_NUM_NODES=$nodes SLURM_JOB_NODELIST=localhost bash "$script"
"""
FAKE_SRUN = """#!/usr/bin/env bash
# stand-in for srun inside an allocation: one task per node of the job, all started here, with
# the variables of a Slurm job step
echo "srun $*" >> "$FAKE_SLURM_LOG"
while [[ ${1:-} == -* ]]; do shift; done
n=${SLURM_NNODES:-1} pids=()
for ((i = 0; i < n; i++)); do
    SLURM_JOB_ID=${SLURM_JOB_ID:-8} SLURM_PROCID=$i SLURM_NTASKS=$n SLURM_NODEID=$i SLURM_LOCALID=0 \\
        SLURM_STEP_NUM_NODES=$n SLURM_STEP_NUM_TASKS=$n SLURM_STEP_NODELIST=localhost "$@" &
    pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
exit $rc
"""

CONFIG = {
    "model_type": "encoder",
    "name": "ddp_tiny",
    "global_config": {"dropout": 0.0, "d_ff": 2},
    "encoder": {"d_model": 16, "num_layers": 1, "num_heads": 2, "attention_type": "softmax"},
    "training": {
        "epochs": 1,
        "batch_size": 5,
        "random_seed": 3,
        "optimizer": {"type": "sgd", "lr": 0.1},
        "validation": {"batch_size": 5},
        "distributed": {
            "backend": "gloo",
            "find_unused_parameters": True,
            "gradient_as_bucket_view": True,
            "static_graph": True,
            "sync_gradient_barrier": True,
        },
        "logging": {"tensorboard": False},
        "performance": {"num_workers": 0},
        "callbacks": [],  # set per test: test_dump_params with its dir
    },
    "espnet": {"frontend": None, "input_size": 345, "batch_type": "unsorted", "use_matplotlib": False},
}


@pytest.fixture(scope="module")
def prepared(recipe, tmp_path_factory) -> Path:
    """The toy recipe through stage 4 (local backend), and a --python wrapper."""
    cfg = yaml.safe_load(yaml.safe_dump(CONFIG))
    del cfg["training"]["callbacks"]
    (recipe / "conf" / "ddp_stats.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    check(
        run(["./tsdia.sh", *OPTS, "--train_config", "conf/ddp_stats.yaml", "--stage", "1", "--stop_stage", "4"], recipe)
    )
    wrapper = recipe / "python_hooks.sh"
    wrapper.write_text(PYTHON_WRAPPER.replace("REPO", str(REPO)))
    wrapper.chmod(0o755)
    return recipe


def write_config(rec: Path, name: str, dump: Path) -> str:
    cfg = yaml.safe_load(yaml.safe_dump(CONFIG))
    cfg["training"]["callbacks"] = [{"name": "test_dump_params", "dir": str(dump)}]
    (rec / "conf" / f"{name}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return f"conf/{name}.yaml"


def train(rec: Path, name: str, extra: List[str], env: Dict[str, str], timeout: int = 240):
    dump = rec / "dump_params" / name
    conf = write_config(rec, name, dump)
    cmd = [
        "./tsdia.sh",
        *OPTS,
        "--train_config",
        conf,
        "--python",
        str(rec / "python_hooks.sh"),
        "--stage",
        "5",
        "--stop_stage",
        "5",
    ]
    return cmd + extra, run(cmd + extra, rec, env={**DEBUG_ENV, **env}, timeout=timeout), dump


def check_two_ranks_in_sync(dump: Path) -> None:
    """Both ranks stepped STEPS times and hold the same parameters after every step."""
    assert sorted(p.name for p in dump.glob("rank*.pt")) == sorted(
        f"rank{r}.step{s}.pt" for r in (0, 1) for s in range(1, STEPS + 1)
    )
    for s in range(1, STEPS + 1):
        a, b = torch.load(dump / f"rank0.step{s}.pt"), torch.load(dump / f"rank1.step{s}.pt")
        assert a.keys() == b.keys()
        for k in a:
            assert torch.allclose(a[k], b[k], atol=1e-6), (s, k)
    first, last = torch.load(dump / "rank0.step1.pt"), torch.load(dump / f"rank0.step{STEPS}.pt")
    assert any(not torch.equal(first[k], last[k]) for k in first)  # it did train


def check_ddp_log(text: str, rank: int) -> None:
    """DDP's construction record of one rank: the group of 2 and the checklist's knobs."""
    block = text[text.index(f"[Rank {rank}]: DDP Initialized with:") :]
    for line in (
        "world_size: 2",
        f"rank: {rank}",
        "backend_name: gloo",
        "find_unused_parameters: 1",
        "gradient_as_bucket_view: 1",
    ):
        assert re.search(rf"^{re.escape(line)}$", block, re.M), line
    # static_graph is set after construction; DDP says so (it finds unused parameters itself)
    assert "`_set_static_graph` will detect unused parameters automatically" in text


def check_config(exp: Path, launcher=None) -> None:
    """config.yaml of rank 0; under Slurm ESPnet reads the rank and world size from SLURM_*."""
    cfg = yaml.safe_load((exp / "config.yaml").read_text())
    assert (cfg["distributed"], cfg["dist_backend"], cfg["dist_launcher"]) == (True, "gloo", launcher)
    assert (cfg["dist_world_size"], cfg["dist_rank"]) == ((2, 0) if launcher is None else (None, None))
    assert cfg["dist_init_method"].startswith(f"file://{exp.resolve()}/.dist_init_")
    assert (
        cfg["unused_parameters"],
        cfg["gradient_as_bucket_view"],
        cfg["ddp_static_graph"],
        cfg["sync_gradient_barrier"],
    ) == (True, True, True, True)


@pytest.mark.slow
def test_two_local_nodes_train_in_one_process_group(prepared):
    """--ngpu 0 --num_nodes 2, local backend: two processes here, one gloo group."""
    rec = prepared
    cmd, proc, dump = train(rec, "ddp_local", ["--ngpu", "0", "--num_nodes", "2", "--train_threads", "1"], {})
    check(proc)
    exp = rec / "exp" / "tsdia_ddp_local"
    # one log per rank (no launcher log): the two nodes ran here as processes
    assert (exp / "valid.loss.ave.pth").exists() and not (exp / "train.log").exists()
    assert " ngpu=0 num_nodes=2 input=" in (exp / ".train.done").read_text()
    assert not list(exp.glob(".dist_init_*"))  # the rendezvous file is removed
    logs = [(exp / f"train.{r}.log").read_text() for r in (0, 1)]
    for r, text in enumerate(logs):
        head = text.splitlines()[0]
        assert (
            f"--dist_rank {r} --dist_world_size 2 --dist_init_method file://" in head and "--dist_backend gloo" in head
        )
        assert text.rstrip().endswith("exit status 0")
        check_ddp_log(text, r)
    # ESPnet logs only rank 0 (its records name the rank and the world size)
    host = socket.gethostname().split(".")[0]
    assert f"[{host}:0/2]" in logs[0] and "1epoch results" in logs[0]
    assert "1epoch results" not in logs[1]
    check_config(exp)
    check_two_ranks_in_sync(dump)
    # a rerun with the same settings is skipped
    again = check(run(cmd, rec, timeout=120))
    assert "Stage 5: exp/tsdia_ddp_local already trained; skipped" in again.stderr


def fake_slurm(tmp: Path) -> Dict[str, str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", FAKE_SRUN)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return {"cmd_backend": "slurm", "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_SLURM_LOG": str(tmp / "calls.txt")}


@pytest.mark.slow
def test_two_slurm_nodes_through_espnet_launcher(prepared, tmp_path):
    """cmd_backend=slurm --ngpu 0 --num_nodes 2: ESPnet's launcher -> utils/slurm.pl -> one
    2-node sbatch job whose srun starts a task per node (--dist_launcher slurm)."""
    rec = prepared
    slurm_pl = rec / "utils" / "slurm.pl"
    if not slurm_pl.exists():
        pytest.skip("utils/slurm.pl (run_slurm.sh with --num_nodes) is not in the template yet")
    env = fake_slurm(tmp_path)
    cmd, proc, dump = train(rec, "ddp_slurm", ["--ngpu", "0", "--num_nodes", "2", "--train_threads", "1"], env)
    check(proc)
    exp = rec / "exp" / "tsdia_ddp_slurm"
    assert (exp / "valid.loss.ave.pth").exists() and (exp / "train.log").is_file()
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert len(calls) == 2 and calls[0].startswith("sbatch --wait ") and "--nodes=2 --ntasks-per-node=1" in calls[0]
    assert calls[1].startswith("srun --export=ALL env OMP_NUM_THREADS=1 ")
    assert "--multiprocessing_distributed true --dist_launcher slurm --dist_init_method file://" in calls[1]
    assert calls[1].endswith("--dist_backend gloo")
    launch = (exp / "launch.log").read_text()
    assert "2nodes and 0gpu-per-node using srun" in launch
    log = (exp / "train.log").read_text()  # the job's log: both tasks write to it
    assert "(Slurm job 9)" in log.splitlines()[1] and log.rstrip().endswith("exit status 0")
    check_ddp_log(log, 0)
    check_ddp_log(log, 1)
    assert " ngpu=0 num_nodes=2 input=" in (exp / ".train.done").read_text()
    check_config(exp, launcher="slurm")
    check_two_ranks_in_sync(dump)


def test_num_nodes_errors(recipe):
    for value in ("0", "x", "-1"):
        proc = run(["./tsdia.sh", *OPTS, "--num_nodes", value], recipe)
        assert proc.returncode == 1 and f"--num_nodes must be a positive integer, got '{value}'" in proc.stderr
    proc = run(["./tsdia.sh", *OPTS, "--num_nodes", "2", "--ngpu", "1"], recipe)
    assert proc.returncode == 1
    assert "--num_nodes 2 with the local backend runs the nodes on this machine, CPU only (--ngpu 0)" in proc.stderr
    help_text = run(["./tsdia.sh", "--help"], recipe).stdout
    assert re.search(r"^  --num_nodes\s+1\s+nodes for training", help_text, re.M)
