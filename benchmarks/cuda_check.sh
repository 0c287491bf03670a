#!/usr/bin/env bash
# One call on a lent GPU machine: the benchmark table on CUDA (training 4..256 with TFLOP/s against the
# card's measured bf16 matrix rate, generation/classification, checkpoints, torch.compile at 256) and the
# whole demo pipeline on the GPU. Wheels the machine lacks travel in .whl/ (see BENCHMARKS.md).
# Usage there: OUT=folder bash benchmarks/cuda_check.sh [seconds for the benchmark]
set -uo pipefail
OUT=${OUT:-/tmp/cuda-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site:$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, typer, nibabel; print('torch', torch.__version__, torch.cuda.get_device_name())"

timeout "${1:-300}" python3 -m benchmarks --channels 512 64 --budget 3 --images 256 --memory-counts \
    --feature-images 256 --compile --compile-size 256 --output "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log"

timeout 200 python3 -m pacgan_cli.demo --output /tmp/demo --device cuda 2>&1 | tail -40 | tee "$OUT/demo.log"
cp /tmp/demo/report/report.md "$OUT/demo-report.md" 2>/dev/null
cp /tmp/demo/run/metrics.jsonl "$OUT/demo-metrics.jsonl" 2>/dev/null
true
