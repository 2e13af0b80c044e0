#!/usr/bin/env bash
# The experiments behind the reference model, as run on one lent GPU (Keras 3, JAX backend):
# the reference recipe trained for a time budget, plus ablations at a smaller budget, all at once
# on the same GPU (so they share it: compare the ablations with each other and with the control).
#   bash tools/reference_experiments.sh DATA OUT MAIN_MINUTES ABLATION_MINUTES
set -u
DATA=$1; OUT=$2; MAIN=${3:-7.5}; ABL=${4:-4}
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
mkdir -p "$OUT" runs
python3 -c "import jax, keras; print('devices', jax.devices(), 'keras', keras.__version__)"
run() { name=$1; shift; python3 -m tools.reference train --data "$DATA" --run-dir "runs/$name" "$@" > "runs/$name.out" 2>&1; }
run main --time-budget-min "$MAIN" --epochs 300 --export "$OUT/fer_reference.keras" & main=$!
sleep 20
run control --time-budget-min "$ABL" --epochs 300 &
run no_smoothing --time-budget-min "$ABL" --epochs 300 --label-smoothing 0 &
run class_weights --time-budget-min "$ABL" --epochs 300 --class-weights &
run weak_aug --time-budget-min "$ABL" --epochs 300 --augment weak &
run vgg_default --time-budget-min "$ABL" --epochs 300 --recipe vgg-default &
run compact --time-budget-min "$ABL" --epochs 300 --recipe compact &
while kill -0 $main 2>/dev/null; do sleep 5; done   # main done (or dead): stop waiting
sleep 5; pkill -f "tools.reference train"
python3 - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1]); runs = pathlib.Path("runs"); rows = {}
for d in sorted(p for p in runs.iterdir() if p.is_dir()):
    r = d / "result.json"
    rows[d.name] = {"result": json.loads(r.read_text()) if r.exists() else None,
                    "log": (d / "log.csv").read_text() if (d / "log.csv").exists() else "",
                    "tail": (runs / f"{d.name}.out").read_text()[-3000:]}
(out / "experiments.json").write_text(json.dumps(rows, indent=1))
for n, r in rows.items():
    res = r["result"] or {}
    print(f"{n:14s} epochs={res.get('epochs_run')} val={res.get('val_accuracy')} tta={res.get('val_accuracy_flip_tta')} f1={res.get('val_macro_f1_flip_tta')}")
PY
