"""``helpers.training.train`` under ``tf.distribute.MirroredStrategy``: the same call that trains on
one CPU trains on several devices (GPUs, or a Colab TPU with ``distribution_strategy()``).

Two logical CPU devices stand in for two GPUs. Logical devices can only be set before TensorFlow
starts, so the run happens in a subprocess and does not disturb the other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r'''
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import numpy as np
from helpers import Split
from helpers.models import build_baseline_cnn
from helpers.training import compile_model, load_model, train

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
rng = np.random.default_rng(0)
def split(n):
    return Split("synthetic", rng.integers(0, 256, (n, 48, 48, 1), dtype=np.uint8), rng.integers(0, 7, n))
with strategy.scope():  # build and compile inside the scope: the variables are mirrored
    model = compile_model(build_baseline_cnn(filters=(8, 16)))
history = train(model, split(128), split(64), sys.argv[1], epochs=2, batch_size=32, class_weight="balanced", verbose=0)
mirrored = [len(getattr(getattr(v, "value", v), "values", ())) for v in model.trainable_variables]
best = load_model(sys.argv[1] + "/best.keras")
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "epochs": len(history), "mirrored": mirrored,
                  "loss": history["loss"].tolist(), "best_outputs": list(best.output_shape)}))
'''


@pytest.mark.slow
def test_train_runs_under_mirrored_strategy_on_two_devices(tmp_path):
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "run")], capture_output=True, text=True,
                         timeout=600, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["epochs"] == 2
    assert set(result["mirrored"]) == {2}, "every trainable variable should have one copy per device"
    assert all(loss == loss and loss < 10 for loss in result["loss"])  # finite
    assert result["best_outputs"] == [None, 7]
