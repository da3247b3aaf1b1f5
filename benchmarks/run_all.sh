#!/usr/bin/env bash
# Every measurement of benchmarks/README.md, in order, into benchmarks/results/.
#
#   BRIAN2_PYTHON=/tmp/brian2-venv/bin/python bash benchmarks/run_all.sh
#
# BRIAN2_PYTHON: a Python with brian2 + cython (see bench_brian2.py); Brian2 is skipped
# when it is unset. The neurojax population benchmark runs twice (A at the start, B at
# the end) so that the spread of timings on a shared machine is visible.
set -euo pipefail
cd "$(dirname "$0")/.."
B=benchmarks

python $B/bench_populations.py --name neurojax_cpu_float32_a
if [[ -n "${BRIAN2_PYTHON:-}" ]]; then
    "$BRIAN2_PYTHON" $B/bench_brian2.py --targets cython cpp_standalone --max-run-s 150 \
        --name brian2_compiled
    "$BRIAN2_PYTHON" $B/bench_brian2.py --targets numpy --max-run-s 30 --name brian2_numpy
    "$BRIAN2_PYTHON" $B/bench_brian2.py --targets cpp_standalone --dtype float64 \
        --sizes 1000 100000 --name brian2_standalone_float64
fi
python $B/bench_neuron.py --sizes 1000 10000 --threads 1 2 --table 1 0 --cache-efficient 0 1 \
    --name neuron
python $B/bench_neuron.py --sizes 100000 --threads 1 --table 1 --cache-efficient 1 \
    --repeats 2 --name neuron_1e5
python $B/bench_populations.py --name neurojax_cpu_float32_b
python $B/bench_populations.py --sizes 1000 100000 --dtype float64 --name neurojax_cpu_float64
python $B/bench_memory.py --neurons 1 --name memory_1
python $B/bench_memory.py --neurons 100 --max-run-gib 2 --name memory_100
python $B/compare.py \
    --neurojax $B/results/neurojax_cpu_float32_a.json $B/results/neurojax_cpu_float32_b.json \
    --brian2 $B/results/brian2_*.json --neuron $B/results/neuron*.json
python $B/compare.py --dtype float64 --name comparison_float64 \
    --neurojax $B/results/neurojax_cpu_float64.json \
    --brian2 $B/results/brian2_*.json --neuron $B/results/neuron*.json
