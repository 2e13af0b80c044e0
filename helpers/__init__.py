"""Helpers for the FER2013 course: one module per stage of the pipeline.

* :mod:`helpers.course`   class order, quick mode, seeding, the notebook banner (lesson 00)
* :mod:`helpers.data`     loading FER2013 (CSV or image folders) and the split protocol (01-02)
* :mod:`helpers.data_sources` archives, wrapping folders and CSV variants the loader recognises (01)
* :mod:`helpers.ferplus`  FER+'s crowd votes: majority and soft labels (01, 08)
* :mod:`helpers.offline`  the offline demo faces used when FER2013 is absent
* :mod:`helpers.augmentation` augmentation layers inside the model (03)
* :mod:`helpers.imbalance`   class weights and oversampling (02-05)
* :mod:`helpers.models`   the three CNN builders, test-time augmentation, ensembles, serving copies (04, 07)
* :mod:`helpers.training` Adam + cross-entropy, callbacks, resumable training, curves (05)
* :mod:`helpers.evaluation` metrics, confusion matrix, errors, TTA (06)
* :mod:`helpers.explain`  Grad-CAM and embeddings (06, 08)
* :mod:`helpers.inference` face detection, preprocessing, smoothing, the live pipeline (07)
* :mod:`helpers.webcam`   command line for the live pipeline
* :mod:`helpers.widgets`  interactive controls (ipywidgets) for lessons 03, 06, 07, 08, each with a static fallback
* :mod:`helpers.demo`     lesson 00's first minute: the reference model on the sample photos and a snapshot
* :mod:`helpers.pretrained` the course's reference model, SHA-256 checked
* :mod:`helpers.checks`   exercise checks used in every lesson
* :mod:`helpers.doctor`   ``python -m helpers.doctor``: is this machine ready for the workshop?
* :mod:`helpers.grade`    ``python -m helpers.grade``: run a class's notebooks, one CSV row per exercise

Only course/data (with data_sources, ferplus)/offline/checks load on ``import helpers`` (no TensorFlow, no Keras); import
the other modules when a lesson needs them.
"""

from . import checks  # so that `helpers.checks.check(...)` works after a plain `import helpers`
from .course import CLASS_NAMES, IMAGE_SIZE, NUM_CLASSES, SEED, by_mode, is_quick, is_workshop, run_mode, seed_everything, start
from .data import (
    FER2013Data,
    Split,
    class_counts,
    course_splits,
    download_fer2013,
    final_test,
    load_course_data,
    load_fer2013,
)

__all__ = [
    "CLASS_NAMES", "IMAGE_SIZE", "NUM_CLASSES", "SEED", "by_mode", "is_quick", "is_workshop", "run_mode", "seed_everything", "start",
    "FER2013Data", "Split", "class_counts", "course_splits", "download_fer2013", "final_test", "load_course_data",
    "load_fer2013",
]
