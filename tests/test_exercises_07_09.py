"""Lessons 07-09's implement-then-compare exercises: the references agree with the library each is compared
with, right answers written in other ways pass, and the decision rule of choose_alpha does what it says."""

from __future__ import annotations

import math

import numpy as np
import pytest

import helpers.checks as checks
from helpers import ferplus, inference


def passes(answer, name):
    result = checks.run_check(answer, name)
    assert result.status == "pass", result.message


def test_equalize_histogram_in_double_and_in_single_precision_both_pass():
    import cv2

    def in_double(gray):  # the exact formula: may round a half-way level the other way than OpenCV
        hist = np.bincount(gray.ravel(), minlength=256)
        cdf = hist.cumsum()
        low = cdf[cdf > 0][0]
        return gray.copy() if low == gray.size else np.round((cdf - low) * 255 / (gray.size - low)).astype(np.uint8)[gray]

    def like_opencv(gray):  # OpenCV's own arithmetic: float32 scale, rounding to nearest
        hist = np.bincount(gray.ravel(), minlength=256)
        cdf = np.cumsum(hist)
        low = hist[np.flatnonzero(hist)[0]]
        if low == gray.size:
            return gray.copy()
        scale = np.float32(255) / np.float32(gray.size - low)
        return np.rint((cdf - low).astype(np.float32) * scale).astype(np.uint8)[gray]

    passes(in_double, "equalize_histogram")
    passes(like_opencv, "equalize_histogram")
    rng = np.random.default_rng(0)
    for _ in range(200):  # the single-precision version is OpenCV's, exactly
        gray = rng.integers(rng.integers(0, 100), 256, rng.integers(1, 50, 2)).astype(np.uint8)
        assert np.array_equal(like_opencv(gray), cv2.equalizeHist(gray))


def test_choose_alpha_meets_the_deadline_and_a_smaller_alpha_does_not():
    passes(lambda f, c, r, s: 1.0 if math.floor(f * r) < c else 1 - math.exp(math.log(1 - s) / (math.floor(f * r) - c + 1)),
           "choose_alpha")
    reference = checks.EXERCISES["choose_alpha"].reference
    for fps, every, reaction, settle in [(30, 2, 0.5, 0.9), (20, 1, 0.4, 0.8), (30, 3, 1.0, 0.95)]:
        frames = int(fps * reaction)
        step = np.array([np.eye(7)[6]] * every + [np.eye(7)[3]] * (frames - every + 1))  # worst case: every - 1 late
        for alpha, in_time in ((reference(fps, every, reaction, settle), True), (0.97 * reference(fps, every, reaction, settle), False)):
            reached = inference.smooth_probabilities(step, alpha)[-1, 3]  # after `frames` frames
            assert (reached >= settle - 1e-9) == in_time, (fps, every, alpha, reached)


def test_ferplus_majority_agrees_with_helpers_ferplus_and_another_right_answer_passes():
    reference = checks.EXERCISES["ferplus_majority"].reference
    votes = np.random.default_rng(1).multinomial(10, [0.2, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.1, 0.05], 500)
    labels, dropped = reference(votes)
    library, reasons = ferplus.majority(votes)
    assert np.array_equal(labels, library) and sum(dropped.values()) == sum(ferplus.count_reasons(reasons).values())

    def by_order(votes):
        column_of_class = [4, 5, 6, 1, 3, 2, 0]  # angry .. neutral in FER+'s columns
        out, counts = [], dict.fromkeys(("tie", "unknown", "not a face", "contempt", "no votes"), 0)
        for row in votes:
            top = np.flatnonzero(row == row.max())
            why = "no votes" if not row.any() else "tie" if len(top) > 1 else {7: "contempt", 8: "unknown", 9: "not a face"}.get(top[0])
            if why:
                counts[why] += 1
            out.append(-1 if why else column_of_class.index(top[0]))
        return np.array(out), counts

    passes(by_order, "ferplus_majority")


def test_wasserstein_and_calibration_error_written_other_ways_pass():
    from scipy.stats import wasserstein_distance

    def by_quantiles(a, b):  # the area between the quantile functions
        a, b = np.sort(a), np.sort(b)
        q = np.union1d(np.arange(1, len(a) + 1) / len(a), np.arange(1, len(b) + 1) / len(b))
        ia = np.minimum(np.ceil(q * len(a) - 1e-12).astype(int) - 1, len(a) - 1)
        ib = np.minimum(np.ceil(q * len(b) - 1e-12).astype(int) - 1, len(b) - 1)
        return float(np.sum(np.diff(np.concatenate([[0], q])) * np.abs(a[ia] - b[ib])))

    passes(by_quantiles, "wasserstein_1d")
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 37), rng.normal(0.5, 2, 11)
    assert by_quantiles(a, b) == pytest.approx(wasserstein_distance(a, b))

    def with_digitize(probs, labels):
        confidence, right = probs.max(1), probs.argmax(1) == labels
        bins = np.digitize(confidence, np.linspace(0, 1, 11)[1:-1], right=True)
        return sum(np.mean(bins == k) * abs(right[bins == k].mean() - confidence[bins == k].mean())
                   for k in range(10) if np.any(bins == k))

    passes(with_digitize, "expected_calibration_error")
