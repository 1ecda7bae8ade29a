#!/usr/bin/env bash
# The GPU section of `make bench` (benchmarks/gpu.py) in one go, on a machine whose python3
# already holds torch with CUDA (and Triton) but not the kit's pure-Python dependencies.
#
#   benchmarks/gpu.sh wheels   # here, with internet: those dependencies as wheels in .whl/
#   benchmarks/gpu.sh          # on the GPU machine, from the repository root, .whl/ beside it
#
# Prints the table and writes it to $OUT/gpu-bench.txt when OUT is set (else outputs/).
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned as in uv.lock; everything else they need is in a CUDA image with torch.
WHEELS=(denoising-diffusion-pytorch==2.3.4 ema-pytorch==0.8.3 pytorch-fid==0.3.0)

if [[ "${1:-}" == wheels ]]; then
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d .whl "${WHEELS[@]}"
    ls .whl
    exit 0
fi

PYTHON=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/coursekit-site .whl/*.whl
    export PYTHONPATH=/tmp/coursekit-site
fi
log=${OUT:-outputs}/gpu-bench.txt
mkdir -p "$(dirname "$log")"
# Unbuffered, so that a run cut off by a time limit still leaves what it measured;
# lucidrains' sampler draws a progress bar that TQDM_DISABLE keeps out of the table.
PYTHONUNBUFFERED=1 TQDM_DISABLE=1 "$PYTHON" -m benchmarks gpu 2>&1 | tee "$log"
