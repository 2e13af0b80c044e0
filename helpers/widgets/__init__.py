"""Interactive notebook controls (ipywidgets) for lessons 03, 06, 07 and 08, each with a plain fallback.

* :func:`augmentation_explorer`  lesson 03: a slider per augmentation strength, redrawing a grid of augmented faces
* :func:`threshold_explorer`     lesson 06: a decision threshold per class, precision and recall on validation
* :func:`smoothing_explorer`     lesson 07: the EMA factor alpha on a recorded sequence of frames: jitter and lag
* :class:`LabelReview`           lesson 08: agree / wrong label / not a face, over the faces the model rejects
* :class:`LiveView`              lesson 07: the live pipeline in an ipywidgets Image, start / stop buttons, FPS

The numbers behind each control are plain functions (:func:`augment_grid`, :func:`threshold_metrics`,
:func:`smoothing_stats`, :func:`review_actions`, :func:`apply_review`) that the tests check and that
the notebooks print from. Every control has a **fallback** that needs no widget frontend
(``FER_WIDGETS=0``, as ``make render`` sets it, or no ipywidgets installed): a static figure or table
for a few fixed settings, or decisions passed as an argument. Where ipywidgets is installed but
nothing renders it (nbconvert, nbval, a notebook viewer) a control shows nothing, so set
``FER_WIDGETS=0`` for a notebook that will be read without a live kernel. Nothing a notebook prints
depends on a click.

Figures are drawn with matplotlib's object API (no pyplot state) and shown in the widgets as PNG.
ipywidgets, Keras and OpenCV are imported inside the functions that need them: importing this
module imports neither TensorFlow nor ipywidgets.

One module per lesson's control (:mod:`helpers.widgets.augmentation`, ``thresholds``, ``smoothing``,
``live``, ``review``), the shared pieces in :mod:`helpers.widgets.core`; every name is offered here.
"""

from .core import figure_png, widgets_enabled  # noqa: F401
from .augmentation import STRENGTH_RANGES, augment_grid, augmentation_explorer, augmentation_figure  # noqa: F401
from .thresholds import threshold_explorer, threshold_metrics  # noqa: F401
from .smoothing import smoothing_explorer, smoothing_stats  # noqa: F401
from .review import LabelReview, REVIEW_CHOICES, apply_review, confident_disagreements, review_actions  # noqa: F401
from .live import LiveView  # noqa: F401
