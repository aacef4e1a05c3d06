#!/usr/bin/env bash
# aevb on a machine with a GPU, checked in one command (never part of `make test`, which runs where CI runs: no GPU).
# Sections (SECTIONS, default all three, in this order):
#   suite        the whole test suite with the default device (auto -> CUDA), its summary and every failure;
#   quickstarts  the README's CLI and Python quickstarts exactly as written (benchmarks/readme_quickstarts.py);
#   speed        for the README's 784-400-20 ReLU VAE on static binarized MNIST:
#                1. 3 epochs on the GPU in fp32, in bf16 autocast and compiled with CUDA graphs (reduce-overhead):
#                   seconds per epoch, samples/s, test ELBO; one
#                   epoch on the CPU of the same machine for the ratio;
#                2. aevb evaluate at K = 5000 importance samples over the 10,000 test images (the compiled path aevb
#                   picks by itself for this much work): seconds, images/s, the NLL;
#                3. aevb.fit against a hand-written loop with the data resident on the device, batch 100 and 1,000
#                   (ratios of speed, goal >= 0.95), and against this machine's CPU at batch 100 (goal >= 3);
#                4. log p(x) in fp32, tf32 and bf16 as a share of the measured fp32 GEMM peak, and the NLL against the
#                   CPU's on the same images (benchmarks/evaluate_device.py);
#                5. the beta-VAE dSprites step (4096-1200-1200-10, batch 64): ms per step (BVAE_STEPS, default 2000);
#                6. with more than one GPU: the same training under torchrun, one process per GPU (DDP), 1 epoch.
# Usage (from the repository root, with the environment made by `make dev`):
#   AEVB_DATA_DIR=../shared/data bash benchmarks/gpu_check.sh [OUT]
#   SECTIONS="suite" bash benchmarks/gpu_check.sh        # only the suite
# PYTHON (default .venv/bin/python, else python3) is the interpreter; PYTEST_ARGS are added to pytest's (the suite
# runs on 8 workers when pytest-xdist is installed). DEVICE, EPOCHS, K and LIMIT override the speed section's
# defaults (cuda, 3, 5000, 0 = all test images) to try it on a CPU. Exit status: 1 if a section failed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-/tmp/aevb-gpu-check}}
SECTIONS=${SECTIONS:-suite quickstarts speed}
DEVICE=${DEVICE:-cuda}
EPOCHS=${EPOCHS:-3}
K=${K:-5000}
LIMIT=${LIMIT:-0}
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
PY=$PYTHON
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
export AEVB_DATA_DIR=${AEVB_DATA_DIR:-$(cd .. && pwd)/shared/data}
failed=()
wants() { [[ " $SECTIONS " == *" $1 "* ]]; }

$PY - <<PYEOF
import torch
import sys
print("Python", sys.version.split()[0], "| torch", torch.__version__, "| CUDA available:", torch.cuda.is_available(), "| GPUs:", torch.cuda.device_count())
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"  cuda:{i} {p.name}, {p.total_memory / 2**30:.0f} GiB, bf16 supported: {torch.cuda.is_bf16_supported()}")
if not torch.cuda.is_available():
    print("no CUDA device: the suite and quickstarts run on the CPU here (DEVICE=cpu for the speed section)")
PYEOF

if wants suite; then
  echo "== the test suite, default device (auto: $($PY -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")'))"
  XDIST=()
  if $PY -c "import xdist" 2>/dev/null; then XDIST=(-n 8 --dist loadfile); fi
  start=$(date +%s)
  # shellcheck disable=SC2086
  $PY -m pytest -q -p no:cacheprovider "${XDIST[@]}" ${PYTEST_ARGS:-} > "$OUT/suite.log" 2>&1
  rc=$?
  grep -E "^(FAILED|ERROR) " "$OUT/suite.log"
  echo "suite: $(tail -n 1 "$OUT/suite.log") [exit $rc, $(( $(date +%s) - start )) s; full log $OUT/suite.log]"
  [ "$rc" -eq 0 ] || failed+=(suite)
fi

if wants quickstarts; then
  $PY benchmarks/readme_quickstarts.py --out "$OUT/quickstarts" || failed+=(quickstarts)
fi

if wants speed; then
(
  set -e
  TRAIN=(train --dataset binarized-mnist --hidden 400 --latent-dim 20 --activation relu --optimizer adam --lr 1e-3
       --batch-size 100 --seed 0 --progress false --overwrite --picture-epochs "" --terms-points 0)
  for precision in fp32 bf16; do
    echo "== train: $EPOCHS epochs on $DEVICE, $precision"
    $PY -m aevb "${TRAIN[@]}" --epochs "$EPOCHS" --device "$DEVICE" --precision "$precision" --out "$OUT/$precision"
  done
  echo "== train: $EPOCHS epochs on $DEVICE, fp32, compiled with CUDA graphs (--compile-mode reduce-overhead)"
  $PY -m aevb "${TRAIN[@]}" --epochs "$EPOCHS" --device "$DEVICE" --compile true --compile-mode reduce-overhead \
    --out "$OUT/graphs" || echo "graphs: FAILED (the eager rows above stand)"
  echo "== train: 1 epoch on the CPU, fp32 (the reference)"
  $PY -m aevb "${TRAIN[@]}" --epochs 1 --device cpu --out "$OUT/cpu"

  $PY - "$OUT" <<'PYEOF'
import json, statistics, sys
from pathlib import Path
out = Path(sys.argv[1])
def epochs(name):
    return [json.loads(line) for line in (out / name / "metrics.jsonl").read_text().splitlines() if '"epoch"' in line]
cpu = epochs("cpu")[-1]["epoch_seconds"]
for name in ("fp32", "bf16", "graphs"):
    if not (out / name / "metrics.jsonl").exists():
        continue
    recs = epochs(name)
    secs = statistics.median(r["epoch_seconds"] for r in recs[1:] or recs)  # the first epoch pays for warm-up
    print(f"{name}: {secs:.2f} s/epoch = {50000 / secs:,.0f} samples/s ({cpu / secs:.1f}x the CPU's {cpu:.1f} s); "
          f"test ELBO after {recs[-1]['epoch']} epochs {recs[-1].get('test_elbo', float('nan')):.3f} nats")
PYEOF

  echo "== training against the hand-written resident-data loop, batch 100 and 1,000, and against this CPU (issue 27)"
  $PY benchmarks/train_throughput.py --only-hand --device "$DEVICE" --batches 100,1000 --n 60000 --repeats 3

  echo "== evaluate: K = $K importance samples on the test set (fp32 run)"
  start=$(date +%s.%N)
  $PY -m aevb evaluate "$OUT/fp32" --nll-samples "$K" --limit "$LIMIT" --json > "$OUT/evaluate.json"
  end=$(date +%s.%N)
  $PY - "$OUT/evaluate.json" "$start" "$end" <<'PYEOF'
import json, sys
ev = json.load(open(sys.argv[1])); secs = float(sys.argv[3]) - float(sys.argv[2])
print(f"NLL {ev['nll']:.3f} ± {ev['nll_stderr']:.3f} nats, ELBO {ev['elbo']:.3f}, n = {ev['n']}, K = {ev['nll_samples']}, "
      f"compiled: {ev['compiled']}; {secs:.1f} s for the whole command = {ev['n'] / secs:,.0f} images/s")
PYEOF

  echo "== log p(x) on $DEVICE in fp32, tf32 and bf16: share of the measured fp32 GEMM peak, NLL against the CPU's"
  $PY benchmarks/evaluate_device.py "$OUT/fp32" --device "$DEVICE" -k "$K" --limit "$LIMIT"

  echo "== beta-VAE on dSprites (4096-1200-1200-10, batch 64, beta 4): time per step, two lengths differenced"
  BVAE=(train --dataset dsprites --hidden 1200,1200 --latent-dim 10 --batch-size 64 --beta 4 --eval-every 0
        --terms-points 0 --picture-epochs "" --progress false --overwrite --device "$DEVICE")
  STEPS=${BVAE_STEPS:-2000}
  $PY -m aevb "${BVAE[@]}" --steps 100 --out "$OUT/bvae-short" > /dev/null
  $PY -m aevb "${BVAE[@]}" --steps $((STEPS + 100)) --out "$OUT/bvae-long" > /dev/null
  # the runs' own training seconds (data loading and start-up excluded), the first 100 steps' warm-up differenced away
  $PY - "$OUT" "$STEPS" <<'PYEOF'
import json, sys
from pathlib import Path
seconds = [json.loads((Path(sys.argv[1]) / run / "metrics.jsonl").read_text().splitlines()[-1])["epoch_seconds"]
           for run in ("bvae-short", "bvae-long")]
steps = int(sys.argv[2]); ms = (seconds[1] - seconds[0]) / steps * 1e3
print(f"{ms:.2f} ms per step over {steps} steps (goal <= 1 ms); 300,000 steps would take {ms * 300 / 60:.0f} min per run")
PYEOF

  NGPU=$($PY -c "import torch; print(torch.cuda.device_count())")
  if [ "$NGPU" -gt 1 ] && [[ "$DEVICE" == cuda* ]]; then
    echo "== DDP: torchrun, one process per GPU ($NGPU), 1 epoch"
    $PY -m torch.distributed.run --standalone --nproc_per_node="$NGPU" -m aevb "${TRAIN[@]}" --epochs 1 --device cuda \
    --out "$OUT/ddp"
    $PY -c "import json; r=[json.loads(l) for l in open('$OUT/ddp/metrics.jsonl')][-1]; print('DDP epoch', r['epoch_seconds'], 's, test ELBO', r.get('test_elbo'))"
  else
    echo "== DDP: skipped (one GPU; torchrun with one process per GPU needs two or more)"
  fi
) || failed+=(speed)
fi

if [ ${#failed[@]} -eq 0 ]; then echo "done: $OUT (every section passed)"; else echo "done: $OUT; FAILED: ${failed[*]}"; exit 1; fi
