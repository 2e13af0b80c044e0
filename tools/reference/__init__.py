"""The reference model's tooling (research, not course material): ``python -m tools.reference COMMAND``.

* ``train``: train the recipe behind ``data/fer_reference.keras`` (resumable, one sitting at a time)
  (:mod:`tools.reference.train`);
* ``ensemble``: combine trained networks and choose the served form on validation
  (:mod:`tools.reference.ensemble`);
* ``evaluate``: measure a model once on the test split and publish it with its model card
  (:mod:`tools.reference.evaluate`).

What they share (recipes, scores, latency, the served networks) is :mod:`tools.reference.common`.
Run from the repository root. ``data/EXPERIMENTS.md`` and the commands recorded in
``data/fer_reference_metrics.json`` name the sub-commands by the scripts they were until
this became one tool: ``tools/train_reference.py``, ``tools/ensemble_reference.py`` and
``tools/evaluate_reference.py`` (the same options).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run from elsewhere: the course's helpers are importable all the same
    sys.path.insert(0, str(ROOT))
import helpers  # noqa: E402,F401  (first: its quiet start silences TensorFlow's C++ log lines)
