"""Speed and memory benchmarks of pacgan against the published code's way of doing the same work.

`python -m benchmarks` (or `make bench`) runs every section, prints one table and writes
`benchmarks/results/<date>-<host>.json`. Variants that are compared run interleaved in one process on the
same data and weights, and the table reports their ratios, because shared machines are noisy.
"""
