"""Train the course's reference model (the recipe behind data/fer_reference.keras).

    # one sitting (on a CPU with AMX, add --precision mixed_bfloat16: about 3x faster)
    python -m tools.reference train --data data/fer2013 --run-dir runs/reference --time-budget-min 100 \
        --export runs/reference/fer_reference.keras
    # a later sitting continues from the best model of the previous one, with a fresh schedule
    python -m tools.reference train --data data/fer2013 --run-dir runs/next --init-from runs/reference/best.keras \
        --lr 5e-4 --augment weak --time-budget-min 120 --export runs/next/fer_reference.keras

    # a second, different network (for an ensemble), then combine and choose the form on validation
    python -m tools.reference train --data data/fer2013 --recipe vgg-slim --run-dir runs/slim --time-budget-min 120 \
        --export runs/slim/fer_reference.keras
    python -m tools.reference ensemble runs/next/fer_reference_plain.keras runs/slim/fer_reference_plain.keras \
        --data data/fer2013 --out runs/ensemble/fer_reference.keras

    # distillation: the networks' average (each + flip: too slow to serve) teaches one network that fits 5 ms
    python -m tools.reference train --data data/fer2013 --run-dir runs/distil --init-from runs/next/best.keras \
        --teacher runs/next/fer_reference_plain.keras runs/slim/fer_reference_plain.keras --augment weak \
        --lr 5e-4 --time-budget-min 65 --export runs/distil/fer_reference.keras

``--data`` is a FER2013 folder (``train/<emotion>/``) or ``fer2013.csv``. It uses the course's own
pieces: ``helpers.data`` (loading, the validation split carved from Training),
``helpers.models.build_vgg_cnn`` with ``helpers.augmentation`` (inside the model, or on each batch
before it with ``--teacher`` or ``--augment-outside``), Adam on
categorical cross-entropy with label smoothing, a cosine learning-rate schedule with warm-up,
and the best epoch on *validation* accuracy. With ``--teacher`` the targets are soft: each
augmented face's label mixed with the teacher's probabilities for that face (knowledge
distillation, Hinton et al. 2015, at temperature 1); the teacher only labels Training faces. The test split is never read here:
``python -m tools.reference evaluate`` measures it once and publishes the model with its card.

Resumable: every epoch is backed up in ``RUN_DIR/backup``; run the same command again after an
interruption (Ctrl-C, a closed laptop, a Colab disconnect) and it continues from the last
completed epoch. The settings it started with are kept in ``RUN_DIR/settings.json``, and a resume
that changes one of them is refused; ``--epochs``, ``--time-budget-min``, ``--data`` (the same data
moved) and ``--export`` may change.
``--time-budget-min`` plans the number of epochs from the measured speed of the
last epochs, so a run fits a sitting and still ends with a decayed learning rate.

Runs on any Keras 3 backend (the shipped model: TensorFlow on 2 CPU cores), but under JAX on a GPU
the augmentation layers inside the model made a step 170x slower (data/EXPERIMENTS.md, run 15):
train with TensorFlow, or try ``--augment-outside``, which augments each batch before it reaches the
network, as a distilled sitting does. Under JAX that still runs the augmentation layers, eagerly,
one batch at a time on the default device: run 15's 64 ms per batch of 128 on the GPU would make
about 13 s per epoch, against 112 s inside the model (not yet measured on a GPU). ``--export`` wraps the
best model with flip test-time augmentation and writes it as a course-contract ``.keras`` file (and
``*_plain.keras`` without the flip). ``python -m tools.reference ensemble`` can turn one or more of these into
the served model; ``python -m tools.reference evaluate`` measures it on the test split and publishes it as
the file ``helpers.pretrained.load_pretrained`` reads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

from . import ROOT
from .common import AUGMENT, RECIPES, scores, serving_networks


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.reference train", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="fer2013.csv, or a folder with train/<emotion>/ (test/ is not needed)")
    p.add_argument("--run-dir", default=str(ROOT / "runs" / "reference"))
    p.add_argument("--recipe", default="vgg-default", choices=sorted(RECIPES) + ["compact"])
    p.add_argument("--epochs", type=int, default=120, help="epochs (upper bound when --time-budget-min is set)")
    p.add_argument("--time-budget-min", type=float, default=None, help="plan the epochs to fit this many minutes")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--class-weights", action="store_true", help="balanced class weights (default: none)")
    p.add_argument("--augment", default="default", choices=list(AUGMENT))
    p.add_argument("--precision", default="float32", choices=["float32", "mixed_bfloat16", "mixed_float16"],
                   help="mixed_bfloat16 trains ~3x faster on CPUs with AMX/AVX512-BF16; the export is float32")
    p.add_argument("--init-from", default=None,
                   help="start from the weights of a .keras model with the same architecture (e.g. the shipped "
                        "model, to continue training it in a later sitting; a folded serving export is unfolded)")
    p.add_argument("--teacher", nargs="+", default=None, metavar="MODEL",
                   help="distil: train on targets that mix the labels with the probabilities of these trained "
                        "models (averaged, each with flip-TTA) on the same augmented faces")
    p.add_argument("--teacher-weight", type=float, default=None,
                   help="with --teacher: the teacher's share of each target, above 0 and at most 1 (default "
                        "0.5). Up to 0.5 the label decides each target's top class; above it the teacher can "
                        "outvote the label, and the logged train accuracy counts agreement with the mixed target")
    p.add_argument("--augment-outside", action="store_true",
                   help="augment each batch before the network instead of inside it (as --teacher does): for "
                        "Keras on JAX with a GPU, where the layers inside made each step 170x slower (run 15); "
                        "not yet measured there")
    p.add_argument("--seed", type=int, default=42,
                   help="seeds the validation split (give the same one to tools.reference ensemble --seed; "
                        "tools.reference evaluate uses the default, 42) and, unless --draw-seed is given, the "
                        "run's random draws")
    p.add_argument("--draw-seed", type=int, default=None,
                   help="seed of the initial weights, shuffles and augmentation draws (default: --seed): give "
                        "another one to train a second network of the same recipe on the same validation split")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--export", default=None, help="write the best model wrapped with flip-TTA to this .keras path (and *_plain.keras without)")
    args = p.parse_args(argv)
    args.draw_seed = args.seed if args.draw_seed is None else args.draw_seed
    if args.teacher and args.class_weights:
        p.error("--class-weights with --teacher: the teacher's probabilities already set each face's target")
    if args.augment_outside and args.class_weights:
        p.error("--class-weights with --augment-outside is not supported: leave one of them out")
    if args.augment_outside and AUGMENT[args.augment] is None:
        p.error("--augment-outside with --augment none: there is nothing to augment; leave one of them out")
    if args.teacher_weight is not None and not args.teacher:
        p.error("--teacher-weight needs --teacher")
    if args.teacher:
        args.teacher_weight = 0.5 if args.teacher_weight is None else args.teacher_weight
        try:
            check_teacher_weight(args.teacher_weight)
        except ValueError as err:
            p.error(f"--teacher-weight: {err}")
    if args.teacher and AUGMENT[args.augment] is None:
        p.error("--teacher needs augmentation (the teacher labels each augmented face); use --augment weak or default")
    args.augment_outside = bool(args.augment_outside or args.teacher)  # --teacher augments each batch outside too
    return args


class PlannedCosine:
    """Per-epoch learning rate: linear warm-up, then cosine decay to 1% over the planned epochs.

    With a time budget, the plan is made after ``probe`` epochs from their measured duration.
    """

    def __init__(self, base_lr: float, epochs: int, warmup: int = 2):
        self.base_lr, self.epochs, self.warmup = base_lr, epochs, warmup

    def __call__(self, epoch: int, lr: float | None = None) -> float:
        if epoch < self.warmup:
            return self.base_lr * (epoch + 1) / self.warmup
        t = min(1.0, (epoch - self.warmup) / max(1, self.epochs - self.warmup))
        return self.base_lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def best_logged(log_csv: Path, monitor: str = "val_accuracy") -> float | None:
    """The best ``monitor`` value among the epochs already in ``log_csv`` (None for a new run).

    A resumed run starts a fresh ``ModelCheckpoint``; without this threshold its first epoch would
    overwrite ``best.keras`` even when an epoch before the interruption was better. The log is read
    as ``helpers.training.train`` reads its own when it resumes (an epoch logged twice counts once).
    """
    import pandas as pd

    from helpers.training import _read_log

    log = _read_log(log_csv)
    if monitor not in log:
        return None
    values = pd.to_numeric(log[monitor], errors="coerce").dropna()  # CSVLogger writes "NA" for a missing metric
    return float(values.max()) if len(values) else None


def sitting_seed(seed: int, run_dir: Path, init_from: str | None = None) -> int:
    """The seed of this sitting's initial weights, shuffles and augmentation draws, from the run's
    draw seed (``--draw-seed``, else ``--seed``; the validation split always uses ``--seed``):
    :func:`helpers.training.resume_seed` of the epoch the run resumes at (from
    ``run_dir/backup``), salted with ``--init-from`` so that a later sitting draws anew too.
    Without it every resumed sitting replayed the first one's augmented faces (run 11 in
    data/EXPERIMENTS.md: train accuracy jumped after each restart while validation stayed flat).
    """
    from helpers.training import epochs_in_backup, resume_seed

    return resume_seed(seed, epochs_in_backup(Path(run_dir) / "backup"), str(init_from or ""))


def teacher_model(paths: list, dtype: str = "float32"):
    """The teacher for distillation: the networks in ``paths`` (batch norm folded), each averaged
    with its mirror image, then averaged together: the ``ensemble + flip`` candidate of
    ``python -m tools.reference ensemble``, which is too slow to serve but can label faces for a student.

    ``dtype="mixed_bfloat16"`` computes in bfloat16 (the same weights): about 4x faster on a CPU
    with AMX, with probabilities within 0.005 of float32's (measured on two reference networks).
    """
    import keras

    from helpers.models import ensemble, with_flip_tta

    networks = serving_networks(paths)
    if dtype != "float32":
        def recast(layer):
            return type(layer).from_config({**layer.get_config(), "dtype": dtype})

        copies = [keras.models.clone_model(n, clone_function=recast) for n in networks]
        for copy, network in zip(copies, networks):
            copy.set_weights(network.get_weights())
        networks = copies
    return ensemble([with_flip_tta(n, name=f"{n.name}_flip_tta") for n in networks], name="teacher")


# what a resumed run must keep (--epochs and --time-budget-min may change: plan.json; the data may move)
RESUME_KEEPS = ("recipe", "init_from", "augment", "augment_outside", "teacher", "teacher_weight", "lr", "batch_size",
                "weight_decay", "label_smoothing", "class_weights", "precision", "seed", "draw_seed", "val_fraction")


def _as_recorded(key: str, value):
    """A setting as :func:`resume_settings` records and compares it: model files as resolved paths."""
    if key in ("init_from", "teacher") and value is not None:
        return [os.path.realpath(v) for v in value] if isinstance(value, list) else os.path.realpath(value)
    return value


def resume_settings(run_dir: Path, args: argparse.Namespace) -> None:
    """Write the run's settings to ``run_dir/settings.json`` when it starts, and refuse a resume
    (``run_dir/backup`` holds a finished epoch) whose settings differ from them, e.g. a sitting that
    augmented inside the network resumed with ``--teacher``, which augments outside it. The model
    files (``--init-from``, ``--teacher``) are recorded and compared as resolved paths: the same file
    named another way, or from another working directory, is no change (an older record's relative
    paths are resolved against the working directory). A run begun before this check has no
    ``settings.json``: its first resume writes one and is not checked.

    Raises:
        SystemExit: the settings that differ, before and now, and what to do.
    """
    from helpers.training import epochs_in_backup

    now = {k: _as_recorded(k, getattr(args, k)) for k in RESUME_KEEPS}
    file = Path(run_dir) / "settings.json"
    if epochs_in_backup(Path(run_dir) / "backup") and file.exists():
        before = json.loads(file.read_text())
        changed = [f"{k}: {before[k]!r} -> {now[k]!r}" for k in RESUME_KEEPS
                   if k in before and _as_recorded(k, before[k]) != now[k]]
        if changed:
            raise SystemExit(f"{run_dir} is a run to resume, started with other settings ({'; '.join(changed)}).\n"
                             "Give the settings it started with (see its settings.json), or a new --run-dir "
                             f"(with --init-from {Path(run_dir) / 'best.keras'} to start from its best weights).")
        return
    file.write_text(json.dumps(now, indent=2))


def check_teacher_weight(weight: float) -> None:
    """Raise ``ValueError`` unless ``0 < weight <= 1`` (the teacher's share of each distillation target)."""
    if not 0 < weight <= 1:
        raise ValueError(f"the teacher's share of each target must be above 0 and at most 1 (got {weight})")


def augmented_batches(images, labels, augment, batch_size: int, seed: int, teacher=None, weight: float | None = None):
    """Training batches augmented here, outside the network (a ``keras.utils.PyDataset``).

    Each batch's target is the one-hot label; with a ``teacher`` (distillation) it is ``(1 - weight)
    * one-hot label + weight * teacher probabilities`` on those very augmented faces. Call
    ``start_epoch(epoch)`` before each epoch (a callback does, in :func:`main`) for that epoch's
    seeded order: every face once per epoch, none dropped.

    Raises:
        ValueError: a ``teacher`` without a ``weight`` above 0 and at most 1, or a ``weight`` without a teacher.
    """
    import keras
    import numpy as np

    if (teacher is None) != (weight is None):
        raise ValueError(f"teacher and weight go together (got weight={weight}, teacher {'given' if teacher is not None else 'None'})")
    if weight is not None:
        check_teacher_weight(weight)

    from helpers.training import one_hot

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.start_epoch(0)

        def start_epoch(self, epoch: int) -> None:
            """Shuffle for ``epoch`` (0-based), from the seed and the epoch: a resumed run keeps the order."""
            self.order = np.random.default_rng([seed, epoch]).permutation(len(images))

        def __len__(self):
            return math.ceil(len(images) / batch_size)

        def __getitem__(self, i):
            rows = self.order[i * batch_size:(i + 1) * batch_size]
            x = augment(images[rows].astype("float32"), training=True)
            target = one_hot(labels[rows])
            if teacher is not None:
                soft = np.asarray(teacher.predict_on_batch(x), "float32")  # compiled: faster than a plain call
                soft /= soft.sum(axis=1, keepdims=True)  # exact sums after a bfloat16 teacher
                target = (1 - weight) * target + weight * soft
            return keras.ops.convert_to_numpy(x), target

    return Batches()


def main(argv=None) -> dict:
    args = parse_args(argv)
    run_dir = Path(args.run_dir)
    if (run_dir / "result.json").exists():  # before the imports: a finished run is refused at once
        raise SystemExit(f"{run_dir} holds a finished run ({run_dir / 'result.json'}). Use a new --run-dir, "
                         f"or --init-from {run_dir / 'best.keras'} in a new one to train it further.")
    import keras
    import numpy as np

    from helpers import models
    from helpers.augmentation import augmentation_block
    from helpers.course import seed_everything
    from helpers.data import load_fer2013, stratified_split
    from helpers.imbalance import class_weights
    from helpers.explain import networks_in
    from helpers.training import load_model, one_hot, resume_seed

    run_dir.mkdir(parents=True, exist_ok=True)
    resume_settings(run_dir, args)
    stream = sitting_seed(args.draw_seed, run_dir, args.init_from)  # shuffles and augmentation: new ones after a resume
    seed_everything(stream)
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}; run dir {run_dir}; "
          f"seed {args.seed}{'' if args.draw_seed == args.seed else f', draw seed {args.draw_seed}'} "
          f"(this sitting's shuffles and augmentation: {stream})", flush=True)

    data = load_fer2013(args.data, cache=False)
    if {"public_test", "private_test"} <= set(data.splits):  # CSV: PublicTest is the validation split
        train, val = data["train"], data["public_test"]
    else:  # folders: a stratified, seeded validation split carved out of Training
        train, val = stratified_split(data["train"], args.val_fraction, args.seed)
    print(f"train {len(train)}  val {len(val)}  (the test split is not used here)", flush=True)

    strength = AUGMENT[args.augment]
    teacher = None
    if args.augment_outside:  # augment each batch before the network, not inside it; float32, built before the policy is set
        augment_outside = augmentation_block(seed=stream, **strength)
        print("augmentation: outside the network, on each batch", flush=True)
    if args.teacher:
        teacher = teacher_model(args.teacher, "mixed_bfloat16" if args.precision == "mixed_bfloat16" else "float32")
        print(f"teacher: {', '.join(args.teacher)} (each with flip-TTA, averaged); weight {args.teacher_weight}",
              flush=True)
    keras.mixed_precision.set_global_policy(args.precision)

    def build(augmented: bool = True):
        augment = augmentation_block(seed=stream, **strength) if augmented and strength is not None else None
        if args.recipe == "compact":
            return models.build_compact_cnn(augment=augment)
        return models.build_vgg_cnn(augment=augment, **RECIPES[args.recipe])

    model = build(augmented=not args.augment_outside)
    if args.init_from:
        networks = networks_in(load_model(args.init_from))  # the course's loader; inside a flip-TTA wrapper too
        if len(networks) != 1:
            raise SystemExit(f"--init-from {args.init_from} holds {len(networks)} networks; give one network's file.")
        inside, names = networks[0], {l.name for l in networks[0].layers}
        try:
            if all(l.name in names for l in model.layers if isinstance(l, keras.layers.BatchNormalization)):
                model.set_weights(inside.get_weights())
            else:  # a serving export (batch norm folded, e.g. the shipped model): unfold it, on training faces
                sample = np.random.default_rng(args.seed).choice(len(train), min(len(train), 2048), replace=False)
                models.load_folded_weights(model, inside, train.images[np.sort(sample)])
                print("note: --init-from is a serving export (batch norm folded), now unfolded. Its kernels carry "
                      "the batch norms' scales (for the shipped model about half the trained norms), so Adam's "
                      "steps are relatively larger: in runs 19a and 19 (data/EXPERIMENTS.md) the first epoch scored 61.5 % "
                      "on validation from the served file and 66.2 % from the run's own best.keras. Continue "
                      "from a run's best.keras when you have it.", flush=True)
        except ValueError as error:
            raise SystemExit(f"--init-from {args.init_from}: its network does not match --recipe {args.recipe} "
                             f"({error}).\nUse the recipe it was trained with.")
        print(f"initialised from {args.init_from}", flush=True)
    model.compile(
        optimizer=keras.optimizers.Adam(args.lr, weight_decay=args.weight_decay or None),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing),
        metrics=["accuracy"],
    )
    print(f"{model.name}: {models.count_params(model):,} parameters", flush=True)

    y_train, y_val = one_hot(train.labels), one_hot(val.labels)
    class_weight = class_weights(train.labels) if args.class_weights else None

    plan_file = run_dir / "plan.json"
    plan = json.loads(plan_file.read_text()) if plan_file.exists() else {"epochs": args.epochs, "planned": False}
    schedule = PlannedCosine(args.lr, plan["epochs"])
    started = time.time()

    class Planner(keras.callbacks.Callback):
        """With a time budget: (re)plan the number of epochs from the measured speed, and stop there.

        The plan is updated after every epoch from the last epochs' duration (the first one, which
        compiles, is skipped), so a run that speeds up or slows down still ends on time with the
        learning rate decayed.
        """

        ends: list[float] = []

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.time())
            if args.time_budget_min and len(self.ends) >= 2:
                recent = self.ends[-3:]
                per_epoch = (recent[-1] - recent[0]) / (len(recent) - 1)
                left = args.time_budget_min * 60 - (time.time() - started)
                plan.update(epochs=int(min(args.epochs, epoch + 1 + max(0, left // per_epoch))), planned=True,
                            seconds_per_epoch=round(per_epoch, 1))
                schedule.epochs = plan["epochs"]
                plan_file.write_text(json.dumps(plan))
                print(f"plan: {plan['epochs']} epochs at {per_epoch:.0f} s/epoch", flush=True)
            if epoch + 1 >= schedule.epochs:
                self.model.stop_training = True

    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        keras.callbacks.LearningRateScheduler(schedule),
        Planner(),
        keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), monitor="val_accuracy", mode="max",
                                        save_best_only=True, initial_value_threshold=best_logged(run_dir / "log.csv")),
        keras.callbacks.CSVLogger(str(run_dir / "log.csv"), append=True),
    ]
    if args.augment_outside:
        order_seed = resume_seed(args.draw_seed, 0, str(args.init_from or ""))  # per sitting; a resume keeps the order
        batches = augmented_batches(train.images, train.labels, augment_outside, args.batch_size, order_seed,
                                    teacher, args.teacher_weight)
        reshuffle = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs=None: batches.start_epoch(epoch))
        model.fit(batches, validation_data=(val.images, y_val), epochs=args.epochs, callbacks=[reshuffle, *callbacks],
                  verbose=2)
    else:
        model.fit(
            train.images, y_train, validation_data=(val.images, y_val), epochs=args.epochs,
            batch_size=args.batch_size, class_weight=class_weight, callbacks=callbacks, verbose=2,
        )
    minutes = (time.time() - started) / 60

    best = keras.saving.load_model(run_dir / "best.keras", safe_mode=True, compile=False)  # no optimizer state
    # export in float32 with the augmentation layer inside (the course's contract; a sitting that augmented
    # outside the network trained without it): same architecture, same weights
    keras.mixed_precision.set_global_policy("float32")
    weights = best.get_weights()
    best = build()
    best.set_weights(weights)
    probs = best.predict(val.images, batch_size=512, verbose=0)
    tta = models.with_flip_tta(best, name="fer_reference")
    flip = scores(tta.predict(val.images, batch_size=512, verbose=0), val.labels)  # as tools.reference evaluate scores

    result = {
        "command": "python -m tools.reference train " + shlex.join(sys.argv[1:] if argv is None else argv),
        "init_from": args.init_from, "precision": args.precision, "weight_decay": args.weight_decay,
        "recipe": args.recipe, "augment": args.augment, "augment_outside": args.augment_outside, "label_smoothing": args.label_smoothing,
        "class_weights": args.class_weights, "teacher": args.teacher,
        "teacher_weight": args.teacher_weight, "lr": args.lr, "batch_size": args.batch_size, "seed": args.seed,
        "draw_seed": args.draw_seed,
        "params": models.count_params(best), "epochs_run": int(sum(1 for _ in open(run_dir / "log.csv")) - 1),
        "planned_epochs": plan["epochs"], "minutes_this_sitting": round(minutes, 2), "backend": keras.backend.backend(),
        "val_accuracy": float((probs.argmax(1) == val.labels).mean()),
        "val_accuracy_flip_tta": flip["accuracy"],
        "val_macro_f1_flip_tta": flip["macro_f1"],
        "val_disgust_recall_flip_tta": flip["per_class"]["disgust"]["recall"],
    }
    (run_dir / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2), flush=True)
    if args.export:  # the best model with flip-TTA inside, and without (for the latency trade-off)
        plain = str(args.export).replace(".keras", "_plain.keras")
        tta.save(args.export)
        best.save(plain)
        for f in (args.export, plain):
            print(f"exported {f} ({os.path.getsize(f) / 1e6:.1f} MB)", flush=True)
    return result


if __name__ == "__main__":
    main()
