"""Shared helpers for the benchmarks: timing, peak memory and bench/RESULTS.md sections.

Every benchmark owns one section of ``bench/RESULTS.md``, delimited by
``<!-- bench:NAME -->`` / ``<!-- /bench:NAME -->``; re-running a benchmark replaces its own
section and leaves the others untouched.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import statistics
import time
from pathlib import Path
from typing import Callable, List, Tuple

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
_HEADER = (
    "# Benchmark results\n\n"
    "Each section is written by the script named in its heading; re-run the script to refresh it.\n"
    "Figures are medians of repeated runs; ratios compare against the peer measured in the same run.\n"
)


def machine_line() -> str:
    """One line naming the machine, the date and the library versions."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"machine: {cpu}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; date: {datetime.date.today().isoformat()}"
    )


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times: List[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_rss_of(fn: Callable[[], object]) -> Tuple[object, int]:
    """Run ``fn()`` and return (its result, the growth of peak RSS while it ran, in bytes).

    In-process: the kernel's peak-RSS mark (VmHWM) is reset through ``/proc/self/clear_refs``
    before the call and read after it, so memory the process already held is not counted and
    no fork is needed (forking after torch has run parallel work can hang the child). Where
    the reset is not permitted, ``fn`` runs in a forked child instead.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return _peak_rss_in_child(fn)
    base = _current_rss()
    res = fn()
    return res, max(0, _status_bytes("VmHWM") - base)


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _peak_rss_in_child(fn: Callable[[], object]) -> Tuple[object, int]:
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    q = ctx.Queue()

    def _child():
        import resource

        base = _current_rss()
        res = fn()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        q.put((res, max(0, peak - base)))

    p = ctx.Process(target=_child)
    p.start()
    out = q.get()
    p.join()
    return out


def _current_rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def write_section(name: str, body: str) -> Path:
    """Replace (or append) the section ``name`` of bench/RESULTS.md with ``body``."""
    text = RESULTS.read_text() if RESULTS.exists() else _HEADER
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
    return RESULTS
