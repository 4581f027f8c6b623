"""Print the fidelity table: the torch backend against the reference, per corruption and severity.

    python benchmarks/corruption_fidelity.py [--params imagenet-c cifar10-c] [--corruptions fog snow]

Every registered corruption, all 5 severities, on the four skimage photos (224 px for imagenet-c, 32 px
for cifar10-c), with each corruption's criterion from ``evaluator.corruptions.fidelity.CRITERIA``. The
"worst" column is the severity closest to failing. Exit status 1 if any cell fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluator.corruptions import CORRUPTIONS, PARAM_SETS
from evaluator.corruptions.fidelity import CRITERIA, SIZE_OF, measure


def _badness(m) -> float:
    c = m.criterion
    if c.kind == "exact":
        return m.mad / c.max_mad
    return max(m.shift / c.max_shift, m.spread / c.max_spread, m.ssim_gap / c.max_ssim_gap)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", nargs="+", default=list(PARAM_SETS), choices=PARAM_SETS)
    parser.add_argument("--corruptions", nargs="+", default=list(CORRUPTIONS))
    parser.add_argument("--severities", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    args = parser.parse_args(argv)

    from rich.progress import track

    cells = [(n, p, s) for p in args.params for n in args.corruptions for s in args.severities]
    results = {}
    for name, params, severity in track(cells, description="measuring", transient=True):
        results[name, params, severity] = measure(name, params, severity)
    failed = False
    for params in args.params:
        print(f"\n## {params} ({SIZE_OF[params]} px, 4 photos)\n")
        print("| corruption | criterion | worst severity: measured | all severities | pass |")
        print("|---|---|---|---|---|")
        for name in args.corruptions:
            ms = [results[name, params, s] for s in args.severities]
            worst = max(ms, key=_badness)
            ok = all(m.passed for m in ms)
            failed |= not ok
            summary = " / ".join(
                f"{m.mad:.2f}" if m.criterion.kind == "exact" else f"{_badness(m):.2f}" for m in ms
            )
            print(
                f"| {name} | {CRITERIA[name].describe()} | {worst.severity}: {worst.describe()} "
                f"| {summary} | {'yes' if ok else 'NO'} |"
            )
    print("\n(all severities: MAD for exact corruptions; for random ones the largest ratio measured/allowed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
