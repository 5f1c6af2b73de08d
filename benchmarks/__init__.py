"""`make bench`: speed and memory benchmarks, printed as ratios against peers measured in the same
run. Run one with ``make bench BENCH=name``; see ``benchmarks/__main__.py``."""
