"""Helpers for the FER2013 course: one module per concern, in the order the lessons need them.

Dependencies point one way: a module imports only modules listed before it here (imports inside
functions included; ``tests/test_structure.py`` checks this and that no module passes 600 lines).

Settings
  * :mod:`helpers.quiet`         TensorFlow's C++ log lines silenced before TensorFlow loads
  * :mod:`helpers.course`        class order, modes (quick/workshop/full), seeding, where runs are saved (lesson 00)
Data (01-02)
  * :mod:`helpers.image_files`   image files read safely: byte and pixel limits checked from the header before decoding
  * :mod:`helpers.data_sources`  where FER2013 is: locate_fer2013, archives, wrapping folders, CSV variants
  * :mod:`helpers.ferplus`       FER+'s crowd votes: majority and soft labels (01, 08)
  * :mod:`helpers.splits`        Split, FER2013Data and the protocol: twin-free validation, the locked test split
  * :mod:`helpers.session`       ``helpers.start("NN · Title")``: a lesson's first call and its banner
  * :mod:`helpers.offline`       the offline demo faces used when FER2013 is absent
  * :mod:`helpers.data`          loading FER2013 (CSV, image folders, archives), load_course_data
  * :mod:`helpers.class_balance` class weights and oversampling indices (02-03)
Models (03-04)
  * :mod:`helpers.keras_files`   .keras files older Keras reads
  * :mod:`helpers.contract`      refuses model inputs that break the contract (0-1 floats, colour faces)
  * :mod:`helpers.augmentation`  augmentation layers inside the model (03)
  * :mod:`helpers.models`        the CNN builders, test-time augmentation, ensembles, serving copies (04, 07)
Training (05)
  * :mod:`helpers.curves`        live learning curves, a measured time estimate, history plots
  * :mod:`helpers.callbacks`     a cosine learning-rate schedule and a training budget (seconds or steps) for fit
  * :mod:`helpers.training`      Adam + cross-entropy, callbacks, resumable training, save and load
  * :mod:`helpers.tuning`        the learning-rate range test, choosing the precision
  * :mod:`helpers.pretrained`    the course's reference model, SHA-256 checked
  * :mod:`helpers.imbalance`     imbalance remedies compared by training (02-03, 05)
Evaluation (06, 08)
  * :mod:`helpers.evaluation`    metrics, confusion matrix, errors, TTA
  * :mod:`helpers.explain`       Grad-CAM and embeddings
Inference (07)
  * :mod:`helpers.faces`         grayscale, Haar detection, tracking between detections, model-ready crops
  * :mod:`helpers.drawing`       per-face results drawn: boxes, labels, probability bars, FPS
  * :mod:`helpers.frame_sources` local camera, Colab's browser camera, video, photos, arrays
  * :mod:`helpers.sample_frames` package photos and webcam-like frames made from them
  * :mod:`helpers.inference`     classify and smooth, the live pipeline (and the names above, in one place)
  * :mod:`helpers.webcam`        ``python -m helpers.webcam``: the live pipeline on the command line
Notebook controls
  * :mod:`helpers.widgets`       ipywidgets controls for lessons 03, 06, 07, 08, each with a static fallback
Around the lessons
  * :mod:`helpers.checks`        exercise checks: the machinery and one module per lesson
  * :mod:`helpers.doctor`        ``python -m helpers.doctor``: is this machine ready for the workshop?
  * :mod:`helpers.demo`          lesson 00's first minute: the reference model on the sample photos and a snapshot
  * :mod:`helpers.grade_run`     one submission run safely: file checks before decoding, an output cap, kernel deaths named
  * :mod:`helpers.grade_answers` exercise answers as safe data (JSON, .npz, .keras) across the grader's trust boundary
  * :mod:`helpers.grade_worker`  the grader's worker: a student's functions called on the hidden cases, no checks in reach
  * :mod:`helpers.grade_evidence` tamper evidence: check cells changed, checks touched, writes outside the folder
  * :mod:`helpers.grade_trust`   verdicts judged outside the student's kernel with the notebook check's own run_check
  * :mod:`helpers.grade_report`  a class graded in parallel, each notebook in its own process; students, summary, figure, feedback
  * :mod:`helpers.grade`         ``python -m helpers.grade``: run a class's notebooks, one CSV row per student and exercise

``import helpers`` loads the settings, the data modules and checks (no TensorFlow, no Keras);
import the other modules when a lesson needs them.
"""

from . import checks  # so that `helpers.checks.check(...)` works after a plain `import helpers`
from .course import CLASS_NAMES, IMAGE_SIZE, NUM_CLASSES, SEED, by_mode, is_quick, is_workshop, run_mode, runs_dir, seed_everything
from .session import start
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
    "CLASS_NAMES", "IMAGE_SIZE", "NUM_CLASSES", "SEED", "by_mode", "is_quick", "is_workshop", "run_mode", "runs_dir", "seed_everything", "start",
    "FER2013Data", "Split", "class_counts", "course_splits", "download_fer2013", "final_test", "load_course_data",
    "load_fer2013",
]
