#!/usr/bin/env bash
# The PINN accuracy table on one GPU in about four minutes: rows run as parallel processes, each
# at its own fraction of the literature step count (plain MLPs and PIG run compiled Taylor-mode
# jets in a captured step; modified MLPs, causal or balanced, autograd in a captured step).
# Every row is appended to OUTDIR/rows.jsonl as it finishes; a group still running after
# LIMIT seconds is stopped (its unfinished row is lost, the finished ones stay).
# Usage: bash benchmarks/pinn/table_gpu.sh OUTDIR [LIMIT]   (PINN_ARGS: more run.py arguments)
set -u
out=${1:?output folder}; limit=${2:-290}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
here=$(dirname "$0")
deadline=$(( $(date +%s) + limit ))
row() {  # $1: steps scale, $2: problems, $3: methods
  left=$(( deadline - $(date +%s) ))
  (( left > 0 )) || return
  timeout "$left" python3 "$here/run.py" --no-speed --steps-scale "$1" --only "$2" --methods "$3" \
    ${PINN_ARGS:-} --out "$(mktemp --suffix=.json)" 2>>"$out/stderr.log" \
    | grep --line-buffered '"table"' >> "$out/rows.jsonl"
}
group() { eval "$1" & }
group 'row 0.5 allen_cahn mlp; row 0.3 kdv mlp'
group 'row 0.5 convection mlp; row 1 burgers mlp; row 0.5 helmholtz2d mlp'
group 'row 0.5 klein_gordon2d mlp; row 0.5 nonlinear_diffusion2d mlp'
group 'row 0.15 flow_mixing2d pig'
group 'row 0.1 helmholtz2d pig; row 0.05 klein_gordon2d pig'
group 'row 0.1 nonlinear_diffusion2d pig'
group 'row 0.05 allen_cahn causal_modified_mlp'
wait
