#!/usr/bin/env bash
# One batch of the GPU figures in benchmarks/results/: the PINN table (benchmarks/pinn/table_gpu.sh,
# each row at its own fraction of the literature steps), Burgers PINN from the CLI (GPU, and CPU
# with 2 threads for comparison), and FNO accuracy at a fraction of the FNO paper's sample and
# step counts.
# Usage: bash benchmarks/run_gpu.sh OUTDIR [PINN_LIMIT_S] [OPERATOR_SCALE]
set -u
out=${1:?output folder}; limit=${2:-290}; oscale=${3:-0.1}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
bash benchmarks/pinn/table_gpu.sh "$out/pinn" "$limit" &
python3 benchmarks/burgers_pinn.py --steps 3000 --device cuda --out "$out/burgers.jsonl" > /dev/null 2>&1 &
python3 benchmarks/burgers_pinn.py --steps 3000 --threads 2 --out "$out/burgers.jsonl" > /dev/null 2>&1 &
python3 benchmarks/operators/run.py --skip-throughput --scale "$oscale" --out "$out/operators_accuracy.json" \
  > "$out/operators.log" 2>&1 &
wait
