"""A private single-node Slurm cluster on this machine, for the tests of the Slurm job backend.

``slurm_cluster`` (a module-scoped fixture) starts, as root, munged with its own key, socket, pid
and log files, then slurmctld and slurmd (``-D -f <conf>``) with a slurm.conf written into a temp
dir: this host as controller and only node (``CPUs=$(nproc)``, 90 % of the memory), one default
partition, free ports, no accounting, no cgroups (``proctrack/linuxproc``, ``task/none``: the
machine may be a container). It waits until ``sinfo`` shows the node idle and yields a
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
    node: str  #: the node's (and controller's) name, ``hostname -s``
    cpus: int
    procs: Dict[str, subprocess.Popen] = field(default_factory=dict)

    def environ(self, **extra: str) -> Dict[str, str]:
        """The environment for Slurm clients: this process's, without an enclosing job's SLURM_*."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SRUN_", "SBATCH_", "SALLOC_"))}
        env["SLURM_CONF"] = str(self.conf)
        env.update(extra)
        return env

    def log_tail(self, name: str, n: int = 15) -> str:
        """The last n lines of a daemon's log (``munged``, ``slurmctld``, ``slurmd``)."""
        for path in (self.root / "log" / f"{name}.log", self.root / "log" / f"{name}.out"):  # its own log, else its output
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


def slurm_conf_text(root: Path, node: str, cpus: int, mem_mb: int, ports: List[int]) -> str:
    """The test cluster's slurm.conf: everything under root, nothing shared with the system."""
    return f"""# written by test/recipes/slurm_cluster.py: a private single-node cluster
ClusterName=tsdiatest
SlurmctldHost={node}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/run/munge.socket
SlurmctldPort={ports[0]}
SlurmdPort={ports[1]}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
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
# sbatch --wait polls every 2 s only while MinJobAge/2 > 2 s is not reached (else 8 s, then 32 s)
MinJobAge=4
NodeName={node} CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
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


def start_cluster(root: Path) -> SlurmCluster:
    """Start munged, slurmctld and slurmd under ``root``; :class:`ClusterUnavailable` says why not."""
    if os.geteuid() != 0:
        raise ClusterUnavailable("not root: the private Slurm cluster runs munged/slurmd as root")
    missing = [b for b in DAEMONS + CLIENTS if shutil.which(b) is None and not Path("/usr/sbin", b).is_file()]
    if missing:
        raise ClusterUnavailable(f"not installed: {' '.join(missing)} (tools/install.sh as root installs slurm-wlm and munge)")
    node = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    with open("/proc/meminfo") as f:
        mem_mb = int(int(f.readline().split()[1]) / 1024 * 0.9)
    if len(str(root / "run" / "munge.socket")) > 100:  # a Unix socket path has at most 107 bytes
        raise ClusterUnavailable(f"temp dir {root} too long for munged's socket path (set --basetemp shorter)")
    for d in ("munge", "run", "state", "spool", "log"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "munge").chmod(0o700)
    (root / "run").chmod(0o755)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf_text(root, node, cpus, mem_mb, free_ports(2)))
    cluster = SlurmCluster(root=root, conf=conf, node=node, cpus=cpus)

    def launch(name: str, args: List[str]) -> None:
        exe = shutil.which(name) or str(Path("/usr/sbin", name))
        out = open(root / "log" / f"{name}.out", "w")
        cluster.procs[name] = subprocess.Popen([exe, *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=cluster.environ(), start_new_session=True)
        out.close()

    try:
        # -F: stay in the foreground (a child we can stop); -f: accept the temp dir's permissions
        launch("munged", ["-F", "-f", f"--key-file={key}", f"--socket={root}/run/munge.socket", f"--pid-file={root}/run/munged.pid",
                          f"--log-file={root}/log/munged.log", f"--seed-file={root}/munge/munged.seed"])  # fmt: skip
        if not _wait_for(lambda: (root / "run" / "munge.socket").exists() or cluster.procs["munged"].poll() is not None, START_TIMEOUT):
            raise ClusterUnavailable(f"munged made no socket in {START_TIMEOUT} s; end of its log:\n{cluster.log_tail('munged')}")
        if cluster.procs["munged"].poll() is not None:
            raise ClusterUnavailable(_daemon_died(cluster))
        launch("slurmctld", ["-D", "-f", str(conf)])
        launch("slurmd", ["-D", "-f", str(conf)])

        def node_idle() -> bool:
            if _daemon_died(cluster):
                return True
            try:
                out = cluster.client("sinfo", "-h", "-N", "-n", node, "-o", "%T", timeout=5).stdout.split()
            except subprocess.TimeoutExpired:
                return False
            return out == ["idle"]

        idle = _wait_for(node_idle, START_TIMEOUT, step=0.5)
        died = _daemon_died(cluster)
        if died:
            raise ClusterUnavailable(died)
        if not idle:
            state = cluster.client("sinfo", "-h", "-N", "-o", "%N %T %E", timeout=5).stdout.strip()
            raise ClusterUnavailable(
                f"node {node} not idle after {START_TIMEOUT} s (sinfo: {state or 'nothing'}); end of slurmctld's log:\n"
                f"{cluster.log_tail('slurmctld')}\nend of slurmd's log:\n{cluster.log_tail('slurmd')}"
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
    for name in ("slurmd", "slurmctld", "munged"):
        proc = cluster.procs.get(name)
        if proc is None or proc.poll() is not None:
            continue
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory) -> Iterator[SlurmCluster]:
    """A running private single-node Slurm cluster (skips, with the reason, where none can run)."""
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("slurm"))
    except ClusterUnavailable as e:
        pytest.skip(f"no private Slurm cluster: {e}")
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
