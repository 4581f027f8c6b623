"""Corruption speed: images/s of the torch backend and of the reference, measured in the same run.

    python benchmarks/corruptions.py [--sizes 32 224 512] [--corruptions fog snow] [--device cpu]
                                     [--repeats 5] [--threads N] [--params imagenet-c] [--cold]

For every corruption and size, on a batch of a real photo (skimage's astronaut resized to the size;
64 / 8 / 2 pictures at 32 / 224 / 512 px, each with its own seed): the reference backend
(``imagecorruptions``, one picture per call, as it is used) and the torch backend (one ``corrupt_batch``
call for the whole batch, uint8 in and out, on ``--device``). The two are timed alternately, ``--repeats``
times each after a warm-up, and the fastest repetition of each counts (the machine is shared: the
minimum is the least disturbed measurement). Each timed call follows an untimed call of the same
backend (its steady state, as in an evaluation run; ``--cold`` times it straight after the other
backend's call instead). The torch backend runs on ``--threads`` CPU threads
(default: all cores; its engine spreads a batch's chunks over them), the reference on one, as its API
works. Prints a markdown table per size with the ratio torch/reference of images/s, the geometric mean
of the ratios, and each backend's process CPU time per picture (all threads; less sensitive than the
wall clock to other load on a shared machine).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BATCH_OF_SIZE = {32: 64, 224: 8, 512: 2}


def _best_of(calls, repeats: int, sync, warm: bool = True) -> tuple[list[float], list[float]]:
    """Alternate the calls ``repeats`` times after one warm-up each; per call the fastest wall-clock time
    and the smallest process CPU time (all threads) of a repetition. ``warm``: each timed call comes
    right after an untimed one of the same backend, as in an evaluation run, where the engine is called
    batch after batch; otherwise the threaded backend starts each call on cores left idle during the
    other backend's call, and on a VM an idle core takes a while to wake (measured on the 2-core VM:
    gaussian_blur at 224 px 940 pictures/s alternating cold, 1730 warm)."""
    for call in calls:
        call()
    sync()
    best = [math.inf] * len(calls)
    best_cpu = [math.inf] * len(calls)
    for _ in range(repeats):
        for i, call in enumerate(calls):
            if warm:
                call()
                sync()
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            sync()
            best[i] = min(best[i], time.perf_counter() - start)
            best_cpu[i] = min(best_cpu[i], time.process_time() - start_cpu)
    return best, best_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", type=int, default=[32, 224, 512])
    parser.add_argument("--corruptions", nargs="+", default=None, help="default: all registered")
    parser.add_argument("--params", default="imagenet-c", choices=["imagenet-c", "cifar10-c"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="torch threads for the torch backend: its thread pool over picture chunks and its intra-op "
        "threads (default: the machine's cores). The reference runs as its API does: one picture per "
        "call, on one thread",
    )
    parser.add_argument("--batch", type=int, default=None, help="pictures per measurement (default by size)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per backend and cell")
    parser.add_argument("--skip-reference", action="store_true", help="torch only (e.g. on a GPU box)")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="time each call straight after the other backend's (default: after an untimed call of its own)",
    )
    args = parser.parse_args(argv)

    from evaluator.openmp import POLICY_VARIABLE, sleep_when_idle

    sleep_when_idle()  # as the rzoo command line does (set OMP_WAIT_POLICY=ACTIVE to compare)
    import numpy as np
    import torch
    from rich.progress import track

    from evaluator.allocator import retain_freed_memory
    from evaluator.corruptions import CORRUPTIONS, corrupt, corrupt_batch
    from evaluator.corruptions.fidelity import photos

    retained = retain_freed_memory()  # as in rzoo's evaluation runs; both backends run under it
    torch.set_num_threads(args.threads)
    import cv2  # the reference's OpenCV calls: one thread, like its NumPy

    cv2.setNumThreads(1)
    names = args.corruptions or list(CORRUPTIONS)
    device = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"glibc malloc keeps freed memory (evaluator.allocator): {retained}")
    print(f"OpenMP idle threads: {POLICY_VARIABLE}={os.environ.get(POLICY_VARIABLE)} (evaluator.openmp)")
    print(
        f"torch {torch.__version__}, torch backend on {torch.get_num_threads()} CPU threads, device {device}, params {args.params}, "
        f"severity 3; best of {args.repeats} alternating repetitions ({'cold' if args.cold else 'warm'}); "
        "reference: imagecorruptions, one picture per call, 1 thread"
    )
    rows = {}
    cells = [(size, name) for size in args.sizes for name in names]
    for size, name in track(cells, description="timing", transient=True):
        n = args.batch or BATCH_OF_SIZE.get(size, 4)
        picture = photos(size)[0]
        batch = torch.from_numpy(picture.copy()).permute(2, 0, 1).unsqueeze(0).repeat(n, 1, 1, 1).to(device)
        seeds = list(range(n))

        def run_torch(batch=batch, name=name, seeds=seeds):
            corrupt_batch(batch, name, 3, seeds, args.params)

        def run_reference(picture=picture, name=name, seeds=seeds):
            for seed in seeds:
                corrupt(picture, name, 3, seed, args.params, backend="reference")

        calls = [run_torch] if args.skip_reference else [run_torch, run_reference]
        best, best_cpu = _best_of(calls, args.repeats, sync, warm=not args.cold)
        cpu_ms = [1e3 * t / n for t in best_cpu]
        rows[size, name] = (
            None if args.skip_reference else n / best[1],
            n / best[0],
            None if args.skip_reference else cpu_ms[1],
            cpu_ms[0],
        )
    for size in args.sizes:
        print(
            f"\n### {size}x{size} px ({args.batch or BATCH_OF_SIZE.get(size, 4)} pictures per measurement)\n"
        )
        print(
            "| corruption | reference img/s | torch img/s | torch/reference "
            "| reference CPU ms/img | torch CPU ms/img |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        ratios = []
        for name in names:
            ref, ours, ref_cpu, ours_cpu = rows[size, name]
            ratio = None if ref is None else ours / ref
            if ratio is not None:
                ratios.append(ratio)
            ref_text = "—" if ref is None else f"{ref:.1f}"
            ratio_text = "—" if ratio is None else f"{ratio:.2f}x"
            ref_cpu_text = "—" if ref_cpu is None else f"{ref_cpu:.2f}"
            print(f"| {name} | {ref_text} | {ours:.1f} | {ratio_text} | {ref_cpu_text} | {ours_cpu:.2f} |")
        if ratios:
            geomean = math.exp(float(np.mean(np.log(ratios))))
            print(f"| **geometric mean** | | | **{geomean:.2f}x** (min {min(ratios):.2f}x) | | |")
    print(f"\nload average at end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
