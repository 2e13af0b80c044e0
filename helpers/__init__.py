"""Helpers for the FER2013 course: one module per stage of the pipeline.

* :mod:`helpers.course`   class order, quick mode, seeding, the notebook banner (lesson 00)
* :mod:`helpers.data`     loading FER2013 (CSV or image folders) and the split protocol (01-02)
* :mod:`helpers.offline`  the offline demo faces used when FER2013 is absent
* :mod:`helpers.checks`   exercise checks used in every lesson
"""

from . import checks  # so that `helpers.checks.check(...)` works after a plain `import helpers`
from .course import CLASS_NAMES, IMAGE_SIZE, NUM_CLASSES, SEED, is_quick, seed_everything, start
from .data import (
    FER2013Data,
    Split,
    class_counts,
    course_splits,
    download_fer2013,
    load_course_data,
    load_fer2013,
)

__all__ = [
    "CLASS_NAMES", "IMAGE_SIZE", "NUM_CLASSES", "SEED", "is_quick", "seed_everything", "start",
    "FER2013Data", "Split", "class_counts", "course_splits", "download_fer2013", "load_course_data",
    "load_fer2013",
]
