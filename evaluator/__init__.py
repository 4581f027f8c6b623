"""rzoo's evaluator: corrupted downstream benchmarks, robustness metrics and the results schema."""
