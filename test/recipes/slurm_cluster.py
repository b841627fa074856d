"""A private single-node Slurm cluster on this machine, for the tests of the Slurm job backend.

``slurm_cluster`` (a module-scoped fixture) starts, as root, munged with its own key, socket, pid
and log files, then slurmctld and slurmd (``-D -f <conf>``) with a slurm.conf written into a temp
dir: this host as controller and only node (``NodeName=$(hostname -s)``, ``CPUs=$(nproc)``, 90 %
of the memory), one default partition, free ports, no accounting, no cgroups
(``proctrack/linuxproc``, ``task/none``: the machine may be a container).
``slurm_two_nodes`` is the same with two nodes ``n1``, ``n2`` on this host (two slurmd, ``-N``,
each with its own port and half the CPUs and memory), for multi-node jobs (one task per node).
Each waits until ``sinfo`` shows every node idle and yields a
:class:`SlurmCluster` whose :meth:`~SlurmCluster.environ` is the environment for sbatch/srun
(``SLURM_CONF`` set, inherited ``SLURM_*`` variables of an enclosing job removed). At teardown
the remaining jobs are cancelled and the daemons stopped. Nothing outside the temp dir is used or
changed (the system's /etc/slurm and /etc/munge stay as they are).

When the cluster cannot run here (not root, Slurm or munge not installed: ``tools/install.sh``
installs them as root, a daemon exits, the node never becomes idle) the tests are skipped and
the reason names what is missing, with the end of the daemon's log (``pytest -rs`` prints it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "sinfo", "squeue", "scancel")
#: seconds to wait for munged's socket and for the node to become idle
START_TIMEOUT = 30


class ClusterUnavailable(RuntimeError):
    """The private cluster cannot run on this machine; the message says why."""


@dataclass
class SlurmCluster:
    root: Path  #: temp dir with the conf, state, spool and logs
    conf: Path  #: the slurm.conf
    node: str  #: the first node's name (``hostname -s`` on a single-node cluster)
    cpus: int  #: CPUs per node
    nodes: List[str] = field(default_factory=list)  #: every node's name
    procs: Dict[str, subprocess.Popen] = field(default_factory=dict)

    def environ(self, **extra: str) -> Dict[str, str]:
        """The environment for Slurm clients: this process's, without an enclosing job's SLURM_*."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SRUN_", "SBATCH_", "SALLOC_"))}
        env["SLURM_CONF"] = str(self.conf)
        env.update(extra)
        return env

    def log_tail(self, name: str, n: int = 15) -> str:
        """The last n lines of a daemon's log (``munged``, ``slurmctld``, ``slurmd``, ``slurmd.n1`` ...)."""
        for path in (
            self.root / "log" / f"{name}.log",
            self.root / "log" / f"{name}.out",
        ):  # its own log, else its output
            if path.is_file() and path.stat().st_size:
                return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
        return "(no log)"

    def client(self, *args: str, timeout: float = 15) -> subprocess.CompletedProcess:
        """Run a Slurm client command (sinfo, squeue, scancel ...) against this cluster."""
        return subprocess.run(list(args), env=self.environ(), capture_output=True, text=True, timeout=timeout)


def free_ports(n: int) -> List[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def slurm_conf_text(root: Path, host: str, nodes: List[str], cpus: int, mem_mb: int, ports: List[int]) -> str:
    """The test cluster's slurm.conf: everything under root, nothing shared with the system.
    ``nodes == [host]``: this host is the node; else every node is a slurmd of this host with its
    own port (``ports``: the controller's, then one per node)."""
    if nodes == [host]:
        node_lines = f"NodeName={host} CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN"
        slurmd_files = f"SlurmdSpoolDir={root}/spool\nSlurmdPidFile={root}/run/slurmd.pid\nSlurmdLogFile={root}/log/slurmd.log\nSlurmdPort={ports[1]}"
    else:
        node_lines = "\n".join(
            f"NodeName={n} NodeHostname={host} NodeAddr=127.0.0.1 Port={port} CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN"
            for n, port in zip(nodes, ports[1:], strict=True)
        )
        # %n: the node's name; the nodes' configured CPUs are fewer than the host has
        slurmd_files = f"SlurmdSpoolDir={root}/spool/%n\nSlurmdPidFile={root}/run/slurmd.%n.pid\nSlurmdLogFile={root}/log/slurmd.%n.log\nSlurmdParameters=config_overrides"
    return f"""# written by test/recipes/slurm_cluster.py: a private cluster of {len(nodes)} node(s) on this host
ClusterName=tsdiatest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/run/munge.socket
SlurmctldPort={ports[0]}
StateSaveLocation={root}/state
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmctldLogFile={root}/log/slurmctld.log
{slurmd_files}
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
# no cgroups (the machine may be a container), no accounting
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmdTimeout=30
SlurmctldTimeout=30
InactiveLimit=0
KillWait=5
# sbatch --wait polls every 2 s while sleeping longer would pass MinJobAge/2, else after 8 s,
# then every 32 s: a small MinJobAge keeps the tests fast (and shows that a purged failed array
# task no longer counts in sbatch's exit status: run_slurm.sh reads the logs too)
MinJobAge=4
{node_lines}
PartitionName=debug Nodes={",".join(nodes)} Default=YES MaxTime=INFINITE State=UP
"""


def _wait_for(pred, timeout: float, step: float = 0.25) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def _daemon_died(cluster: SlurmCluster) -> str:
    for name, proc in cluster.procs.items():
        if proc.poll() is not None:
            return f"{name} exited with status {proc.returncode}; end of its log:\n{cluster.log_tail(name)}"
    return ""


def start_cluster(root: Path, nodes: int = 1) -> SlurmCluster:
    """Start munged, slurmctld and ``nodes`` slurmd under ``root``; :class:`ClusterUnavailable`
    says why not."""
    if os.geteuid() != 0:
        raise ClusterUnavailable("not root: the private Slurm cluster runs munged/slurmd as root")
    missing = [b for b in DAEMONS + CLIENTS if shutil.which(b) is None and not Path("/usr/sbin", b).is_file()]
    if missing:
        raise ClusterUnavailable(
            f"not installed: {' '.join(missing)} (tools/install.sh as root installs slurm-wlm and munge)"
        )
    host = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    if nodes > cpus:
        raise ClusterUnavailable(f"{nodes} nodes need at least {nodes} CPUs, this machine has {cpus}")
    with open("/proc/meminfo") as f:
        mem_mb = int(int(f.readline().split()[1]) / 1024 * 0.9 / nodes)
    names = [host] if nodes == 1 else [f"n{i}" for i in range(1, nodes + 1)]
    if len(str(root / "run" / "munge.socket")) > 100:  # a Unix socket path has at most 107 bytes
        raise ClusterUnavailable(f"temp dir {root} too long for munged's socket path (set --basetemp shorter)")
    for d in ("munge", "run", "state", "spool", "log", *(f"spool/{n}" for n in names if nodes > 1)):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "munge").chmod(0o700)
    (root / "run").chmod(0o755)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf_text(root, host, names, cpus // nodes, mem_mb, free_ports(1 + nodes)))
    cluster = SlurmCluster(root=root, conf=conf, node=names[0], cpus=cpus // nodes, nodes=names)

    def launch(name: str, args: List[str]) -> None:
        exe = shutil.which(name.split(".")[0]) or str(Path("/usr/sbin", name.split(".")[0]))
        out = open(root / "log" / f"{name}.out", "w")
        cluster.procs[name] = subprocess.Popen(
            [exe, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=cluster.environ(),
            start_new_session=True,
        )
        out.close()

    try:
        # -F: stay in the foreground (a child we can stop); -f: accept the temp dir's permissions
        launch("munged", ["-F", "-f", f"--key-file={key}", f"--socket={root}/run/munge.socket", f"--pid-file={root}/run/munged.pid",
                          f"--log-file={root}/log/munged.log", f"--seed-file={root}/munge/munged.seed"])  # fmt: skip
        if not _wait_for(
            lambda: (root / "run" / "munge.socket").exists() or cluster.procs["munged"].poll() is not None,
            START_TIMEOUT,
        ):
            raise ClusterUnavailable(
                f"munged made no socket in {START_TIMEOUT} s; end of its log:\n{cluster.log_tail('munged')}"
            )
        if cluster.procs["munged"].poll() is not None:
            raise ClusterUnavailable(_daemon_died(cluster))
        launch("slurmctld", ["-D", "-f", str(conf)])
        if nodes == 1:
            launch("slurmd", ["-D", "-f", str(conf)])
        else:
            for n in names:
                launch(f"slurmd.{n}", ["-D", "-N", n, "-f", str(conf)])

        def node_idle() -> bool:
            if _daemon_died(cluster):
                return True
            try:
                out = cluster.client("sinfo", "-h", "-N", "-o", "%N %T", timeout=5).stdout.split("\n")
            except subprocess.TimeoutExpired:
                return False
            return sorted(ln.strip() for ln in out if ln.strip()) == sorted(f"{n} idle" for n in names)

        idle = _wait_for(node_idle, START_TIMEOUT, step=0.5)
        died = _daemon_died(cluster)
        if died:
            raise ClusterUnavailable(died)
        if not idle:
            state = cluster.client("sinfo", "-h", "-N", "-o", "%N %T %E", timeout=5).stdout.strip()
            slurmd = "slurmd" if nodes == 1 else f"slurmd.{names[0]}"
            raise ClusterUnavailable(
                f"node(s) {','.join(names)} not idle after {START_TIMEOUT} s (sinfo: {state or 'nothing'}); end of slurmctld's log:\n"
                f"{cluster.log_tail('slurmctld')}\nend of {slurmd}'s log:\n{cluster.log_tail(slurmd)}"
            )
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def stop_cluster(cluster: SlurmCluster) -> None:
    """Cancel what still runs, then stop slurmd, slurmctld and munged (each by its own pid)."""
    if "slurmctld" in cluster.procs and cluster.procs["slurmctld"].poll() is None:
        try:
            cluster.client("scancel", "--full", f"--user={pwd.getpwuid(os.geteuid()).pw_name}", timeout=10)
            _wait_for(lambda: not cluster.client("squeue", "-h", "-o", "%i", timeout=5).stdout.strip(), 15, step=0.5)
        except (subprocess.TimeoutExpired, OSError):
            pass
    for name in [n for n in cluster.procs if n.startswith("slurmd")] + ["slurmctld", "munged"]:
        proc = cluster.procs.get(name)
        if proc is None or proc.poll() is not None:
            continue
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def cluster_or_skip(tmp_path_factory, nodes: int) -> Iterator[SlurmCluster]:
    """A running cluster of ``nodes`` nodes until the generator is closed (a fixture's body);
    skips the test, with the reason, where none can start."""
    try:
        cluster = start_cluster(tmp_path_factory.mktemp(f"slurm{nodes}n"), nodes=nodes)
    except ClusterUnavailable as e:
        pytest.skip(f"no private Slurm cluster of {nodes} node(s): {e}")
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
