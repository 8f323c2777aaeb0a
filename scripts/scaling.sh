#!/usr/bin/env bash
# Multi-core run of the speed issue: W3 at 1, 2, 4, 8 and 16 threads, fastprop against
# NumPy, PyTorch and JAX (CPU) in one process (scripts/compare.py), then W3's network with
# batches of 1280 rows (more work per step to share) at 1, 4 and 16 threads, and the
# check that fastprop's parameters are bit-identical for each thread count
# (scripts/thread_bits.py). For a 16-core machine; from the repository root:
#
#     bash scripts/scaling.sh [OUT_DIR]        # OUT_DIR defaults to $OUT, else .
#
# Needs numpy, numba, scipy, threadpoolctl and tqdm (fastprop is imported from this
# checkout), and torch and jax to compare with. JAX is held to the CPU; OpenBLAS runs
# the machine's own kernels (OPENBLAS_CORETYPE/L2_SIZE unset, see compare.py).
set -uo pipefail
out=${1:-${OUT:-.}}
threads=${THREADS:-1,2,4,8,16}
big_threads=${BIG_THREADS:-1,4,16}
py=${PYTHON:-python3}
export JAX_PLATFORMS=cpu PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
mkdir -p "$out"
{
  date -u
  lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Core|Socket|NUMA node\(s\)|L2|L3'
  $py -c 'import numpy, numba, scipy; print("numpy", numpy.__version__, "numba",
          numba.__version__, "scipy", scipy.__version__, "threading layer:",
          numba.config.THREADING_LAYER, "pool", numba.config.NUMBA_NUM_THREADS)'
} 2>&1 | tee "$out/machine.txt"
$py scripts/thread_bits.py --threads "$threads" 2>&1 | tee "$out/thread_bits.txt"
$py scripts/compare.py --workloads W3 --threads "$threads" --repeats "${REPEATS:-5}" \
    --frameworks fastprop,numpy,torch,jax --no-startup --json "$out/w3_scaling.json" \
    2>&1 | tee "$out/w3_scaling.md"
$py scripts/compare.py --workloads W3 --threads "$big_threads" --repeats "${REPEATS:-5}" \
    --batch-size 1280 --frameworks fastprop,numpy,torch,jax --no-startup \
    --json "$out/w3_batch1280.json" 2>&1 | tee "$out/w3_batch1280.md"
