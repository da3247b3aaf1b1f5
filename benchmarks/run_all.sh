#!/usr/bin/env bash
# The one benchmark command: every group of benchmarks/run.py (populations, gradients,
# cables, networks, Hay's cell, dendritic networks, compile cache, interleaved peers,
# solvers, memory, the COBA profile, analysis, XLA emitters; `run.py --list`) with each
# installed peer, one summary (results/summary.md and results/summary.json; see
# benchmarks/run.py and README.md, "One command", for which group makes which figure).
#
#   BRIAN2_PYTHON=/tmp/brian2-venv/bin/python BRAINPY_PYTHON=/tmp/peers-venv/bin/python \
#       bash benchmarks/run_all.sh            # full suite
#   bash benchmarks/run_all.sh --quick        # everything tiny: a test of the runner
#   bash benchmarks/run_all.sh --detailed     # the summary, then the detailed sweeps below
#
# BRIAN2_PYTHON: a Python with brian2 + cython (numpy < 2.3); BRAINPY_PYTHON: one with
# brainpy, jaxley and numba (JAXLEY_PYTHON overrides it for Jaxley); NEURON_PYTHON: one
# with neuron (default: this Python). Each peer is skipped, with a line saying so, when
# its variable is unset or its Python cannot import it. DENDRIFY_PYTHON: one with dendrify
# and brian2 (default /tmp/dendrify-venv/bin/python). Other arguments go to run.py
# (e.g. --only hay2011 memory).
# Run it on an otherwise idle machine: the tools are timed one after another, and a
# concurrent job skews their ratios (the summary records the load average).
set -euo pipefail
cd "$(dirname "$0")/.."
B=benchmarks

detailed=0
args=()
for a in "$@"; do
    if [[ "$a" == "--detailed" ]]; then detailed=1; else args+=("$a"); fi
done
status=0
python $B/run.py "${args[@]}" || status=$?
[[ $detailed == 1 ]] || exit $status

# The detailed sweeps behind the tables of README.md (10³–10⁶ neurons, NEURON settings,
# gradient memory, long runs), each into its own results/<name>.{json,md}.
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
else
    echo "skipping Brian2: BRIAN2_PYTHON is not set"
fi
brainpy=()
if [[ -n "${BRAINPY_PYTHON:-}" ]]; then
    "$BRAINPY_PYTHON" $B/bench_brainpy.py --name brainpy_quiet
    "${JAXLEY_PYTHON:-$BRAINPY_PYTHON}" $B/bench_jaxley.py --sizes 1000 10000 --name jaxley_quiet
    brainpy=(--brainpy $B/results/brainpy_quiet.json)
else
    echo "skipping BrainPy and Jaxley: BRAINPY_PYTHON is not set"
fi
python $B/bench_memory.py --lengths 1000 10000 100000 1000000 --name memory_1
python $B/bench_long_runs.py --name long_runs  # issue 8: peak memory of long runs
python $B/compare.py --neurojax $B/results/neurojax_cpu_float32_quiet.json "${brian2[@]}" \
    --neuron $B/results/neuron_quiet.json $B/results/neuron_1e5_quiet.json "${brainpy[@]}"
exit $status
