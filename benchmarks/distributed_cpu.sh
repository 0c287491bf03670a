#!/usr/bin/env bash
# One process against `torchrun --nproc_per_node=2` (gloo) on the same run, timed whole, twice, interleaved.
# Usage: bash benchmarks/distributed_cpu.sh [work folder]   (run it on an otherwise idle machine)
set -euo pipefail
work=${1:-/tmp/pacgan-distributed}
bin=$(dirname "$0")/../.venv/bin
rm -rf "$work" && mkdir -p "$work"
"$bin/python" - "$work" <<'PY'
import sys
from pathlib import Path

sys.path.insert(0, str(Path("tests").resolve()))
from helpers import write_config, write_data_folder

work = Path(sys.argv[1])
data = write_data_folder(work / "data", 240, 32)
write_config(work / "config.yaml", {
    "data_train_directory": str(data), "label_train_directory": str(data / "labels.csv"),
    "data_test_directory": str(data), "label_test_directory": str(data / "labels.csv"),
    "in_channels": 32, "z_dim": 32, "embedding_dim": 3, "factors": [1, 1, 1, 0.5], "batch_sizes": 16,
    "critic_iterations": 1, "progressive_epochs": [2, 2, 2, 2], "validate": False, "generate": False,
    "device": "cpu", "seed": 0,
})
PY
export OMP_WAIT_POLICY=PASSIVE
for round in 1 2; do
    rm -rf "$work/one" "$work/two"
    start=$(date +%s.%N)
    "$bin/pacgan" train -c "$work/config.yaml" -o "$work/one" --threads 2 --quiet >/dev/null 2>&1
    echo "round $round: 1 process, 2 threads: $(echo "$(date +%s.%N) - $start" | bc) s"
    start=$(date +%s.%N)
    PACGAN_THREADS=1 "$bin/torchrun" --nproc_per_node=2 -m pacgan_cli train -c "$work/config.yaml" \
        -o "$work/two" --quiet >/dev/null 2>&1
    echo "round $round: 2 processes, 1 thread each: $(echo "$(date +%s.%N) - $start" | bc) s"
done
