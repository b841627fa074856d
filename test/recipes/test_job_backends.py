"""The template's shell helpers: option parsing, the local job launcher, the Slurm launcher (with
stand-in sbatch/srun commands) and cmd.sh's backend switch."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from test.recipes.helpers import TEMPLATE

PARSE = TEMPLATE / "utils" / "parse_options.sh"
LOCAL = TEMPLATE / "utils" / "run_local.sh"
SLURM = TEMPLATE / "utils" / "run_slurm.sh"


def bash(script: str, cwd: Path, *args: str, env=None) -> subprocess.CompletedProcess:
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run(["bash", "-c", script, "script", *args], cwd=cwd, capture_output=True, text=True, env=full)


OPTIONS_SCRIPT = f"""
set -euo pipefail
nj=4; train_set=""; score_opts=""; flag=false
help_message="Usage: demo [--nj N]"
. {PARSE}
echo "nj=$nj train_set=$train_set score_opts=$score_opts flag=$flag rest=$*"
"""


def test_parse_options(tmp_path):
    out = bash(
        OPTIONS_SCRIPT,
        tmp_path,
        "--nj",
        "2",
        "--train-set",
        "a b",
        "--score_opts=--collar 0.25",
        "--flag",
        "true",
        "x",
        "--nj",
        "9",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "nj=2 train_set=a b score_opts=--collar 0.25 flag=true rest=x --nj 9\n"
    # an option's value may itself start with dashes
    out = bash(OPTIONS_SCRIPT, tmp_path, "--score_opts", "--skip_overlap")
    assert out.stdout.startswith("nj=4 train_set= score_opts=--skip_overlap ")


def test_parse_options_errors(tmp_path):
    out = bash(OPTIONS_SCRIPT, tmp_path, "--bogus", "1")
    assert out.returncode == 2 and "unknown option --bogus" in out.stderr and "Usage: demo" in out.stderr
    out = bash(OPTIONS_SCRIPT, tmp_path, "--PATH", "/x")  # only the script's lower-case variables
    assert out.returncode == 2 and "unknown option --PATH" in out.stderr
    out = bash(OPTIONS_SCRIPT, tmp_path, "--nj")
    assert out.returncode == 2 and "option --nj needs a value" in out.stderr
    out = bash(OPTIONS_SCRIPT, tmp_path, "--help")
    assert out.returncode == 0 and out.stdout == "Usage: demo [--nj N]\n"


def test_run_local_jobs_in_parallel(tmp_path):
    # every job waits until all three have started: only parallel jobs finish
    job = 'touch started.JOB; for i in $(seq 100); do [ "$(ls started.* | wc -l)" -ge 3 ] && break; sleep 0.05; done; echo "job JOB of $0"'
    out = subprocess.run(
        [str(LOCAL), "JOB=1:3", "log/x.JOB.log", "bash", "-c", job, "arg with spaces"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    for j in (1, 2, 3):
        lines = (tmp_path / "log" / f"x.{j}.log").read_text().splitlines()
        assert lines[0].startswith("# bash -c ") and lines[2] == f"job {j} of arg with spaces"
        assert lines[-1].endswith("exit status 0")
    assert sorted(p.name for p in tmp_path.glob("started.*")) == ["started.1", "started.2", "started.3"]


def test_run_local_failures_and_throttle(tmp_path):
    out = subprocess.run(
        [
            str(LOCAL),
            "--max_jobs",
            "1",
            "--gpu",
            "1",
            "JOB=0:2",
            "x.JOB.log",
            "bash",
            "-c",
            'echo "n=JOB $(ls run.* 2>/dev/null | wc -l)"; touch run.JOB; [ JOB != 1 ]',
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert "1/3 jobs failed: x.1.log" in out.stderr and "exit status 1" in out.stderr
    # one job at a time: job k saw the k files of the jobs before it
    assert [(tmp_path / f"x.{j}.log").read_text().splitlines()[2] for j in range(3)] == ["n=0 0", "n=1 1", "n=2 2"]
    # a single job: no JOB substitution, the log is the given path
    out = subprocess.run([str(LOCAL), "one.log", "echo", "JOB"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0 and (tmp_path / "one.log").read_text().splitlines()[2] == "JOB"
    out = subprocess.run([str(LOCAL), "--bogus", "1", "one.log", "true"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 2 and "unknown option --bogus" in out.stderr


FAKE_SBATCH = """#!/usr/bin/env bash
# stand-in for sbatch --wait [--array=A-B[%M]] ... SCRIPT: runs the job (or the array tasks) here
echo "sbatch $*" >> "$FAKE_SLURM_LOG"
case " $* " in *" --partition=nope "*) echo "sbatch: error: invalid partition specified: nope" >&2; exit 1 ;; esac
array="" ; script=""
for a in "$@"; do case "$a" in --array=*) array=${a#--array=} ;; -*) ;; *) script=$a ;; esac; done
echo "Submitted batch job 7"
[ -n "$array" ] || { SLURM_JOB_ID=7 bash "$script"; exit; }
array=${array%%%*}; rc=0
for ((i = ${array%-*}; i <= ${array#*-}; i++)); do SLURM_ARRAY_TASK_ID=$i SLURM_JOB_ID=7 bash "$script" || rc=$?; done
exit ${FAKE_SBATCH_EXIT:-$rc}
"""
FAKE_SRUN = """#!/usr/bin/env bash
# stand-in for srun [OPTIONS] COMMAND...: runs COMMAND here (inside a job: a job step)
echo "srun $*" >> "$FAKE_SLURM_LOG"
while [ $# -gt 0 ] && [[ $1 == -* ]]; do shift; done
SLURM_JOB_ID=${SLURM_JOB_ID:-8} "$@"
"""
FAKE_SCANCEL = """#!/usr/bin/env bash
echo "scancel $*" >> "$FAKE_SLURM_LOG"
"""


def fake_slurm(tmp_path: Path) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", FAKE_SRUN), ("scancel", FAKE_SCANCEL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "slurm.conf").write_text((TEMPLATE / "conf" / "slurm.conf").read_text())
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_SLURM_LOG": str(tmp_path / "calls.txt")}


def test_run_slurm_array_and_single_job(tmp_path):
    env = {**os.environ, **fake_slurm(tmp_path)}
    out = subprocess.run(
        [str(SLURM), "--config", "conf/slurm.conf", "--mem", "4G", "--max_jobs", "2", "JOB=1:3", "exp/log/f.JOB.log", "echo", "part JOB", "a b"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    for j in (1, 2, 3):
        lines = (tmp_path / "exp" / "log" / f"f.{j}.log").read_text().splitlines()
        assert (
            lines[0] == f"# echo part\\ {j} a\\ b "
            and lines[2] == f"part {j} a b"
            and lines[-1].endswith("exit status 0")
        )
    call = (tmp_path / "calls.txt").read_text().splitlines()[0]
    assert call.startswith("sbatch --wait --job-name=f.all --output=exp/log/q/f.all.%a.out --array=1-3%2 ")
    assert "--export=ALL --time=2-00:00:00 --mem=4G " in call and "--gres" not in call
    # a single job goes through srun; --gpu 1 adds the GPU flags of the config, --gpu 0 none
    out = subprocess.run(
        [str(SLURM), "--gpu", "1", "exp/train.log", "echo", "train"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "exp" / "train.log").read_text().splitlines()[2] == "train"
    call = (tmp_path / "calls.txt").read_text().splitlines()[-1]
    assert call.startswith("srun --job-name=train --export=ALL ") and "--partition=gpu --gres=gpu:1" in call


def test_run_slurm_failures(tmp_path):
    env = {**os.environ, **fake_slurm(tmp_path)}
    out = subprocess.run(
        [str(SLURM), "JOB=1:2", "x.JOB.log", "bash", "-c", "[ JOB = 1 ]"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "failed: x.2.log" in out.stderr
    # sbatch --wait reports success when the failed task's record was already purged (MinJobAge):
    # the logs still tell
    out = subprocess.run(
        [str(SLURM), "JOB=1:3", "x.JOB.log", "bash", "-c", "[ JOB != 1 ]"],
        cwd=tmp_path,
        env={**env, "FAKE_SBATCH_EXIT": "0"},
        capture_output=True,
        text=True,
    )
    assert (
        out.returncode == 1
        and "sbatch exited with status 0, but these logs do not end with 'exit status 0'; failed: x.1.log" in out.stderr
    )
    out = subprocess.run(
        [str(SLURM), "--num_threads", "2", "--config", "none.conf", "x.log", "true"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "no Slurm config none.conf" in out.stderr
    (tmp_path / "conf" / "slurm.conf").write_text("default --export=ALL\n")
    out = subprocess.run(
        [str(SLURM), "--gpu", "1", "x.log", "true"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 2 and "--gpu 1 given but conf/slurm.conf has no 'gpu' line" in out.stderr


def test_run_slurm_multi_node_and_srun_commands(tmp_path):
    """ESPnet's launcher (--num_nodes N > 1) runs ``slurm.pl ... LOG srun --export=ALL CMD``: one
    sbatch allocation of N nodes, one task per node, whose script runs the srun (no nested srun)."""
    env = {**os.environ, **fake_slurm(tmp_path)}
    calls = tmp_path / "calls.txt"
    # (tsdia.sh's cuda_cmd carries its own --num_threads; the launcher's, given last, counts)
    launcher = [
        str(TEMPLATE / "utils" / "slurm.pl"),
        "--config",
        "conf/slurm.conf",
        "--num_threads",
        "8",
        "--gpu",
        "2",
        "--num_threads",
        "2",
        "--num_nodes",
        "2",
    ]
    out = subprocess.run(
        [*launcher, "exp/train.log", "srun", "--export=ALL", "echo", "train", "--dist_launcher", "slurm"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    sbatch, srun = calls.read_text().splitlines()
    assert sbatch.startswith("sbatch --wait --job-name=train --output=exp/q/train.out --export=ALL ")
    assert (
        " --nodes=2 --ntasks-per-node=1 " in sbatch
        and "--gres=gpu:2 " in sbatch
        and "--cpus-per-task=2 " in sbatch
        and "=8" not in sbatch
    )
    assert sbatch.endswith(" exp/q/train.sh") and "--array" not in sbatch
    assert srun == "srun --export=ALL echo train --dist_launcher slurm"  # the script's own srun, once
    log = (tmp_path / "exp" / "train.log").read_text().splitlines()
    assert (
        log[1].endswith("(Slurm job 7)")
        and log[2] == "train --dist_launcher slurm"
        and log[-1].endswith("exit status 0")
    )

    # a command starting with srun goes through sbatch even on one node; --num_nodes 1 adds nothing
    calls.unlink()
    out = subprocess.run(
        [*launcher[:-1], "1", "exp/one.log", "srun", "echo", "one"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    sbatch, srun = calls.read_text().splitlines()
    assert sbatch.startswith("sbatch --wait --job-name=one ") and "--nodes" not in sbatch and srun == "srun echo one"
    # several nodes without srun: one allocation too (the command runs once, on its first node)
    calls.unlink()
    out = subprocess.run(
        [str(SLURM), "--num_nodes", "3", "exp/two.log", "echo", "two"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert [c.split()[0] for c in calls.read_text().splitlines()] == ["sbatch"]
    assert " --nodes=3 --ntasks-per-node=1 " in calls.read_text()
    # a plain single job with --num_nodes 1 still runs through srun, without node flags
    calls.unlink()
    out = subprocess.run(
        [str(SLURM), "--num_nodes", "1", "exp/three.log", "echo", "three"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert (
        out.returncode == 0
        and calls.read_text().startswith("srun --job-name=three --export=ALL ")
        and "--nodes" not in calls.read_text()
    )


def test_run_slurm_option_errors_and_rejected_jobs(tmp_path):
    env = {**os.environ, **fake_slurm(tmp_path)}
    out = subprocess.run(
        [str(SLURM), "--num_nodes", "two", "x.log", "true"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 2 and "--num_nodes must be a non-negative integer, got 'two'" in out.stderr
    out = subprocess.run(
        [str(SLURM), "JOB=3:1", "x.JOB.log", "true"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 2 and "empty job range JOB=3:1" in out.stderr
    # a job Slurm refuses: no log was written, so Slurm's own message is shown
    (tmp_path / "conf" / "nope.conf").write_text("default --partition=nope\n")
    out = subprocess.run(
        [str(SLURM), "--config", "conf/nope.conf", "JOB=1:2", "x.JOB.log", "true"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "sbatch exited with status 1; failed: x.1.log x.2.log" in out.stderr
    assert "sbatch: error: invalid partition specified: nope" in out.stderr
    (tmp_path / "conf" / "slurm.conf").write_text("default --export=ALL\n")
    out = subprocess.run(
        [str(SLURM), "--num_nodes", "2", "x.log", "srun", "true"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 2 and "--num_nodes 2 given but conf/slurm.conf has no 'num_nodes' line" in out.stderr


def test_run_slurm_interrupt_cancels_the_job(tmp_path):
    env = {**os.environ, **fake_slurm(tmp_path)}
    proc = subprocess.Popen(
        [str(SLURM), "JOB=1:1", "x.JOB.log", "sleep", "3"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    log = tmp_path / "x.1.log"
    for _ in range(100):
        if log.is_file():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and "interrupted; cancelled Slurm job 7 sbatch of x.JOB.log" in err
    assert (tmp_path / "calls.txt").read_text().splitlines()[-1] == "scancel 7"


def test_cmd_sh_backends(tmp_path):
    script = f'. {TEMPLATE / "cmd.sh"} && echo "$train_cmd|$cuda_cmd|$decode_cmd"'
    assert (
        bash(script, tmp_path, env={"cmd_backend": ""}).stdout
        == "utils/run_local.sh|utils/run_local.sh|utils/run_local.sh\n"
    )
    out = bash(script, tmp_path, env={"cmd_backend": "slurm"}).stdout
    assert out == "|".join(["utils/slurm.pl --config conf/slurm.conf"] * 3) + "\n"
    # ESPnet's launcher recognises the Slurm backend by the file name slurm.pl
    link = TEMPLATE / "utils" / "slurm.pl"
    assert link.is_symlink() and os.readlink(link) == "run_slurm.sh"
    out = bash(script, tmp_path, env={"cmd_backend": "sge"})
    assert out.returncode != 0 and "cmd_backend must be 'local' or 'slurm', got 'sge'" in out.stderr


def test_db_sh_roots_default_empty_and_environment_wins(tmp_path):
    names = ["AMI", "ICSI", "AISHELL4", "VOXCONVERSE", "AVA_AVD", "MSDWILD", "MINI_LIBRISPEECH"]
    script = f". {TEMPLATE / 'db.sh'} && " + " && ".join(f'echo "{n}=${{{n}}}"' for n in names)
    env = {n: "" for n in names}
    env["AMI"] = "/data/ami"
    out = bash(script, tmp_path, env=env)
    assert out.stdout.splitlines() == ["AMI=/data/ami"] + [f"{n}=" for n in names[1:]]
