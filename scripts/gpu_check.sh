#!/usr/bin/env bash
# Issue 27's checks on a GPU machine, in one go (about 6 minutes on an H200): the CUDA tests of the GPU
# routes and jobs, then the targets benchmark and `lstmkit bench --device cuda`. Run from the repository root
# with a python3 that has torch (CUDA) and triton:  bash scripts/gpu_check.sh [OUT_DIR]
set -u
OUT_DIR=${1:-${OUT:-/tmp/lstmkit-gpu}}
mkdir -p "$OUT_DIR"
export PYTHONPATH="$PWD/src:$PWD/tests${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name())"
echo "== CUDA tests"
timeout 200 python3 -m pytest -q -p no:cacheprovider -o addopts="" -x --timeout 120 \
    tests/kernels/gpu tests/train/test_device_cuda.py 2>&1 | tee "$OUT_DIR/tests.log" | tail -40
echo "== targets"
timeout 150 python3 benchmarks/gpu_kernels.py 2>&1 | tee "$OUT_DIR/gpu_kernels.log" | tail -60
cp benchmarks/results/gpu_kernels.json "$OUT_DIR/" 2>/dev/null
echo "== lstmkit bench --device cuda"
timeout 120 python3 -m lstmkit bench --device cuda --dtype bfloat16 --quick --out "$OUT_DIR/bench-cuda.json" 2>&1 \
    | tee "$OUT_DIR/bench.log" | tail -40
