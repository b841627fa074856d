"""Attention benchmark: softmax SDPA vs our FAVOR+ kernels vs performer-pytorch 1.1.4, on CPU.

Usage:
    tools/venv/bin/python bench/attention.py               # full run, writes bench/RESULTS.md
    tools/venv/bin/python bench/attention.py --quick       # smoke mode: small lengths, 1 repeat
    tools/venv/bin/python bench/attention.py --threads 2   # on an otherwise idle machine

Per cell (kernel x length x forward / forward+backward): 4 heads, d_head 64, 256 random
features, batch 1; q, k, v given (no projections). Forward runs under ``torch.no_grad()``
(inference); forward+backward with autograd, backward of ``out.sum()``. Time: the median wall
time of several repeats (fewer for slow cells) and the CPU time per call; the ratio tables use
CPU time, which other jobs on the shared machine disturb far less. Memory: the peak RSS of one
call above the state just before it (inputs built, a tiny warm-up call done, which faults in
library code and allocator pools), read from VmHWM after resetting it through
/proc/self/clear_refs, in a separate process whose glibc mmaps every allocation over 256 KiB.
Cells whose CPU time per call is predicted from smaller lengths to exceed ``--max-seconds``
are skipped and marked.

Every cell runs in a forked child that builds its own inputs: libgomp is not fork-safe,
so the parent only imports torch and never computes with it (a child forked after the parent
used its OpenMP pool hangs).

Also measured: the crossover length where ``linear`` becomes faster than softmax, and one
full 4-layer model (d_model 256, 4 heads, ``linear``, 256 features) over one hour of frames
(36,000) in one inference pass.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._results import machine_line, median_time, peak_rss_of, write_section  # noqa: E402

logger = logging.getLogger(__name__)

HEADS, D_HEAD, FEATURES, CHUNK = 4, 64, 256, 128
# Intra-op threads of the children (--threads). 1 by default: on this shared 2-core machine a
# 2-thread OpenMP op stalls at every barrier whenever another job preempts one of its threads,
# and times then swing by up to 10x between identical calls.
THREADS = 1
LENGTHS = [500, 2000, 8000, 36000]
QUICK_LENGTHS = [250, 1000]
CROSSOVER_LENGTHS = [250, 500, 750, 1000, 1500, 2000, 3000]
MIB = 2**20

# name -> (builder of a callable (q, k, v) -> out, label). Built inside the child.
KERNELS = ["softmax", "softmax_causal", "linear", "causal_linear", "performer", "performer_causal"]
LABELS = {
    "softmax": "softmax SDPA",
    "softmax_causal": "softmax SDPA, causal",
    "linear": "ours `linear`",
    "causal_linear": "ours `causal_linear`",
    "performer": "performer-pytorch",
    "performer_causal": "performer-pytorch, causal",
}


def build_kernel(name: str) -> Callable:
    """Return fn(q, k, v) -> (B, H, T, d) for a kernel name (call inside the child)."""
    import torch.nn.functional as F

    from espnet2_tsdia.layers.attention import CausalFavorKernel, FavorKernel, FavorOptions

    favor = FavorOptions(nb_features=FEATURES, chunk_size=CHUNK)
    if name == "softmax":
        return lambda q, k, v: F.scaled_dot_product_attention(q, k, v)
    if name == "softmax_causal":
        return lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)
    if name == "linear":
        kernel = FavorKernel(d_head=D_HEAD, favor=favor)
        return lambda q, k, v: kernel(q, k, v, None, True)
    if name == "causal_linear":
        kernel = CausalFavorKernel(d_head=D_HEAD, causal=True, favor=favor)
        return lambda q, k, v: kernel(q, k, v, None, True)
    from performer_pytorch.performer_pytorch import FastAttention

    fast = FastAttention(D_HEAD, nb_features=FEATURES, causal=name == "performer_causal")
    return fast


def _status(field: str) -> int:
    """A /proc/self/status memory field (VmRSS, VmHWM) in bytes."""
    with open("/proc/self/status") as f:
        return int(re.search(rf"{field}:\s+(\d+)", f.read()).group(1)) * 1024


def _reset_peak() -> int:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS and return that RSS.

    A forked child's ru_maxrss starts from a mark set at fork time, so a child using less
    than that reads 0; resetting the mark right before the measured call avoids it.
    """
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS")


def _fix_mmap_threshold(threshold: int = 256 * 1024) -> None:
    """Make glibc serve every allocation above ``threshold`` by a fresh mmap.

    By default freed heap memory (some inherited from the parent at fork, already counted in
    RSS) is reused, which hides allocations from the peak-RSS reading; fixed, every large
    tensor is a new mapping and is counted in full. Used only in the memory child: it adds
    page faults, so the timed child keeps glibc's defaults.
    """
    import ctypes

    ctypes.CDLL("libc.so.6").mallopt(-3, threshold)  # -3 = M_MMAP_THRESHOLD


def measure_cell(
    name: str, length: int, backward: bool, repeats: int, warmup: int, memory: bool = True
) -> Tuple[float, float, Optional[int]]:
    """(median wall seconds, mean CPU seconds per call) of the timed child, and peak bytes of
    one call above the state before it (memory child, or the timed child when ``memory`` is
    False)."""

    def child(measure_memory: bool, reps: int, warm: int):
        import torch

        torch.set_num_threads(THREADS)
        if measure_memory:
            _fix_mmap_threshold()
        fn = build_kernel(name)
        # A tiny warm-up first: the first ops fault in library code and allocator pools.
        tiny = [torch.randn(1, HEADS, 64, D_HEAD, requires_grad=True) for _ in range(3)]
        fn(*tiny).sum().backward()
        q, k, v = (torch.randn(1, HEADS, length, D_HEAD, requires_grad=backward) for _ in range(3))

        def step():
            if backward:
                fn(q, k, v).sum().backward()
                q.grad = k.grad = v.grad = None
            else:
                with torch.no_grad():
                    fn(q, k, v)

        base = _reset_peak()
        cpu0 = time.process_time()
        seconds = median_time(step, repeats=reps, warmup=warm)
        cpu = (time.process_time() - cpu0) / (reps + warm)
        return seconds, cpu, max(0, _status("VmHWM") - base)

    (seconds, cpu, peak), _ = peak_rss_of(lambda: child(not memory, repeats, warmup))
    if memory:
        (_, _, peak), _ = peak_rss_of(lambda: child(True, 1, 0))
    return seconds, cpu, peak


def measure_model(length: int, enroll_frames: int = 100) -> Tuple[float, float, int, int, int]:
    """One inference pass of a 4-layer linear EncoderNetwork over ``length`` frames of 345-dim
    features. Returns (wall seconds, CPU seconds, peak bytes above the child's start (model, inputs, warm-up and
    pass), peak bytes above the state just before the pass (activations), whole-process peak
    RSS in bytes)."""

    def child():
        import torch

        from espnet2_tsdia.networks.encoder import EncoderNetwork
        from espnet2_tsdia.stacks.transformer import TransformerStack

        torch.set_num_threads(THREADS)
        start = _reset_peak()
        encoder = TransformerStack(
            d_model=256, num_layers=4, num_heads=4, attention_type="linear", nb_features=FEATURES
        )
        net = EncoderNetwork(encoder=encoder, input_size=345, num_classes=4).eval()
        feats = torch.randn(1, length, 345)
        enroll = torch.randn(1, enroll_frames, 345)
        lens, enroll_lens = torch.tensor([length]), torch.tensor([enroll_frames])

        def run():
            with torch.no_grad():
                net(feats, lens, enroll, enroll_lens)

        with torch.no_grad():  # warm-up on 50 frames: library code and allocator pools
            net(feats[:, :50], torch.tensor([50]), enroll, enroll_lens)
        total_peak_so_far = _status("VmHWM")
        before = _reset_peak()
        cpu0 = time.process_time()
        seconds = median_time(run, repeats=1, warmup=0)
        cpu = time.process_time() - cpu0
        peak = _status("VmHWM")
        return seconds, cpu, max(peak, total_peak_so_far) - start, peak - before, peak

    result, _ = peak_rss_of(child)
    return result


def predict(times: Dict[int, float], length: int, exponent: float) -> Optional[float]:
    """Extrapolate a cell's time from the largest measured length with the kernel's known
    complexity (``exponent`` 2 for softmax, 1 for the linear kernels), or the exponent measured
    between the two largest lengths when that is larger (capped at 2)."""
    known = sorted(t for t in times if t < length)
    if not known:
        return None
    b = known[-1]
    if len(known) > 1:
        a = known[-2]
        measured = math.log(max(times[b], 1e-9) / max(times[a], 1e-9)) / math.log(b / a)
        exponent = min(2.0, max(exponent, measured))
    return times[b] * (length / b) ** exponent


def plan_repeats(predicted: Optional[float], quick: bool) -> Tuple[int, int]:
    """(repeats, warmup): more for fast cells, a single cold run for slow ones."""
    if quick:
        return 1, 1
    if predicted is None or predicted < 0.5:
        return 5, 1
    if predicted < 5.0:
        return 3, 1
    return 1, 0


def fmt_time(s: Optional[float]) -> str:
    if s is None:
        return "-"
    return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.2f} s"


def run_grid(lengths: List[int], quick: bool, max_seconds: float):
    """results[(name, backward)][length] = (seconds, bytes, repeats) or ('skip', predicted)."""
    results: Dict[Tuple[str, bool], Dict[int, tuple]] = {}
    for name in KERNELS:
        for backward in (False, True):
            row: Dict[int, tuple] = {}
            times: Dict[int, float] = {}
            exponent = 2.0 if name.startswith("softmax") else 1.0
            for length in lengths:
                guess = predict(times, length, exponent)
                if guess is not None and guess > max_seconds:
                    row[length] = ("skip", guess)
                    logger.info("%s %s T=%d skipped (predicted %.0f s)", name, backward, length, guess)
                    continue
                repeats, warmup = plan_repeats(guess, quick)
                # Slow cells: memory from the timed run itself (their large tensors are mmapped
                # by glibc anyway), to keep the benchmark's duration bounded.
                separate = guess is None or guess < 10.0
                seconds, cpu, peak = measure_cell(name, length, backward, repeats, warmup, memory=separate)
                # Predict from CPU time per thread, like the ratios: wall time is inflated by
                # whatever else runs on the machine.
                times[length] = cpu / THREADS
                row[length] = (seconds, cpu, peak, repeats)
                print(
                    f"  {LABELS[name]:28s} {'fwd+bwd' if backward else 'fwd':7s} T={length:6d} "
                    f"wall {fmt_time(seconds):>9s} cpu {fmt_time(cpu):>9s} {peak / MIB:8.1f} MiB "
                    f"({repeats} runs)",
                    flush=True,
                )
            results[(name, backward)] = row
    return results


def crossover(quick: bool) -> Dict[bool, str]:
    """First length of CROSSOVER_LENGTHS where ``linear`` takes less CPU time than softmax SDPA."""
    out = {}
    tried = CROSSOVER_LENGTHS[:3] if quick else CROSSOVER_LENGTHS
    for backward in (False, True):
        found = f"> {tried[-1]}"
        previous = None
        for length in tried:
            reps = (1, 1) if quick else (5, 1)
            _, soft, _ = measure_cell("softmax", length, backward, *reps, memory=False)
            _, lin, _ = measure_cell("linear", length, backward, *reps, memory=False)
            print(
                f"  crossover {'fwd+bwd' if backward else 'fwd'} T={length}: CPU softmax "
                f"{fmt_time(soft)}, linear {fmt_time(lin)}",
                flush=True,
            )
            if lin < soft:
                found = f"{previous}-{length}" if previous else f"<= {length}"
                break
            previous = length
        out[backward] = found
    return out


def cell_text(cell: Optional[tuple]) -> Tuple[str, str]:
    if cell is None:
        return "-", "-"
    if cell[0] == "skip":
        return f"skipped (~{cell[1]:.0f} s predicted)", "-"
    seconds, cpu, peak, repeats = cell
    mark = "" if repeats > 1 else ", 1 run"
    return f"{fmt_time(seconds)} (cpu {fmt_time(cpu)}{mark})", f"{peak / MIB:.0f}"


def ratio(results, a: Tuple[str, bool], b: Tuple[str, bool], length: int) -> str:
    ca, cb = results[a].get(length), results[b].get(length)
    if not ca or not cb or ca[0] == "skip" or cb[0] == "skip":
        return "-"
    return f"{ca[1] / cb[1]:.2f}"


def render(results, lengths, cross, model, args, load) -> str:
    lines = [
        "## Attention kernels (`bench/attention.py`)",
        "",
        machine_line(),
        "",
        f"Shared machine: 2 cores also used by other engineers' jobs (load average at start "
        f"{load[0]:.2f}, at end {load[1]:.2f}). Kernels run with {THREADS} intra-op thread(s): "
        "under contention 2-thread OpenMP timings swing by up to 10x (a preempted thread stalls "
        "its partner at every barrier). Each cell gives the median wall time and, in brackets, "
        "the CPU time per call (process time, all threads); **ratios are computed on CPU time**, "
        "which other jobs disturb far less than wall time (with 1 thread it is what the wall "
        "time of an idle core would be). "
        f"Batch 1, {HEADS} heads, d_head {D_HEAD}, {FEATURES} random features, causal chunk "
        f"{CHUNK}; q, k, v given (no projections). Forward under `no_grad`; forward+backward "
        "of `out.sum()`. Wall time: median of 5 runs (3 for cells over 0.5 s, 1 for cells over "
        "5 s); memory: peak RSS of one call above the state before it (inputs and module "
        "loaded, after a tiny warm-up call), measured in a separate process whose glibc serves "
        "every allocation over 256 KiB by a fresh mmap (so reused heap pages cannot hide any); "
        "for cells predicted over 10 s, read from the timed run itself; MiB. Cells whose CPU "
        "time per call is predicted (from smaller lengths; softmax at least quadratic, the "
        f"others at least linear in T) over {args.max_seconds:.0f} s are skipped."
        + (" **Quick mode: smoke figures only.**" if args.quick else ""),
        "",
    ]
    for backward in (False, True):
        lines.append(f"### {'Forward + backward' if backward else 'Forward (inference)'}")
        lines.append("")
        head = "| kernel | " + " | ".join(f"T={t} time | MiB" for t in lengths) + " |"
        lines.append(head)
        lines.append("|---|" + "---|---|" * len(lengths))
        for name in KERNELS:
            cells = [cell_text(results[(name, backward)].get(t)) for t in lengths]
            lines.append(f"| {LABELS[name]} | " + " | ".join(f"{a} | {b}" for a, b in cells) + " |")
        lines.append("")
        lines.append("| time ratio | " + " | ".join(f"T={t}" for t in lengths) + " | target |")
        lines.append("|---|" + "---|" * len(lengths) + "---|")
        rows = [
            ("`linear` / performer-pytorch", ("linear", backward), ("performer", backward), "<= 1.0"),
            ("`linear` / softmax SDPA", ("linear", backward), ("softmax", backward), "< 1 from T=2000"),
            (
                "performer causal / `causal_linear`",
                ("performer_causal", backward),
                ("causal_linear", backward),
                ">= 10 (speed-up)",
            ),
            ("`causal_linear` / `linear`", ("causal_linear", backward), ("linear", backward), "<= 3"),
            ("`causal_linear` / softmax SDPA causal", ("causal_linear", backward), ("softmax_causal", backward), "-"),
        ]
        for label, a, b, target in rows:
            lines.append(f"| {label} | " + " | ".join(ratio(results, a, b, t) for t in lengths) + f" | {target} |")
        lines.append("")
    lines.append(
        f"Crossover (first measured length where `linear` takes less CPU time than softmax SDPA, "
        f"lengths {CROSSOVER_LENGTHS}, 5 runs each): forward {cross[False]}, forward+backward "
        f"{cross[True]}."
    )
    lines.append("")
    if model is not None:
        seconds, cpu, growth, above_warm, absolute = model
        lines.append(
            f"Full model, one hour in one pass: `EncoderNetwork` with a 4-layer "
            f"`TransformerStack` (d_model 256, 4 heads, `linear`, {FEATURES} features, "
            f"d_ff 4), {args.model_frames} mixture frames + 100 enrollment frames of 345 dims, "
            f"inference (`no_grad`), {THREADS} thread(s), one run: **{fmt_time(seconds)}** wall "
            f"(CPU {fmt_time(cpu)}); peak memory of model, "
            f"inputs and pass **{growth / 2**30:.2f} GiB** (activations alone, above the loaded "
            f"model and inputs: {above_warm / 2**30:.2f} GiB; whole-process peak RSS with the "
            f"torch runtime: {absolute / 2**30:.2f} GiB); target < 2 GB. For reference "
            "(docs/design.md, reference measurements: same kind of machine, 2 threads, not measured here): "
            "performer-pytorch 6.07 s and 1.34 GiB, SDPA layers 41 s and 0.97 GiB."
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small lengths, one repeat")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="skip cells predicted slower")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads of the kernels")
    args = parser.parse_args(argv)
    global THREADS
    THREADS = args.threads
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Import (never compute) in the parent, so the children's memory growth does not count
    # the libraries; computing here would hang the forked children (libgomp after fork).
    import performer_pytorch  # noqa: F401
    import torch  # noqa: F401

    import espnet2_tsdia.layers.attention  # noqa: F401
    import espnet2_tsdia.networks.encoder  # noqa: F401

    args.model_frames = 2000 if args.quick else 36000
    lengths = QUICK_LENGTHS if args.quick else LENGTHS
    load_start = os.getloadavg()[0]
    print("grid:", flush=True)
    results = run_grid(lengths, args.quick, args.max_seconds)
    print("crossover:", flush=True)
    cross = crossover(args.quick)
    print("model:", flush=True)
    model = measure_model(args.model_frames)
    body = render(results, lengths, cross, model, args, (load_start, os.getloadavg()[0]))
    print(body)
    if not args.no_write and not args.quick:
        print(f"written to {write_section('attention', body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
