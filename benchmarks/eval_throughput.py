"""Evaluator throughput, measured against references taken in the same run.

Prints:
1. end-to-end images/s of the cifar10-c on-the-fly pipeline (decode -> torch corruption engine ->
   preprocessing -> model, through ``evaluator.engine.evaluate_model``) divided by the bare
   forward-pass images/s of the same model at the same batch size (goal >= 0.85), for the native
   32-px input and for the paper's recipe (upsampled to 224). Both sides are runs of the same forward
   calls (each batch once per shard), alternated ``--e2e-repeats`` times; each side's best run counts;
2. the ONNX Runtime / torch speed ratio of the bare forward pass;
3. the wall time of a full cifar10-c-format run (clean + 19 corruptions x 5 severities read from
   CIFAR-10-C-layout .npy files) per 1000 test images.

    python benchmarks/eval_throughput.py [--model resnet18] [--batch-size 128] [--images 512]
    OMP_NUM_THREADS=1 python benchmarks/eval_throughput.py --threads 1   # also prints the CPU split

Models have random weights: only speed is measured. Data are photo crops written in the official
formats to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


CPU_PER_IMAGE: dict[str, float] = {}


def bare_forward_ips(run, batches, passes: int = 3, label: str = "") -> float:
    """Best images/s over ``passes`` passes over ``batches`` (the machine is shared: the least
    disturbed pass counts). Also records process CPU seconds per image under ``label``."""
    for batch in batches[:2]:  # warm-up (oneDNN primitive caches, allocator)
        run(batch)
    best = 0.0
    cpu_start, n_total = time.process_time(), 0
    for _ in range(passes):
        start = time.perf_counter()
        n = 0
        for batch in batches:
            run(batch)
            n += batch.shape[0]
        best = max(best, n / (time.perf_counter() - start))
        n_total += n
    if label:
        CPU_PER_IMAGE[label] = (time.process_time() - cpu_start) / n_total
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--images", type=int, default=512, help="test images for the 32-px pipeline ratio")
    parser.add_argument("--images-224", type=int, default=16, help="test images for the 224-px recipe ratio")
    parser.add_argument("--full-run-images", type=int, default=100, help="test images of the full .npy run")
    parser.add_argument(
        "--e2e-repeats",
        type=int,
        default=2,
        help="end-to-end runs per ratio, each followed by a bare run of the same forward calls; the "
        "best run of each side counts",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--workers", type=int, default=None, help="prefetching threads (default: EvalConfig's, 0 on the CPU)"
    )
    args = parser.parse_args()

    from evaluator.openmp import POLICY_VARIABLE, sleep_when_idle

    sleep_when_idle()  # as the rzoo command line does (set OMP_WAIT_POLICY=ACTIVE to compare)
    import numpy as np
    import timm
    import torch

    from evaluator import EvalConfig
    from evaluator.engine import ModelUnderTest, evaluate_model
    from evaluator.onnx_io import export_onnx, open_session
    from evaluator.preprocessing import ClassifierPreprocessing
    from evaluator.protocol import ALL_CORRUPTIONS
    from evaluator.results import CheckpointIdentity
    from evaluator.runtime import OnnxRunner, TorchRunner
    from tests.evalkit import CIFAR_DATA_CONFIG, write_cifar10

    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, model {args.model}, batch {args.batch_size}, "
        f"{POLICY_VARIABLE}={os.environ.get(POLICY_VARIABLE)}"
    )
    model = timm.create_model(args.model, num_classes=10).eval()
    identity = CheckpointIdentity(name=f"{args.model}-random", architecture=args.model)

    def ratio_for(config: dict, n_images: int, label: str, batch_size: int) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            images, _ = write_cifar10(root, n=n_images)
            prepare = ClassifierPreprocessing.from_data_config(config)
            x = prepare(torch.from_numpy(images).permute(0, 3, 1, 2))
            batches = list(torch.split(x, batch_size))
            runner = TorchRunner(model, "cpu", "classifier")
            bare_forward_ips(runner, batches, passes=1, label=label)  # warm-up; the CPU split's forward
            cfg = EvalConfig(
                "bench",
                "cifar10-c",
                root,
                holdout=True,
                severities=(3,),
                batch_size=batch_size,
                progress=False,
                num_workers=args.workers,
            )
            mut = ModelUnderTest(model, config, "classifier", identity)
            shards = 1 + len(ALL_CORRUPTIONS)
            # Both sides measured alike: runs of the same forward calls (every batch once per shard),
            # alternated, the best run of each side counts (the machine is shared).
            bare, wall, cpu = 0.0, float("inf"), float("inf")
            for _ in range(args.e2e_repeats):
                start, cpu_start = time.perf_counter(), time.process_time()
                result = evaluate_model(mut, cfg)
                wall = min(wall, time.perf_counter() - start)
                cpu = min(cpu, time.process_time() - cpu_start)
                bare = max(bare, bare_forward_ips(runner, batches * shards, passes=1))
            e2e = n_images * shards / wall
            assert result.manifest.corruption_backend == "rzoo-torch"
            print(
                f"[{label}, batch {batch_size}] bare forward {bare:8.1f} img/s | end-to-end on-the-fly (clean + 19 corruptions, s3, "
                f"{n_images} images) {e2e:8.1f} img/s | ratio {e2e / bare:.3f}"
            )
            if torch.get_num_threads() == 1:  # with more OpenMP threads, spin-waiting inflates CPU time
                model_ms = 1000 * CPU_PER_IMAGE[label]
                total_ms = 1000 * cpu / (n_images * shards)
                print(
                    f"[{label}] process CPU per image: forward alone {model_ms:.2f} ms, whole pipeline "
                    f"{total_ms:.2f} ms (decode + corrupt + preprocess {total_ms - model_ms:.2f} ms) -> "
                    f"forward share {model_ms / total_ms:.3f}"
                )
            return e2e / bare

    ratio32 = ratio_for(dict(CIFAR_DATA_CONFIG), args.images, "32 px native", args.batch_size)
    recipe = {"input_size": (3, 224, 224), "crop_pct": 0.875, "interpolation": "bilinear"}
    ratio224 = ratio_for(recipe, args.images_224, "224 px recipe", min(args.batch_size, args.images_224))

    # ORT / torch on the bare forward pass (32 px).
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        export_onnx(model, path, (3, 32, 32))
        ort = OnnxRunner(open_session(path))
        batches = [torch.randn(args.batch_size, 3, 32, 32) for _ in range(max(2, 1024 // args.batch_size))]
        torch_ips = bare_forward_ips(TorchRunner(model, "cpu", "classifier"), batches)
        ort_ips = bare_forward_ips(ort, batches)
    print(
        f"[onnx] torch {torch_ips:8.1f} img/s | onnxruntime {ort_ips:8.1f} img/s | ORT/torch {ort_ips / torch_ips:.3f}"
    )

    # A full cifar10-c-format run: clean + 19 x 5 shards from CIFAR-10-C-layout .npy files.
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n = args.full_run_images
        images, labels = write_cifar10(root, n=n)
        folder = root / "CIFAR-10-C"
        folder.mkdir()
        np.save(folder / "labels.npy", np.tile(labels.astype(np.uint8), 5))
        rng = np.random.default_rng(0)
        for name in ALL_CORRUPTIONS:
            noisy = np.clip(np.tile(images, (5, 1, 1, 1)) + rng.normal(0, 8, (5 * n, 32, 32, 3)), 0, 255)
            np.save(folder / f"{name}.npy", noisy.astype(np.uint8))
        cfg = EvalConfig(
            "bench",
            "cifar10-c",
            root,
            holdout=True,
            batch_size=args.batch_size,
            progress=False,
            num_workers=args.workers,
        )
        start = time.perf_counter()
        evaluate_model(ModelUnderTest(model, dict(CIFAR_DATA_CONFIG), "classifier", identity), cfg)
        wall = time.perf_counter() - start
    print(
        f"[full run] clean + 19 x 5 shards from .npy, {n} test images: {wall:.1f} s -> "
        f"{1000 * wall / n:.1f} s per 1000 test images ({96 * n / wall:.1f} img/s)"
    )
    print(
        f"SUMMARY ratio_32px={ratio32:.3f} ratio_224px={ratio224:.3f} ort_over_torch={ort_ips / torch_ips:.3f} "
        f"full_run_s_per_1000={1000 * wall / n:.1f}"
    )


if __name__ == "__main__":
    main()
