#!/usr/bin/env bash
# Every measurement of benchmarks/README.md, in order, into benchmarks/results/.
#
#   BRIAN2_PYTHON=/tmp/brian2-venv/bin/python BRAINPY_PYTHON=/tmp/peers-venv/bin/python \
#       bash benchmarks/run_all.sh
#
# BRIAN2_PYTHON: a Python with brian2 + cython (see bench_brian2.py); BRAINPY_PYTHON: one
# with brainpy and jaxley (see bench_brainpy.py, bench_jaxley.py). Each peer is skipped when its variable is unset.
# Run it on an otherwise idle machine: the tools are timed one after another, and a
# concurrent job skews their ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
B=benchmarks

python $B/bench_populations.py --name neurojax_cpu_float32_quiet
python $B/bench_neuron.py --sizes 1000 10000 --threads 1 2 --table 1 0 --cache-efficient 1 \
    --name neuron_quiet
python $B/bench_neuron.py --sizes 100000 --threads 2 --table 1 --cache-efficient 1 \
    --repeats 2 --name neuron_1e5_quiet
brian2=()
if [[ -n "${BRIAN2_PYTHON:-}" ]]; then
    "$BRIAN2_PYTHON" $B/bench_brian2.py --targets cpp_standalone cython \
        --sizes 1000 10000 100000 --max-run-s 60 --name brian2_quiet
    brian2=(--brian2 $B/results/brian2_quiet.json)
fi
brainpy=()
if [[ -n "${BRAINPY_PYTHON:-}" ]]; then
    "$BRAINPY_PYTHON" $B/bench_brainpy.py --name brainpy_quiet
    "$BRAINPY_PYTHON" $B/bench_jaxley.py --sizes 1000 10000 --name jaxley_quiet  # pip install jaxley
    brainpy=(--brainpy $B/results/brainpy_quiet.json)
fi
python $B/bench_memory.py --lengths 1000 10000 100000 1000000 --name memory_1
python $B/bench_long_runs.py --name long_runs  # issue 8: peak memory of long runs
python $B/compare.py --neurojax $B/results/neurojax_cpu_float32_quiet.json "${brian2[@]}" \
    --neuron $B/results/neuron_quiet.json $B/results/neuron_1e5_quiet.json "${brainpy[@]}"
