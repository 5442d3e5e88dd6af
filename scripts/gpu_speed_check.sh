#!/usr/bin/env bash
# A shorter GPU check: the sampler's CUDA tests and the speed tables only (see gpu_check.sh for the full one).
set -uo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
ln -sfn ../tasks oboptim/tasks && ln -sfn ../data oboptim/data
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
echo "== pytest on CUDA"
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/sampling/test_smc_cuda.py tests/sampling/test_smc_behaviour.py 2>&1 | tail -n 5
echo "== speed"
timeout 150 python3 scripts/bench_sampler.py --device cuda --parts speed,unet,sd --repeats 5 --out "$OUT" 2>&1 | tail -n 30
echo "== done"
