"""GPU mode: the reference recipe trained, evaluated, exported and described in one budgeted command.

    python -m tools.reference gpu --data /path/to/fer2013 --budget-min 8 --out runs/gpu
    # the dataset for a machine without it (the lent GPU machine): one xz file, then --data that file
    python -m tools.reference gpu --data /path/to/fer2013 --pack .fer2013/fer2013.npz.xz

The recipe of ``python -m tools.reference train`` (a ``helpers.models`` VGG network with its
preprocessing inside, Adam with decoupled weight decay, label smoothing, the course's augmentation,
warm-up then cosine decay to 1 % over the planned epochs, the best epoch on the twin-free validation
split of ``helpers.course_splits``), with what makes it fast on one accelerator
(:mod:`tools.reference.device`): the training faces as one tensor on the device and a batch as
indices into it, the augmentation as tensor ops compiled into the step (XLA), the precision
chosen from the device (``--precision auto``), a large batch (256) with the learning rate scaled
from the CPU recipe's 1e-3 at batch 64 (``--lr-scaling sqrt``: the square-root rule for Adam,
Malladi et al. 2022; ``linear`` for the linear rule of Goyal et al. 2017).

``--budget-min`` is the whole command's wall-clock time: after each epoch the number of epochs
is planned again from the measured time per epoch so that training ends with the learning rate
decayed and ``--reserve-min`` left for the end: the exported model (flip test-time augmentation,
as ``train --export``; float32; loadable on Keras 3.8) is measured once on the test split
(``helpers.final_test``, all faces and those without a pixel twin in training), against the
shipped model on the same faces (paired bootstrap, as lesson 06), and described in
``MODEL_CARD.md`` and ``fer_reference_metrics.json`` (``tools.reference evaluate``'s card; it
publishes nothing: ``python -m tools.reference evaluate OUT/fer_reference.keras --publish`` on
the course machine does, after the rule of ``ensemble``).

A checkpoint (network, optimizer, random-generator states, epoch, plan, time spent) is written
every ``--checkpoint-min`` minutes (at the end of an epoch) to ``OUT/checkpoint``; run the same
command again after a kill and it continues there, to the same weights as an uninterrupted run
on a deterministic device. Progress: one line per epoch with the plan and an ETA.

Runs on any Keras 3 backend: TensorFlow on the course machine and in the tests, JAX on the lent
GPU machine (which has no TensorFlow; ``tools/reference/gpu_run.sh``). ``--strategy mirrored``
(TensorFlow) trains on every local GPU with ``tf.distribute.MirroredStrategy`` (batch norm then
synchronised across replicas, so a step computes what one device would).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

from .common import AUGMENT, RECIPES

#: what a resumed run must keep (``--budget-min``, ``--epochs``, ``--data``'s path may change)
RESUME_KEEPS = ("recipe", "width_scale", "augment", "batch_size", "lr", "lr_scaling", "warmup_epochs", "weight_decay",
                "label_smoothing", "precision", "seed", "draw_seed", "val_fraction", "strategy")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.reference gpu", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="FER2013 folder (train/, test/), fer2013.csv, or a pack (*.npz.xz)")
    p.add_argument("--out", default=None, help="folder for the checkpoint, log, model, metrics and card")
    p.add_argument("--pack", default=None, metavar="FILE", help="only write --data as one *.npz.xz file for another machine")
    p.add_argument("--budget-min", type=float, default=None, help="wall-clock minutes for the whole command")
    p.add_argument("--reserve-min", type=float, default=1.5,
                   help="minutes of the budget kept for the end (export, test, comparison, card)")
    p.add_argument("--epochs", type=int, default=300, help="at most this many epochs (all of them without a budget)")
    p.add_argument("--recipe", default="vgg-lean", choices=sorted(RECIPES))
    p.add_argument("--width-scale", type=float, default=1.0, help="multiply every width (smoke runs: 0.25)")
    p.add_argument("--augment", default="default", choices=list(AUGMENT))
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3, help="the learning rate at batch 64, scaled to --batch-size")
    p.add_argument("--lr-scaling", default="sqrt", choices=["sqrt", "linear", "none"])
    p.add_argument("--warmup-epochs", type=int, default=5)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"])
    p.add_argument("--jit", default="auto", choices=["auto", "on", "off"],
                   help="XLA for the training step (auto: on with a GPU; JAX always compiles)")
    p.add_argument("--steps-per-execution", type=int, default=None, help="steps per compiled call (auto: 8 on a GPU, else 1)")
    p.add_argument("--strategy", default="none", choices=["none", "mirrored"])
    p.add_argument("--checkpoint-min", type=float, default=2.0, help="checkpoint at the first epoch end after this many minutes")
    p.add_argument("--seed", type=int, default=42, help="seeds the validation split (as train and evaluate)")
    p.add_argument("--draw-seed", type=int, default=None, help="seed of the weights, shuffles, augmentation (default --seed)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--latency-repeats", type=int, default=200, help="timed single-face calls per round (3 rounds)")
    p.add_argument("--no-compare", action="store_true", help="skip the paired comparison with the shipped model")
    args = p.parse_args(argv)
    args.draw_seed = args.seed if args.draw_seed is None else args.draw_seed
    if not args.pack and not args.out:
        p.error("--out is required (unless --pack)")
    if args.budget_min is not None and args.budget_min <= args.reserve_min:
        p.error(f"--budget-min {args.budget_min} leaves nothing after --reserve-min {args.reserve_min}")
    return args


def scaled_lr(lr_at_64: float, batch_size: int, rule: str) -> float:
    """The learning rate for ``batch_size`` from the one tuned at batch 64: ``sqrt`` (Adam), ``linear`` or ``none``."""
    factor = {"sqrt": math.sqrt(batch_size / 64), "linear": batch_size / 64, "none": 1.0}[rule]
    return lr_at_64 * factor


def planned_epochs(budget_s: float | None, spent_s: float, reserve_s: float, done: int, per_epoch_s: float | None,
                   cap: int) -> int:
    """How many epochs the run can have in all: ``cap`` without a budget or before any epoch is timed,
    else the ``done`` ones plus as many as fit in what is left of ``budget_s`` after ``spent_s``
    and ``reserve_s`` at ``per_epoch_s`` each (never fewer than ``done``, never more than ``cap``)."""
    if budget_s is None or not per_epoch_s:
        return cap
    left = budget_s - spent_s - reserve_s
    return int(min(cap, done + max(0, left // per_epoch_s)))


def warmup_for(warmup_epochs: int, planned: int) -> int:
    """Warm-up epochs for a plan of ``planned`` epochs: ``warmup_epochs``, at most a tenth of the plan (at least 1)."""
    return max(1, min(warmup_epochs, planned // 10))


def build_network(recipe: str, width_scale: float = 1.0, augment=None, name: str = "vgg_cnn", **overrides):
    """The recipe's network (``helpers.models.build_vgg_cnn`` with ``common.RECIPES[recipe]`` and
    ``overrides``), widths times ``width_scale``."""
    from helpers.models import build_vgg_cnn

    settings = {**RECIPES[recipe], **overrides}
    widths = settings.pop("widths", (32, 64, 128, 256))
    dense = settings.pop("dense", 256)
    return build_vgg_cnn(augment=augment, widths=tuple(max(4, round(w * width_scale)) for w in widths),
                         dense=max(8, round(dense * width_scale)), name=name, **settings)


def synchronized_batch_norm(network):
    """A copy of ``network`` whose batch norms average their batch statistics over all replicas (TensorFlow only)."""
    import keras

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            config["synchronized"] = True
        return type(layer).from_config(config)

    copy = keras.models.clone_model(network, clone_function=clone)
    copy.set_weights(network.get_weights())  # a clone starts from fresh weights
    return copy


def training_model(network, faces, augment: dict | None, seed: int):
    """``(n,)`` indices into ``faces`` -> ``network``'s probabilities, with :class:`DeviceFaces` and :class:`DeviceAugment` before it."""
    import keras

    from .device import DeviceAugment, DeviceFaces

    indices = keras.Input(shape=(), dtype="int32", name="face_index")
    x = DeviceFaces(faces, name="faces")(indices)
    if augment is not None:
        x = DeviceAugment(**augment, seed=seed, name="device_augment")(x)
    return keras.Model(indices, network(x), name="trainer")


def compile_trainer(model, lr: float, weight_decay: float, label_smoothing: float, jit=False, steps_per_execution: int = 1):
    """Adam (decoupled weight decay), categorical cross-entropy with label smoothing, accuracy (train's recipe)."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(lr, weight_decay=weight_decay or None),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing), metrics=["accuracy"],
                  jit_compile=jit, steps_per_execution=steps_per_execution)
    model.optimizer.build(model.trainable_variables)  # its variables exist now: a checkpoint can be restored into them
    return model


def state_variables(model) -> list:
    """The variables a checkpoint keeps: every variable of ``model`` but the faces, then the optimizer's."""
    faces = model.get_layer("faces").faces
    return [v for v in model.variables if v is not faces] + list(model.optimizer.variables)


def save_checkpoint(folder: Path, model, state: dict) -> None:
    """``state_variables(model)`` to ``folder/variables.npz`` and ``state`` to ``folder/state.json``, each atomically, json last."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    values = {f"v{i}": np.asarray(v.numpy()) for i, v in enumerate(state_variables(model))}
    tmp = folder / "variables.tmp.npz"
    np.savez(tmp, **values)
    os.replace(tmp, folder / "variables.npz")
    (folder / "state.tmp.json").write_text(json.dumps(state, indent=1))
    os.replace(folder / "state.tmp.json", folder / "state.json")


def load_checkpoint(folder: Path, model) -> dict | None:
    """Restore what :func:`save_checkpoint` wrote into ``model`` (built and compiled the same way); its state, or None."""
    import numpy as np

    if not (folder / "state.json").exists():
        return None
    state = json.loads((folder / "state.json").read_text())
    variables = state_variables(model)
    with np.load(folder / "variables.npz") as z:
        if len(z.files) != len(variables):
            raise SystemExit(f"{folder} holds {len(z.files)} variables, this model has {len(variables)}: "
                             "another recipe; give the settings it started with, or a new --out.")
        for i, v in enumerate(variables):
            v.assign(z[f"v{i}"])
    return state


def check_settings(out: Path, args: argparse.Namespace) -> None:
    """Record the settings at the start (``out/settings.json``); refuse a resume that changes one of :data:`RESUME_KEEPS`."""
    now = {k: getattr(args, k) for k in RESUME_KEEPS}
    file = out / "settings.json"
    if (out / "checkpoint" / "state.json").exists() and file.exists():
        before = json.loads(file.read_text())
        changed = [f"{k}: {before.get(k)!r} -> {now[k]!r}" for k in RESUME_KEEPS if before.get(k) != now[k]]
        if changed:
            raise SystemExit(f"{out} holds a run to resume, started with other settings ({'; '.join(changed)}). "
                             "Give the settings it started with (its settings.json), or a new --out.")
        return
    out.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(now, indent=2))


def _strategy(name: str):
    """The distribution strategy's scope (a no-op without one) and the strategy."""
    if name == "none":
        return contextlib.nullcontext(), None
    import keras

    if keras.backend.backend() != "tensorflow":
        raise SystemExit("--strategy mirrored needs the TensorFlow backend (under JAX: keras.distribution.DataParallel)")
    import tensorflow as tf

    # on CPUs (logical devices, the tests) the default collective all-reduce mixed up the order of batch
    # norm's updates and the gradients between replicas ("Shape mismatch in the collective"); GPUs use NCCL
    cpu_only = not tf.config.list_physical_devices("GPU")
    strategy = tf.distribute.MirroredStrategy(cross_device_ops=tf.distribute.ReductionToOneDevice() if cpu_only else None)
    return strategy.scope(), strategy


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def train(args, splits, started: float, say) -> dict:
    """The epoch loop: plan, train one epoch, validate, keep the best, checkpoint, report. Returns the run's record."""
    import keras
    import numpy as np

    from helpers.training import one_hot
    from .train import PlannedCosine
    from .device import augment_settings

    out = Path(args.out)
    train_split, val = splits["train"], splits["val"]
    scope, strategy = _strategy(args.strategy)
    batch = min(args.batch_size, len(train_split))
    steps = len(train_split) // batch
    lr = scaled_lr(args.lr, batch, args.lr_scaling)
    with scope:
        network = build_network(args.recipe, args.width_scale)
        if strategy is not None and strategy.num_replicas_in_sync > 1:
            network = synchronized_batch_norm(network)
        model = training_model(network, train_split.images, augment_settings(AUGMENT[args.augment]), args.draw_seed)
        compile_trainer(model, lr, args.weight_decay, args.label_smoothing, args.jit_on, args.steps_per_execution)
    state = load_checkpoint(out / "checkpoint", model)
    if state is None:
        state = {"epoch": 0, "planned": args.epochs, "best_val_accuracy": -1.0, "best_epoch": None, "spent_s": 0.0,
                 "epoch_seconds": [], "sittings": 0}
        (out / "log.csv").write_text("epoch,learning_rate,loss,accuracy,val_accuracy,seconds\n")
    else:
        say(f"resumed at epoch {state['epoch']} of {state['planned']} ({state['spent_s'] / 60:.1f} min spent before)")
    state["sittings"] += 1
    spent_before = state["spent_s"]
    say(f"{network.name}: {sum(int(np.prod(w.shape)) for w in network.trainable_weights):,} parameters; batch {batch}, "
        f"{steps} steps per epoch, peak learning rate {lr:.2g} ({args.lr_scaling} rule from {args.lr:g} at 64)")
    y = one_hot(train_split.labels)
    schedule = PlannedCosine(lr, state["planned"], warmup=warmup_for(args.warmup_epochs, state["planned"]))
    last_checkpoint, this_sitting = time.time(), []
    while state["epoch"] < state["planned"]:
        epoch = state["epoch"]
        rate = schedule(epoch)
        model.optimizer.learning_rate.assign(rate)
        order = np.random.default_rng([args.draw_seed, epoch]).permutation(len(train_split))[: steps * batch]
        t = time.time()
        logs = model.fit(order.astype("int32"), y[order], batch_size=batch, epochs=1, shuffle=False, verbose=0).history
        probs = network.predict(val.images, batch_size=1024, verbose=0)
        val_acc = float((np.asarray(probs).argmax(1) == val.labels).mean())
        seconds = time.time() - t
        this_sitting.append(seconds)
        if val_acc > state["best_val_accuracy"]:
            state.update(best_val_accuracy=val_acc, best_epoch=epoch)
            network.save_weights(out / "best.weights.h5")
        with open(out / "log.csv", "a") as log:
            log.write(f"{epoch},{rate:.6g},{logs['loss'][0]:.5f},{logs['accuracy'][0]:.5f},{val_acc:.5f},{seconds:.2f}\n")
        state["epoch"] = epoch + 1
        state["epoch_seconds"].append(round(seconds, 3))
        timed = this_sitting[1:] or this_sitting  # the first epoch of a sitting also compiles
        per_epoch = float(np.median(timed[-3:]))
        spent = spent_before + time.time() - started
        state["spent_s"] = spent
        state["planned"] = planned_epochs(args.budget_min and args.budget_min * 60, spent, args.reserve_min * 60,
                                          state["epoch"], per_epoch, args.epochs)
        schedule.epochs, schedule.warmup = state["planned"], warmup_for(args.warmup_epochs, state["planned"])
        left = (state["planned"] - state["epoch"]) * per_epoch + args.reserve_min * 60
        say(f"epoch {epoch + 1}/{state['planned']}  loss {logs['loss'][0]:.3f}  acc {logs['accuracy'][0]:.3f}  "
            f"val {val_acc:.3f} (best {state['best_val_accuracy']:.3f} @ {state['best_epoch'] + 1})  "
            f"{seconds:.1f} s  lr {rate:.2g}  elapsed {_minutes(spent)}  ETA {_minutes(left)}")
        if state["epoch"] >= state["planned"] or time.time() - last_checkpoint >= args.checkpoint_min * 60:
            save_checkpoint(out / "checkpoint", model, state)
            last_checkpoint = time.time()
    stopped_by = "epochs" if state["planned"] >= args.epochs else "budget"
    state.update(stopped_by=stopped_by, spent_before_s=spent_before, training_end_s=round(time.time() - started, 2), steps_per_epoch=steps, batch_size=batch, peak_lr=lr,
                 per_epoch_s=float(np.median(this_sitting[1:] or this_sitting)) if this_sitting else None,
                 first_epoch_s=this_sitting[0] if this_sitting else None)
    return state


def export(args, out: Path):
    """The best epoch as the course's model files: ``fer_reference.keras`` (with flip-TTA) and
    ``fer_reference_plain.keras``, float32, the course's augmentation block inside (inactive at
    inference), configs that Keras 3.8 reads (``helpers.keras_files.make_portable``). Returns the flip model."""
    import keras

    from helpers.augmentation import augmentation_block
    from helpers.keras_files import make_portable
    from helpers.models import with_flip_tta

    keras.mixed_precision.set_global_policy("float32")
    trained = build_network(args.recipe, args.width_scale)
    trained.load_weights(out / "best.weights.h5")
    strength = AUGMENT[args.augment]
    served = build_network(args.recipe, args.width_scale,
                           augment=None if strength is None else augmentation_block(seed=args.draw_seed, **strength))
    for layer in trained.layers:
        if layer.weights:
            served.get_layer(layer.name).set_weights(layer.get_weights())
    tta = with_flip_tta(served, name="fer_reference")
    for model, name in ((tta, "fer_reference.keras"), (served, "fer_reference_plain.keras")):
        model.save(out / name)
        make_portable(out / name)
    return tta


def against_shipped(test, probs) -> dict | None:
    """The exported model against the shipped one on the same test faces: accuracy and macro-F1
    differences (new minus shipped) with 95 % paired-bootstrap intervals (2,000 resamples, as lesson 06)."""
    import numpy as np

    from helpers.evaluation import paired_bootstrap
    from helpers.imbalance import macro_f1
    from helpers.pretrained import load_pretrained, pretrained_available

    if not pretrained_available():
        return None
    shipped = np.asarray(load_pretrained().predict(test.images, batch_size=256, verbose=0)).argmax(1)
    new = np.asarray(probs).argmax(1)
    return {"shipped_accuracy": float((shipped == test.labels).mean()),
            "accuracy": paired_bootstrap(test.labels, shipped, new),
            "macro_f1": paired_bootstrap(test.labels, shipped, new, macro_f1)}


def finish(args, splits, data, run: dict, device: str, precision: str, started: float, say) -> dict:
    """Export, measure once on the test split, compare with the shipped model, write metrics and card."""
    import keras
    import numpy as np

    from helpers.splits import final_test
    from helpers.training import load_model
    from .common import per_face_latency_ms, scores
    from .evaluate import has_flip_tta, model_card, test_scores

    out = Path(args.out)
    t = time.time()
    export(args, out)
    model = load_model(out / "fer_reference.keras")  # the very file, through the course's loader
    val = scores(np.asarray(model.predict(splits["val"].images, batch_size=512, verbose=0)), splits["val"].labels)
    plain = load_model(out / "fer_reference_plain.keras")
    val_plain = float((np.asarray(plain.predict(splits["val"].images, batch_size=512, verbose=0)).argmax(1)
                       == splits["val"].labels).mean())
    test = final_test(splits)  # read once, here, at the end
    measured = test_scores(model, splits["train"], test)
    probs = model.predict(test.images, batch_size=512, verbose=0)
    sitting = {
        "command": "python -m tools.reference gpu " + shlex.join(args.argv), "recipe": args.recipe,
        "params": int(sum(int(np.prod(w.shape)) for w in plain.trainable_weights)), "epochs_run": run["epoch"],
        "minutes_this_sitting": round((time.time() - started) / 60, 2), "hardware": device, "precision": precision,
        "val_accuracy": val_plain, "val_accuracy_flip_tta": val["accuracy"], "batch_size": run["batch_size"],
        "lr": run["peak_lr"], "weight_decay": args.weight_decay, "label_smoothing": args.label_smoothing,
        "class_weights": False, "augment": args.augment,
        "warmup_epochs": warmup_for(args.warmup_epochs, run["epoch"]), "seed": args.seed,
        "draw_seed": args.draw_seed,
        "note": (f"GPU mode (`tools.reference gpu`): the training faces on the device, the augmentation "
                 f"(*{args.augment}* strengths) as tensor ops before the network, {run['batch_size']} faces per "
                 f"step, peak learning rate {run['peak_lr']:.2g}; {run['epoch']} epochs planned to a "
                 f"{args.budget_min} min budget, best epoch {run['best_epoch'] + 1}."),
    }
    metrics = {
        "model_file": "fer_reference.keras", "data_source": data.source,
        "size_mb": round(os.path.getsize(out / "fer_reference.keras") / 1e6, 2),
        "parameters": int(model.count_params()), "keras": keras.__version__, "backend": keras.backend.backend(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {device}",
        "val": val, **measured, "latency_per_face": per_face_latency_ms(model, args.latency_repeats),
        "networks": 1, "flip_tta": has_flip_tta(model), "members": [[sitting]],
        "against_shipped": None if args.no_compare else against_shipped(test, probs),
        "gpu_run": {k: run[k] for k in ("stopped_by", "planned", "best_epoch", "steps_per_epoch", "per_epoch_s",
                                         "first_epoch_s", "epoch_seconds", "sittings", "training_end_s")}
                   | {"budget_min": args.budget_min, "reserve_min": args.reserve_min, "end_phase_s": round(time.time() - t, 1),
                      "total_min": round((run["spent_before_s"] + time.time() - started) / 60, 2)},
    }
    (out / "result.json").write_text(json.dumps(sitting, indent=2))
    (out / "fer_reference_metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(metrics))
    t_ = measured["test"]
    say(f"test: {t_['n']} faces, accuracy {t_['accuracy']:.4f}, macro-F1 {t_['macro_f1']:.4f}; "
        f"validation {val['accuracy']:.4f} (flip-TTA)")
    if metrics["against_shipped"]:
        a = metrics["against_shipped"]["accuracy"]
        say(f"against the shipped model ({metrics['against_shipped']['shipped_accuracy']:.4f}): "
            f"{100 * a['difference']:+.2f} points, 95 % paired-bootstrap interval {100 * a['low']:+.2f} to {100 * a['high']:+.2f}")
    return metrics


def main(argv=None) -> dict | None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    args.argv = argv
    started = time.time()
    from .device import load_data, pack_fer2013

    if args.pack:
        data = load_data(args.data)
        path = pack_fer2013(data, args.pack)
        print(f"packed {data} into {path} ({path.stat().st_size / 1e6:.1f} MB)")
        return None
    out = Path(args.out)
    if (out / "result.json").exists():
        raise SystemExit(f"{out} holds a finished run ({out / 'result.json'}): use a new --out.")
    check_settings(out, args)
    log = open(out / "train.log", "a")

    def say(line: str) -> None:
        stamp = f"[{_minutes(time.time() - started)}] {line}"
        print(stamp, flush=True)
        log.write(stamp + "\n")
        log.flush()

    import keras

    from helpers.course import seed_everything
    from helpers.splits import course_splits
    from .device import choose_precision

    seed_everything(args.draw_seed)
    policy, reason, device = choose_precision()
    precision = policy if args.precision == "auto" else args.precision
    gpu = device != "CPU"
    args.jit_on = {"on": True, "off": False, "auto": gpu}[args.jit]
    args.steps_per_execution = args.steps_per_execution or (8 if gpu else 1)
    keras.mixed_precision.set_global_policy(precision)
    say(f"Keras {keras.__version__} on {keras.backend.backend()}, device {device}; precision {precision} "
        f"({'detected: ' + reason if args.precision == 'auto' else 'given'}); XLA {args.jit_on}; "
        f"budget {args.budget_min} min")
    data = load_data(args.data)
    splits = course_splits(data, args.val_fraction, args.seed)
    say(f"train {len(splits['train'])}  val {len(splits['val'])}  (test {len(splits['test'])}: read once, at the end)")
    run = train(args, splits, started, say)
    say(f"training done: {run['epoch']} epochs ({run['stopped_by']}), best validation {run['best_val_accuracy']:.4f} "
        f"at epoch {run['best_epoch'] + 1}")
    metrics = finish(args, splits, data, run, device, precision, started, say)
    say(f"wrote {out}/fer_reference.keras, fer_reference_metrics.json, MODEL_CARD.md")
    return metrics


if __name__ == "__main__":
    main()
