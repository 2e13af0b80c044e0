#!/usr/bin/env bash
# The reference recipe's GPU run, for a lent machine: check the GPU, train within a budget, bring back the results.
#
#   tools/reference/gpu_run.sh [--dry-run] [--allow-cpu] [--data PACK] [--budget-min N] [-- MORE GPU OPTIONS]
#
# Runs from a copy of the repository on a machine that has a GPU but neither FER2013 nor
# TensorFlow, and reaches no network (the course's lent machines: JAX, no package registry).
# Installs nothing from outside: Keras comes as wheels in .whl/ when the machine has no Keras
# (ignored by git; make them once on the course machine, see below), the data as one pack.
#
#   1. here, once: the data and the wheels (both ignored by git, both carried with the run):
#        python -m tools.reference gpu --data /path/to/fer2013 --pack .devdata/fer2013.npz.xz   # about 56 MB
#        python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#            --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
#            -d .whl keras==3.15.1 namex optree                                          # 2.9 MB
#      (the whole carried tree is limited to 64 MiB: the pack, the wheels and the tracked files, about 7 MB)
#   2. on the device: a dry run with a one-minute budget times the start (compiling) and the epochs,
#        tools/reference/gpu_run.sh --dry-run            (carry .devdata and .whl)
#      then the real run, 8 minutes of training, evaluation, export and card:
#        tools/reference/gpu_run.sh --budget-min 8
#
# Writes to $OUT (default runs/gpu_out): fer_reference.keras, fer_reference_plain.keras,
# fer_reference_metrics.json, MODEL_CARD.md, result.json, log.csv and gpu_run.log (8 files at most
# come back from the device; the checkpoint stays in runs/gpu_run, where a rerun on the same
# machine resumes it). Exit status: 0 done, 2 refused (no GPU, no data), else the training's.
# --allow-cpu runs without a GPU (the tests do, with a tiny dataset); --dry-run: a 1-minute budget.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
DATA=.devdata/fer2013.npz.xz
BUDGET=8
RESERVE=1.5
ALLOW_CPU=0
DRY=0
RUN_DIR=${RUN_DIR:-runs/gpu_run}
OUT=${OUT:-runs/gpu_out}
PY=${PYTHON:-python3}
MORE=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --allow-cpu) ALLOW_CPU=1 ;;
    --data) DATA=$2; shift ;;
    --budget-min) BUDGET=$2; shift ;;
    --reserve-min) RESERVE=$2; shift ;;
    --) shift; MORE=("$@"); break ;;
    *) echo "gpu_run.sh: unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$DRY" = 1 ]; then BUDGET=1; RESERVE=0.4; RUN_DIR=$RUN_DIR-dry; fi
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_run.log") 2>&1
echo "gpu_run.sh $(date -u +%FT%TZ): budget $BUDGET min (reserve $RESERVE), data $DATA, run dir $RUN_DIR, out $OUT"

# 1. the GPU, before anything is installed or read
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version \
    --format=csv,noheader; then
  GPU=1
else
  GPU=0
  echo "no NVIDIA GPU here (nvidia-smi missing or failing)"
fi
if [ "$GPU" = 0 ] && [ "$ALLOW_CPU" = 0 ]; then
  echo "refused: this is the GPU run and there is no GPU; --allow-cpu runs it on the CPU (a smoke test, not the recipe's run)"
  exit 2
fi
if [ ! -f "$DATA" ]; then
  echo "refused: no data at $DATA. Pack FER2013 where it is: python -m tools.reference gpu --data /path/to/fer2013 --pack $DATA"
  exit 2
fi

# 2. Keras: the machine's own, else the carried wheels (installed from .whl/ only, never from a registry)
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if ! "$PY" -c "import keras" 2>/dev/null; then
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "refused: no Keras here and no wheels in .whl/ (see the comment at the top of $0)"
    exit 2
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/fer_site .whl/*.whl || exit 2
  export PYTHONPATH=$PYTHONPATH:/tmp/fer_site
fi
if [ -z "${KERAS_BACKEND:-}" ]; then  # TensorFlow where there is one, else JAX (the lent machines have no TensorFlow)
  if "$PY" -c "import tensorflow" 2>/dev/null; then export KERAS_BACKEND=tensorflow; else export KERAS_BACKEND=jax; fi
fi
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2 XLA_PYTHON_CLIENT_PREALLOCATE=false
"$PY" - "$GPU" <<'EOF' || exit 2
import sys
import keras
from tools.reference.device import choose_precision, gpu_compute_capability
cc, name = gpu_compute_capability()
print(f"Keras {keras.__version__} on {keras.backend.backend()} sees: {name}, compute capability {cc}; "
      f"precision {choose_precision()[0]}")
if sys.argv[1] == "1" and cc is None:
    sys.exit(f"refused: nvidia-smi lists a GPU but {keras.backend.backend()} does not see it")
EOF

# 3. the budgeted run (its own limit: the budget plus 2 minutes, so that what it wrote still comes back)
LATENCY=200
[ "$DRY" = 1 ] && LATENCY=20
timeout "$(awk "BEGIN {print int($BUDGET * 60 + 120)}")" "$PY" -m tools.reference gpu --data "$DATA" --out "$RUN_DIR" \
  --budget-min "$BUDGET" --reserve-min "$RESERVE" --latency-repeats "$LATENCY" "${MORE[@]}"
STATUS=$?
for f in fer_reference.keras fer_reference_plain.keras fer_reference_metrics.json MODEL_CARD.md result.json log.csv; do
  [ -f "$RUN_DIR/$f" ] && cp "$RUN_DIR/$f" "$OUT/"
done
echo "gpu_run.sh: exit $STATUS; in $OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
exit $STATUS
