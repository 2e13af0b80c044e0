"""Evaluate a trained reference model once on the test split and publish it with its model card.

    python -m tools.reference evaluate runs/reference/fer_reference.keras --data /path/to/fer2013 \
        --run-dir runs/reference --publish
    # a model trained over several sittings (--init-from): every sitting's run folder, in order
    python -m tools.reference evaluate runs/next/fer_reference.keras --data /path/to/fer2013 \
        --run-dir runs/reference --run-dir runs/next --publish
    # an ensemble (python -m tools.reference ensemble): each network's sittings, comma-separated, in order
    python -m tools.reference evaluate runs/ensemble/fer_reference.keras --data /path/to/fer2013 \
        --member runs/reference,runs/next --member runs/slim --publish

Computes accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix on the
*test* split (never used for any choice), the per-face latency on this machine, and with
``--publish`` copies the model to ``data/fer_reference.keras``, records its SHA-256 in
``helpers/pretrained.py`` and writes ``data/fer_reference_metrics.json`` and ``data/MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
from pathlib import Path

from . import ROOT
from .common import AUGMENT, RECIPES, per_face_latency_ms, scores


def evaluate(model, split) -> dict:
    """:func:`scores` of ``model``'s probabilities on ``split``."""
    return scores(model.predict(split.images, batch_size=256, verbose=0), split.labels)


def test_scores(model, train, test) -> dict:
    """:func:`evaluate` on all of ``test`` and on its faces without a pixel twin in ``train``.

    Returns ``{"test": scores, "test_without_twins": scores}``; the second also records
    ``twins_in_train``, the number of test faces left out (FER2013's test folders share a few
    hundred exact images with its training folder; published results include them)."""
    import numpy as np

    from helpers.data import has_twin_in

    probs = model.predict(test.images, batch_size=256, verbose=0)
    twin = has_twin_in(test.images, train.images)
    without = scores(probs[~twin], np.asarray(test.labels)[~twin])
    without["twins_in_train"] = int(twin.sum())
    return {"test": scores(probs, test.labels), "test_without_twins": without}


def _settings(builder, overrides: dict) -> dict:
    """``builder``'s keyword defaults with ``overrides`` applied: what a recipe actually passed."""
    import inspect

    return {**{k: v.default for k, v in inspect.signature(builder).parameters.items()}, **overrides}


def describe_augmentation(name: str) -> str:
    """``python -m tools.reference train --augment NAME`` in words, from the strengths it passes to the block."""
    from helpers.augmentation import augmentation_block

    if AUGMENT[name] is None:
        return "none"
    a = _settings(augmentation_block, AUGMENT[name])
    return (f"{'horizontal flip, ' if a['flip'] else ''}rotation up to {a['rotation'] * 360:.0f} degrees, zoom up to "
            f"{a['zoom']:.0%}, shift up to {a['translation']:.0%}, contrast {a['contrast']}, brightness {a['brightness']}")


def describe_network(sitting: dict) -> str:
    """A trained network in words, from the recipe its sitting recorded (``common.RECIPES``)."""
    from helpers.models import build_vgg_cnn

    recipe, params = sitting.get("recipe", "?"), sitting.get("params")
    counted = f", {params:,} parameters as trained" if params else ""
    if recipe not in RECIPES:
        return f"`{recipe}`{counted}"
    a = _settings(build_vgg_cnn, RECIPES[recipe])
    convs = a["convs_per_block"]
    convs = [convs] * len(a["widths"]) if isinstance(convs, int) else list(convs)
    return (f"`{recipe}`: VGG-style CNN (`helpers.models.build_vgg_cnn`), {len(a['widths'])} blocks of "
            f"{'/'.join(map(str, convs))} 3x3 conv + batch norm + ReLU, widths {'-'.join(map(str, a['widths']))}, "
            f"global average pooling, dense {a['dense']}, dropout {a['dropout']}{counted}")


def has_flip_tta(model) -> bool:
    """Whether ``model`` or a model nested in it mirrors its input (:func:`helpers.models.with_flip_tta`)."""
    from helpers.models import HorizontalFlip

    return any(isinstance(l, HorizontalFlip) or (hasattr(l, "layers") and has_flip_tta(l)) for l in model.layers)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


#: what a sitting recorded before the setting existed (``train`` warms up for 2 epochs)
RECORDED_DEFAULTS = {"warmup_epochs": 2}

#: FER2013 test folders by size: which of the original splits they hold.
_TEST_SPLITS = {3589: "FER2013 PublicTest", 7178: "FER2013 PublicTest and PrivateTest"}


def _splits_in_words(m: dict, selection: bool) -> str:
    """Which FER2013 splits the card's validation and test numbers come from (``course_splits``)."""
    chose = "the epoch" + (" and the exported form" if selection else "")
    t, v = m["test"], m["val"]
    if m.get("data_source") == "csv":  # the original CSV: PublicTest validates, PrivateTest tests
        return (f"Trained on the **Training split only**; the CSV's PublicTest ({v['n']:,} images) was the "
                f"validation split for choosing {chose}.\nThe test split is the CSV's PrivateTest "
                f"({t['n']:,} images), used once, for the numbers on this card.")
    return (f"Trained on the **Training split only** (28,709 images), of which a stratified,\nseeded 10 % "
            f"was held out as the validation split for choosing {chose}; the held-out faces\nwith an exact pixel "
            f"twin among the training faces count as training faces, which leaves {v['n']:,} validation\nimages "
            f"(`helpers.course_splits`).\nThe test split is "
            f"the `test/` folder ({t['n']:,} images: {_TEST_SPLITS.get(t['n'], 'not a standard FER2013 test split')}), "
            f"used once, for\nthe numbers on this card. Kaggle's public copy (msambare/fer2013) merges PublicTest and "
            f"PrivateTest\nin its `test/` (7,178 images): a number measured there is on that larger set.")


def model_card(m: dict) -> str:
    """The model card (markdown) for the metrics of :func:`main`."""
    from helpers import CLASS_NAMES

    t, v, nt = m["test"], m["val"], m.get("test_without_twins")
    members = m.get("members", [])
    sittings = [tr for member in members for tr in member]
    sitting_rows = "\n".join(
        f"| {k} | {i} | `{tr.get('command', '?')}` | {tr.get('epochs_run', '?')} | {tr.get('minutes_this_sitting', '?')} | "
        f"{tr.get('hardware', '2 CPU cores')} | {_pct(tr.get('val_accuracy', float('nan')))} / "
        f"{_pct(tr.get('val_accuracy_flip_tta', float('nan')))} |"
        for k, member in enumerate(members, 1) for i, tr in enumerate(member, 1)
    )
    networks = "; ".join(f"network {k}: {describe_network(member[-1])}" for k, member in enumerate(members, 1) if member)
    flip = "horizontal-flip test-time augmentation (`with_flip_tta`)" if m.get("flip_tta") else ""
    if m.get("networks", 1) > 1:
        form = f"the average of the probabilities of {m['networks']} networks" + (f", each with {flip}" if flip else "")
    else:
        form = "one network" + (f" with {flip}" if flip else "")
    selection = m.get("selection")
    twins_note = "" if not nt else (
        f"\n{nt['twins_in_train']} of the {t['n']:,} test faces ({_pct(nt['twins_in_train'] / t['n'])}) have an exact pixel twin in "
        "FER2013's training folder; on those the model scores "
        f"{_pct((t['accuracy'] * t['n'] - nt['accuracy'] * nt['n']) / nt['twins_in_train']) if nt['twins_in_train'] else 'nothing (there are none)'}"
        ". Published FER2013 results (and "
        "human accuracy, about 65 %) are on all test faces, twins included: compare them with the first number; "
        "the second is the estimate for faces the model has never seen.\n"
        + ("" if not selection else "The epoch and the exported form were chosen on an earlier validation split"
           + (f" of {selection['val_n']:,} faces" if "val_n" in selection else "")
           + " that still held twins of training faces; the validation faces above are its faces without one.\n"))
    folded = "" if not (selection or {}).get("folded") else (
        ", with each batch norm folded into the layer before it for serving (`helpers.models.fold_batch_norm`: "
        "the same outputs, fewer operations per face)")
    selection_rows = "" if not selection else (
        f"\nThe exported form was chosen on validation by `python -m tools.reference ensemble`, with a rule fixed before the "
        f"test split was read: the most accurate candidate within {selection['max_ms']} ms per face and "
        f"{selection['max_mb']} MB. Chosen: **{selection['chosen']}**.\n\n"
        "| candidate | validation accuracy | validation macro-F1 | disgust recall (val) | ms per face (median) | MB |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(
            f"| {name} | {_pct(r['val_accuracy'])} | {_pct(r['val_macro_f1'])} | {_pct(r['val_disgust_recall'])} | "
            f"{r['latency']['median_ms']} | {r['size_mb']} |" for name, r in selection["candidates"].items()) + "\n")
    def each(key: str) -> str:
        """A training setting as recorded: one value, or the sittings' values in order."""
        values = [{True: "yes", False: "no"}.get(v, v) if isinstance(v, bool) else str(v)
                  for v in (tr.get(key, RECORDED_DEFAULTS.get(key, "?")) for tr in sittings)]
        return values[0] if len(set(values)) == 1 else " / ".join(values)

    def sitting_notes(k: int, i: int, tr: dict) -> str:
        """How a sitting was distilled (from its recorded settings), then its hand-written note."""
        out = ""
        if tr.get("teacher"):
            out += (f"\nNetwork {k}, sitting {i} was **distilled** (`--teacher`): each augmented training face's target "
                    f"was {round(100 * (1 - tr['teacher_weight']))} % its label and {round(100 * tr['teacher_weight'])} % "
                    f"the probabilities of {' and '.join(f'`{path}`' for path in tr['teacher'])} for that face "
                    "(averaged, each with flip-TTA).\n")
        if tr.get("note"):
            out += f"\nNetwork {k}, sitting {i}: {tr['note']}\n"
        return out

    notes = "".join(sitting_notes(k, i, tr) for k, member in enumerate(members, 1) for i, tr in enumerate(member, 1))
    rows = "\n".join(
        f"| {c} | {_pct(x['precision'])} | {_pct(x['recall'])} | {_pct(x['f1'])} | {x['support']} |"
        for c, x in t["per_class"].items()
    )
    conf = t["confusion"]
    conf_rows = "\n".join(f"| **{c}** | " + " | ".join(str(n) for n in conf[i]) + " |" for i, c in enumerate(CLASS_NAMES))
    pairs = sorted(((conf[i][j], CLASS_NAMES[i], CLASS_NAMES[j]) for i in range(7) for j in range(7) if i != j), reverse=True)[:3]
    worst = min(t["per_class"].items(), key=lambda kv: kv[1]["recall"])
    rounds = m["latency_per_face"].get("round_medians_ms")
    rounds = f"; median of {len(rounds)} rounds' medians: {', '.join(map(str, rounds))} ms" if rounds else ""
    old_names = (" (the commands as recorded: `tools/train_reference.py` is now `python -m tools.reference train`, "
                 "with the same options)") if any(t.get("command", "").startswith("python tools/") for t in sittings) else ""
    return f"""# Model card: `fer_reference.keras`

The course's reference facial-expression classifier, loaded with `helpers.pretrained.load_pretrained()`.
All numbers below were measured by `python -m tools.reference evaluate` and are stored in
`data/fer_reference_metrics.json` (a test re-measures the test accuracy on real FER2013).

## At a glance
| | |
|---|---|
| input | raw grayscale face crops, `(batch, 48, 48, 1)`, pixel values 0-255 (rescaling is inside the model) |
| output | 7 probabilities in `helpers.CLASS_NAMES` order: {", ".join(CLASS_NAMES)} |
| architecture | {form}; {networks or "see the recipe"} |
| parameters | {m['parameters']:,} |
| file | {m['size_mb']} MB, SHA-256 `{m.get('sha256', '')}` |
| per-face latency | {m['latency_per_face']['median_ms']} ms median, {m['latency_per_face']['p90_ms']} ms p90 (batch of 1, `predict_on_batch`{rounds}, {m['machine']}, Keras {m['keras']} / {m['backend']}) |
| **test accuracy** | **{_pct(t['accuracy'])}** on all {t['n']:,} test faces{f"; **{_pct(nt['accuracy'])}** on the {nt['n']:,} without a pixel twin in training" if nt else ""} |
| test macro-F1 | {_pct(t['macro_f1'])}{f" on all; {_pct(nt['macro_f1'])} without twins" if nt else ""} |
| validation accuracy | {_pct(v['accuracy'])} on {v['n']:,} faces, macro-F1 {_pct(v['macro_f1'])} (no validation face has a twin in training) |
{twins_note}
## Data
FER2013 (Goodfellow et al., 2013): 48x48 grayscale web images of faces labelled with one of
seven expressions. {_splits_in_words(m, selection)}

## Recipe
Trained with `python -m tools.reference train`: {len(members)} network(s), {len(sittings)} sitting(s); a later
sitting starts from the previous one's best model (`--init-from`) with a fresh warm-up and cosine schedule{old_names}:

| network | sitting | command | epochs | minutes | hardware | best validation accuracy (without / with flip-TTA) |
|---|---|---|---|---|---|---|
{sitting_rows}
{notes}{selection_rows}
Total: **{sum(t.get('epochs_run', 0) for t in sittings)} epochs, {sum(t.get('minutes_this_sitting', 0) for t in sittings):.0f} minutes** of training.
Every sitting: Adam ({each('warmup_epochs')} warm-up epochs, then cosine decay to 1 % of the peak learning rate over
the planned epochs), categorical cross-entropy, augmentation {"inside the model (in a distilled sitting: applied to each batch before the teacher and the network see it)" if any(tr.get("teacher") for tr in sittings) else "inside the model"}, best epoch by
validation accuracy. Settings (one value, or one per sitting): decoupled weight decay
{each('weight_decay')}; label smoothing {each('label_smoothing')}; batch {each('batch_size')}; balanced class weights {each('class_weights')}.
Augmentation: {"; ".join(f"*{a}*: {describe_augmentation(a)}" for a in dict.fromkeys(t.get('augment', 'default') for t in sittings))}.
Training precision: {each('precision')} (mixed_bfloat16 is about 3x faster on CPUs with AMX); the
exported model computes in float32 and holds each network's best epoch{folded}.

## Test split, per class
| class | precision | recall | F1 | support |
|---|---|---|---|---|
{rows}

Confusion matrix (rows: true class, columns: predicted, same order):

| true \\ predicted | {" | ".join(CLASS_NAMES)} |
|---|{"---|" * 7}
{conf_rows}

## Known failure modes
- Most frequent confusions on the test split: {"; ".join(f"{a} taken for {b} ({n} faces)" for n, a, b in pairs)}.
- Weakest class: **{worst[0]}** (recall {_pct(worst[1]['recall'])}); disgust has 1/16 of happy's training images.
- Domain gap: FER2013 crops are tight, frontal-ish, low-resolution web images. Webcam frames
  differ in lighting, pose, camera quality and crop; expect lower accuracy live, and a bias
  towards *neutral* and *happy* when the face is small, dark or turned (lesson 07).
- Labels in FER2013 are noisy (lesson 08 shows held-out images the model confidently disagrees
  with); FER+ relabelling reports that many are ambiguous even for humans.

## Intended use and limits
For **learning**: the course's lessons, the webcam demo, and as a baseline to beat. It is a
48x48 grayscale model trained on web images collected in 2013; its behaviour across age,
gender, skin tone, culture and camera has **not** been evaluated. Facial expressions are not
emotions: a face does not reveal what someone feels. **Do not use it to make decisions about
people** (hiring, education, policing, health, access to services).
"""


def remeasure(model, splits: dict, source: str) -> None:
    """Replace the published metrics' ``val``, ``test`` and ``test_without_twins``; print and rewrite the card."""
    path = ROOT / "data" / "fer_reference_metrics.json"
    metrics = json.loads(path.read_text())
    metrics.update(data_source=source, val=evaluate(model, splits["val"]), **test_scores(model, splits["train"], splits["test"]))
    for name in ("val", "test", "test_without_twins"):
        print(f"{name}: {metrics[name]['n']} faces, accuracy {metrics[name]['accuracy']:.4f}  macro-F1 {metrics[name]['macro_f1']:.4f}")
    path.write_text(json.dumps(metrics, indent=1) + "\n")
    (ROOT / "data" / "MODEL_CARD.md").write_text(model_card(metrics))
    print(f"rewrote {path} and data/MODEL_CARD.md")


def described_members(args: argparse.Namespace, networks: int) -> tuple[list, dict | None]:
    """The sittings ``--member`` / ``--run-dir`` describe (one list of ``result.json`` dicts per network)
    and the selection (``candidates.json`` beside the model, from ``python -m tools.reference ensemble``)
    when it describes this very file; checked before anything is measured.

    Raises:
        SystemExit: a run folder without ``result.json``, or a number of described networks other
            than ``networks``, the number in the model file.
    """
    from helpers.pretrained import sha256_of

    members = []
    for member in [m.split(",") for m in args.member] or ([args.run_dir] if args.run_dir else []):
        members.append([])
        for run in map(Path, member):
            if not (run / "result.json").exists():
                raise SystemExit(f"{run / 'result.json'} not found: pass the run folders of finished sittings")
            members[-1].append(json.loads((run / "result.json").read_text()))
    selection = None
    chosen = Path(args.model).parent / "candidates.json"  # written by python -m tools.reference ensemble
    if chosen.exists():
        selection = json.loads(chosen.read_text())
        if selection.get("sha256") == sha256_of(args.model):
            if selection["chosen"].startswith("member ") and len(members) > 1:
                members = [members[int(selection["chosen"].split()[1]) - 1]]  # the one chosen
        else:
            print(f"note: {chosen} describes another model file (its SHA-256 differs); not used for the card")
            selection = None
    if members and len(members) != networks:
        raise SystemExit(f"{args.model} holds {networks} network(s) but {len(members)} were described "
                         "(--member / --run-dir): give one --member per network, in the ensemble's order.")
    return members, selection


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tools.reference evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--data", default=os.environ.get("FER2013_DIR"))
    ap.add_argument("--run-dir", action="append", default=[],
                    help="a training sitting's run folder (its result.json); repeat, in order, for a model "
                         "trained over several sittings with --init-from")
    ap.add_argument("--member", action="append", default=[],
                    help="for an ensemble: one network's sittings, comma-separated run folders in order; "
                         "repeat per network, in the ensemble's order")
    ap.add_argument("--latency-repeats", type=int, default=200,
                    help="timed calls per round (3 rounds, after 20 warm-up calls); fewer only for a quick check "
                         "of the command (the tests): do not publish a model measured so")
    ap.add_argument("--write", default=None, help="write the metrics JSON and the card to this folder (a dry run)")
    ap.add_argument("--remeasure", action="store_true",
                    help="re-measure the published model's validation and test scores (all test faces and those "
                         "without a pixel twin in training) after a change of the split protocol; keeps its "
                         "latency and recipe, rewrites data/fer_reference_metrics.json and data/MODEL_CARD.md")
    ap.add_argument("--publish", action="store_true",
                    help="copy the model to data/, record its SHA-256 and write the metrics and card there")
    args = ap.parse_args(argv)

    import keras

    from helpers.data import course_splits, load_fer2013
    from helpers.explain import networks_in
    from helpers.keras_files import make_portable
    from helpers.pretrained import sha256_of
    from helpers.training import load_model

    if args.member and args.run_dir:
        raise SystemExit("Give either --run-dir (one network) or --member (each network of an ensemble), not both.")
    if args.publish and args.latency_repeats != 200:
        raise SystemExit("--publish records the latency of 3 rounds of 200 calls: leave out --latency-repeats.")
    model = load_model(args.model)
    members, selection = described_members(args, len(networks_in(model)))  # before anything is measured
    data = load_fer2013(args.data)
    splits = course_splits(data)
    if args.remeasure:
        remeasure(model, splits, data.source)
        return
    metrics = {
        "model_file": Path(args.model).name,
        "data_source": data.source,  # folders or csv: which FER2013 splits val and test are (see the card)
        "size_mb": round(os.path.getsize(args.model) / 1e6, 2),
        "parameters": int(model.count_params()),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "val": evaluate(model, splits["val"]),
        **test_scores(model, splits["train"], splits["test"]),
        "latency_per_face": per_face_latency_ms(model, args.latency_repeats),
        "networks": len(networks_in(model)),
        "flip_tta": has_flip_tta(model),
        "members": members,
    }
    if selection is not None:
        metrics["selection"] = selection
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("val", "test")}, indent=1))
    for name in ("val", "test", "test_without_twins"):
        m = metrics[name]
        print(f"{name}: accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  "
              + " ".join(f"{c}:{v['recall']:.2f}" for c, v in m["per_class"].items()))
    if args.write:
        out = Path(args.write)
        out.mkdir(parents=True, exist_ok=True)
        (out / "fer_reference_metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
        (out / "MODEL_CARD.md").write_text(model_card(metrics))
        print(f"wrote {out / 'MODEL_CARD.md'} and its metrics (not published)")
    if args.publish:
        target = ROOT / "data" / "fer_reference.keras"
        shutil.copyfile(args.model, target)
        make_portable(target)  # drop config keys older Keras rejects (same weights; helpers.keras_files)
        digest = sha256_of(target)
        module = ROOT / "helpers" / "pretrained.py"
        text = re.sub(r"^MODEL_SHA256 = .*$", f'MODEL_SHA256 = "{digest}"', module.read_text(), flags=re.M)
        module.write_text(text)
        metrics["sha256"] = digest
        (ROOT / "data" / "fer_reference_metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
        (ROOT / "data" / "MODEL_CARD.md").write_text(model_card(metrics))
        print(f"published {target} (sha256 {digest})")


if __name__ == "__main__":
    main()
