#!/usr/bin/env bash
# One batch of the GPU figures in benchmarks/results/: PINN table (at a fraction of each
# preset's steps), Burgers PINN from the CLI (GPU, and CPU with 2 threads for comparison),
# and FNO accuracy at a fraction of the FNO paper's sample and step counts.
# Usage: bash benchmarks/run_gpu.sh OUTDIR [STEPS_SCALE] [OPERATOR_SCALE]
set -u
out=${1:?output folder}; scale=${2:-0.1}; oscale=${3:-0.1}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
run_pinn() {  # $1: tag, $2: problems
  python3 benchmarks/pinn/run.py --steps-scale "$scale" --only "$2" --no-speed \
    --out "$out/pinn_table_$1.json" > "$out/pinn_$1.log" 2>&1
}
run_pinn a allen_cahn &
run_pinn b convection,burgers &
run_pinn c kdv,helmholtz2d,helmholtz2d_high &
run_pinn d klein_gordon2d,flow_mixing2d &
python3 benchmarks/burgers_pinn.py --steps 3000 --device cuda --out "$out/burgers.jsonl" > /dev/null 2>&1 &
python3 benchmarks/burgers_pinn.py --steps 3000 --threads 2 --out "$out/burgers.jsonl" > /dev/null 2>&1 &
python3 benchmarks/operators/run.py --skip-throughput --scale "$oscale" --out "$out/operators_accuracy.json" \
  > "$out/operators.log" 2>&1 &
wait
