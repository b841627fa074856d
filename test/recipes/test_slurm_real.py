"""The Slurm job backend on a real (private, single-node) Slurm cluster: utils/run_slurm.sh with
job arrays, single jobs, commands that start with srun (ESPnet's launcher), interrupts and
refused jobs, then the toy recipe of test_tsdia_stages with ``cmd_backend=slurm`` through stages
1-3 (feature extraction as a job array) and 4-6 (statistics array, training with srun, inference
array). On a two-node cluster (two slurmd on this host): one task per node, and stage 5 with
``--num_nodes 2`` (ESPnet's launcher, DDP over gloo). Skipped, with the reason, where no cluster
can be started (see slurm_cluster.py). About 2.5 minutes on 2 cores."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from test.recipes.helpers import EGS2, TEMPLATE, check, run
from test.recipes.slurm_cluster import SlurmCluster
from test.recipes.toy import OPTS, SETS

pytestmark = pytest.mark.slow
SLURM_PL = TEMPLATE / "utils" / "slurm.pl"
#: the test cluster has no GPU partition: no gpu line (tsdia.sh passes --gpu 0, which adds nothing)
TEST_SLURM_CONF = """# conf/slurm.conf of the Slurm tests: one CPU partition, no GPUs
default --export=ALL --time=30:00
mem --mem={}
num_threads --cpus-per-task={}
num_nodes --nodes={} --ntasks-per-node=1
time --time={}
"""
JOB_HEADER = re.compile(r"^# started .* \(Slurm job ([0-9]+)\)$")


def slurm(cluster: SlurmCluster, cwd: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SLURM_PL), "--config", "conf/slurm.conf", *args],
        cwd=cwd,
        env=cluster.environ(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def job_id(log: Path) -> int:
    """The Slurm job id in a log's header (written by the job script inside the job)."""
    m = JOB_HEADER.match(log.read_text().splitlines()[1])
    assert m, f"{log}: no Slurm job in the header: {log.read_text()[:300]}"
    return int(m.group(1))


def body(log: Path) -> List[str]:
    return log.read_text().splitlines()[2:-1]


@pytest.fixture
def workdir(tmp_path) -> Path:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "slurm.conf").write_text(TEST_SLURM_CONF)
    return tmp_path


def test_job_array_and_single_jobs(slurm_cluster, workdir):
    # an array of 3 tasks on a 2-CPU node, at most 2 at a time
    out = slurm(slurm_cluster, workdir, "--mem", "100M", "--max_jobs", "2", "JOB=1:3", "exp/log/f.JOB.log",
                "bash", "-c", 'echo "part JOB of $0 task $SLURM_ARRAY_TASK_ID on $(hostname -s)"', "a b")  # fmt: skip
    assert out.returncode == 0, out.stderr
    logs = [workdir / "exp" / "log" / f"f.{j}.log" for j in (1, 2, 3)]
    for j, log in enumerate(logs, 1):
        assert body(log) == [f"part {j} of a b task {j} on {slurm_cluster.node}"]
        assert log.read_text().splitlines()[-1].endswith("exit status 0")
    assert len({job_id(log) for log in logs}) == 3  # every task is its own Slurm job
    assert re.fullmatch(
        r"Submitted batch job [0-9]+\n", (workdir / "exp" / "log" / "q" / "f.all.sbatch.out").read_text()
    )

    # a failing task: exit status 1 and its log named, the others still ran
    out = slurm(slurm_cluster, workdir, "JOB=1:3", "exp/log/g.JOB.log", "bash", "-c", "echo g JOB; [ JOB != 2 ]")
    assert out.returncode == 1 and "failed: exp/log/g.2.log " in out.stderr and "exit status 1" in out.stderr
    assert [body(workdir / "exp" / "log" / f"g.{j}.log") for j in (1, 3)] == [["g 1"], ["g 3"]]

    # a single job runs through srun, with the config's flags (2 CPUs for --num_threads 2)
    out = slurm(
        slurm_cluster,
        workdir,
        "--num_threads",
        "2",
        "--time",
        "5:00",
        "exp/one.log",
        "bash",
        "-c",
        "echo one; printenv SLURM_JOB_NAME SLURM_CPUS_PER_TASK SLURM_STEP_ID",
    )
    assert out.returncode == 0, out.stderr
    assert body(workdir / "exp" / "one.log") == ["one", "one", "2", "0"] and job_id(workdir / "exp" / "one.log") > 0
    out = slurm(slurm_cluster, workdir, "exp/bad.log", "bash", "-c", "echo failing; exit 3")
    assert (
        out.returncode == 1
        and "srun exited with status 3; failed: exp/bad.log " in out.stderr
        and "failing" in out.stderr
    )


def test_srun_commands_and_espnet_launcher(slurm_cluster, workdir):
    # ESPnet's launcher form (slurm.pl ... LOG srun --export=ALL CMD): one sbatch allocation whose
    # script runs the srun; the step gets the allocation's CPUs (SRUN_CPUS_PER_TASK)
    out = slurm(slurm_cluster, workdir, "--gpu", "0", "--num_threads", "2", "--num_nodes", "1", "exp/train.log",
                "srun", "--export=ALL", "bash", "-c", "echo rank $SLURM_PROCID of $SLURM_NTASKS step $SLURM_STEP_ID cpus $SLURM_CPUS_PER_TASK")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert body(workdir / "exp" / "train.log") == ["rank 0 of 1 step 0 cpus 2"]
    assert (workdir / "exp" / "q" / "train.sbatch.out").read_text().startswith("Submitted batch job ")
    out = slurm(slurm_cluster, workdir, "exp/fail.log", "srun", "bash", "-c", "exit 4")
    assert out.returncode == 1 and "sbatch exited with status 4; failed: exp/fail.log " in out.stderr

    # ESPnet's own launcher on one node: "${cmd} --gpu 0 LOG COMMAND ... --ngpu 0 ..." through srun
    launch = [
        sys.executable,
        "-m",
        "espnet2.bin.launch",
        "--cmd",
        f"{SLURM_PL} --config conf/slurm.conf",
        "--log",
        "exp/launch.log",
        "--ngpu",
        "0",
        "--num_nodes",
        "1",
    ]
    proc = subprocess.run(
        [*launch, "--", "bash", "-c", 'echo "launched $SLURM_JOB_ID $*"', "x"],
        cwd=workdir,
        env=slurm_cluster.environ(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    launched = body(workdir / "exp" / "launch.log")
    assert launched == [
        f"launched {job_id(workdir / 'exp' / 'launch.log')} --ngpu 0 --multiprocessing_distributed True"
    ]


def test_multi_node_job_is_one_allocation_and_interrupt_cancels(slurm_cluster, workdir):
    """--num_nodes 2 asks for 2 nodes with one task each; on this 1-node cluster the job waits,
    and interrupting run_slurm.sh cancels it."""
    env = slurm_cluster.environ()
    proc = subprocess.Popen(
        [str(SLURM_PL), "--config", "conf/slurm.conf", "--num_nodes", "2", "exp/two.log", "srun", "hostname"],
        cwd=workdir,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        queued = ""
        for _ in range(60):
            queued = slurm_cluster.client("squeue", "-h", "-n", "two", "-o", "%i %t %D %b").stdout.strip()
            if queued:
                break
            time.sleep(0.25)
        jobid, state, nodes = queued.split()[:3]
        assert (state, nodes) == ("PD", "2")
        info = slurm_cluster.client("scontrol", "show", "job", jobid).stdout
        assert "NumNodes=2" in info and "NumTasks=2" in info
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and f"cancelled Slurm job {jobid} sbatch of exp/two.log" in err
    assert slurm_cluster.client("squeue", "-h", "-j", jobid, "-t", "PD,R").stdout.strip() == ""


def test_refused_job_shows_slurms_message(slurm_cluster, workdir):
    (workdir / "conf" / "slurm.conf").write_text("default --partition=nosuchpartition\n")
    out = slurm(slurm_cluster, workdir, "JOB=1:2", "x.JOB.log", "true")
    assert out.returncode == 1 and "failed: x.1.log x.2.log" in out.stderr
    assert "invalid partition specified: nosuchpartition" in out.stderr


# ------------------------------------------------------------------------------ the toy recipe


@pytest.fixture(scope="module")
def slurm_recipe(recipe, slurm_cluster) -> Path:
    """The toy recipe with its own conf/slurm.conf (a file in place of the template's link)."""
    conf = recipe / "conf" / "slurm.conf"
    conf.unlink()
    conf.write_text(TEST_SLURM_CONF)
    return recipe


def run_slurm_recipe(
    cluster: SlurmCluster, recipe: Path, *args: str, timeout: int = 240
) -> subprocess.CompletedProcess:
    return run(
        ["./tsdia.sh", *OPTS, *args],
        recipe,
        env={"cmd_backend": "slurm", "SLURM_CONF": str(cluster.conf)},
        timeout=timeout,
    )


def test_recipe_stages_1_to_3_on_slurm(slurm_cluster, slurm_recipe):
    check(run_slurm_recipe(slurm_cluster, slurm_recipe, "--stage", "1", "--stop_stage", "3"))
    logs = sorted(p.name for p in (slurm_recipe / "dump" / "tr" / "tsdia" / "log").glob("extract_feats.*.log"))
    assert logs == ["extract_feats.0.log", "extract_feats.1.log"]  # a job array of 2 (the 2 recordings)
    for s in ("tr", "dv", "ts"):
        ex = slurm_recipe / "dump" / s / "tsdia"
        job_id(ex / "log" / "make_examples.log")  # a single job: srun
        assert (ex / "log" / "q" / "make_examples.srun.out").is_file()
    # the nj feature extraction of the train set: one array of 2 tasks, each its own Slurm job
    ex = slurm_recipe / "dump" / "tr" / "tsdia"
    ids = {job_id(ex / "log" / f"extract_feats.{j}.log") for j in (0, 1)}
    assert len(ids) == 2
    assert (ex / "log" / "q" / "extract_feats.all.sbatch.out").read_text().startswith("Submitted batch job ")
    assert len((ex / "feats.scp").read_text().splitlines()) == len(SETS["tr"])


def test_recipe_training_and_inference_on_slurm(slurm_cluster, slurm_recipe):
    """Stages 4-6 with the offline demo's tiny config: statistics as an array, training as one
    srun job (2 CPUs), inference as an array; the model decodes the test set to hyp.rttm."""
    if not (slurm_recipe / "dump" / "dv" / "tsdia" / ".feats.done").is_file():
        check(run_slurm_recipe(slurm_cluster, slurm_recipe, "--stage", "1", "--stop_stage", "3"))
    config = EGS2 / "offline_demo" / "diar1" / "conf" / "train_demo_tiny.yaml"
    check(
        run_slurm_recipe(
            slurm_cluster,
            slurm_recipe,
            "--train_config",
            str(config),
            "--tag",
            "tiny",
            "--inference_nj",
            "2",
            "--stage",
            "4",
            "--stop_stage",
            "6",
            timeout=400,
        )
    )
    exp = slurm_recipe / "exp" / "tsdia_tiny"
    stats = sorted((slurm_recipe / "exp" / "tsdia_stats_fbank_tr" / "logdir").glob("stats.*.log"))
    assert len(stats) == 2 and len({job_id(p) for p in stats}) == 2
    train_log = exp / "train.log"
    job_id(train_log)
    assert (exp / "q" / "train.srun.out").is_file() and (exp / "valid.loss.ave.pth").exists()
    out = exp / "decode_valid.loss.ave" / "ts"
    infer = sorted((out / "logdir").glob("inference.*.log"))
    assert len(infer) == 2 and len({job_id(p) for p in infer}) == 2
    assert (out / "logdir" / "q" / "inference.all.sbatch.out").read_text().startswith("Submitted batch job ")
    hyp = (out / "hyp.rttm").read_text().splitlines()  # a one-epoch model may find little speech
    assert all(ln.split()[0] == "SPEAKER" and ln.split()[1] in SETS["ts"] for ln in hyp)
    assert len((out / "posteriors.scp").read_text().splitlines()) == sum(
        len({t[0] for t in v}) for v in SETS["ts"].values()
    )


# ------------------------------------------------------------------------------ two nodes


def test_two_nodes_one_task_each(slurm_two_nodes, workdir):
    """ESPnet's launcher form with --num_nodes 2: one allocation of both nodes, whose srun runs
    one task on each (the step inherits the allocation's CPUs per task)."""
    out = slurm(slurm_two_nodes, workdir, "--gpu", "0", "--num_threads", "1", "--num_nodes", "2", "exp/two.log",
                "srun", "--export=ALL", "bash", "-c", "echo task $SLURM_PROCID of $SLURM_NTASKS on $SLURMD_NODENAME cpus $SRUN_CPUS_PER_TASK")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert sorted(body(workdir / "exp" / "two.log")) == ["task 0 of 2 on n1 cpus 1", "task 1 of 2 on n2 cpus 1"]
    job_id(workdir / "exp" / "two.log")


def test_recipe_training_on_two_nodes(slurm_cluster, slurm_two_nodes, slurm_recipe):
    """tsdia.sh stage 5 with --num_nodes 2: ESPnet's launcher submits utils/slurm.pl, whose one
    2-node allocation runs a DDP training (gloo, one CPU process per node)."""
    config = EGS2 / "offline_demo" / "diar1" / "conf" / "train_demo_tiny.yaml"
    if not (slurm_recipe / "exp" / "tsdia_stats_fbank_tr" / ".done").is_file():
        check(
            run_slurm_recipe(
                slurm_cluster, slurm_recipe, "--train_config", str(config), "--stage", "1", "--stop_stage", "4"
            )
        )
    proc = run_slurm_recipe(
        slurm_two_nodes,
        slurm_recipe,
        "--train_config",
        str(config),
        "--tag",
        "tiny2",
        "--num_nodes",
        "2",
        "--stage",
        "5",
        "--stop_stage",
        "5",
        timeout=300,
    )
    exp = slurm_recipe / "exp" / "tsdia_tiny2"
    check(proc)
    job_id(exp / "train.log")
    assert (exp / "q" / "train.sbatch.out").read_text().startswith("Submitted batch job ")
    text = (exp / "train.log").read_text()
    for rank in (0, 1):  # both ranks (one per node) joined the process group
        assert f"[Gloo] Rank {rank} is connected to 1 peer ranks" in text
    assert (exp / "valid.loss.ave.pth").exists()
