#!/usr/bin/env bash
# GPU checks, run on a CUDA machine by the `device` tool: the sampler's correctness on CUDA, the sampler speed
# ratios, an SD-1.5-sized UNet, and a short campaign on CUDA. Everything lands under $OUT (default: ./out):
# log.txt, sampler_cuda.{md,json} (speed) and toys/sampler_cuda.{md,json,png} (the toy table on CUDA).
# QUICK=1 runs only the CUDA tests and the speed tables (about 2 minutes).
set -uo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT/toys"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
# Without installing: make oboptim.tasks and oboptim.data resolve as the installed package's do.
ln -sfn ../tasks oboptim/tasks && ln -sfn ../data oboptim/data
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, diffusers, botorch; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'botorch', botorch.__version__)"

echo "== pytest on CUDA"
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/sampling/test_smc_cuda.py tests/sampling/test_resampling.py tests/sampling/test_smc_behaviour.py 2>&1 | tail -n 15

echo "== speed"
timeout 150 python3 scripts/bench_sampler.py --device cuda --parts speed,unet,sd --out "$OUT" 2>&1 | tail -n 30

if [ "${QUICK:-0}" = 1 ]; then echo "== done (quick)"; exit 0; fi

echo "== campaign on CUDA"
timeout 60 python3 -m oboptim run gmm2d --name gpu --storage "sqlite:////tmp/gpu.db" --budget 48 --device cuda --quiet 2>&1 | tail -n 8

echo "== toy table on CUDA"
timeout "${TOYS_SECONDS:-150}" python3 scripts/bench_sampler.py --device cuda --parts toys --out "$OUT/toys" 2>&1 | tail -n 40
echo "== done"
