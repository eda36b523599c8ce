"""Few-label curves by repeated stratified cross-validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from galmerge.data import make_toy_mergers
from galmerge.errors import ConfigError, LabelError
from galmerge.pipeline.few_label import FewLabelOptions, draw_nested_pool, few_label_curve


class _Recorder:
    """Checks what the harness hands a method, and scores with a fixed image statistic."""

    name, needs_labels = "recorder", True

    def __init__(self):
        self.calls = []

    def fit_predict(self, labelled, evaluation, *, seed):
        seen = set(labelled.ids.tolist())
        assert not seen & set(evaluation.ids.tolist())  # never scores an image it was given
        self.calls.append((len(labelled), int(labelled.labels.sum()) if len(labelled) else 0))
        return evaluation.images.std(axis=(1, 2, 3))


class _PixelLogistic:
    """A logistic regression on 8x8-binned pixels: learns more with more labels."""

    needs_labels = True

    def __init__(self, name="pixels"):
        self.name = name

    @staticmethod
    def _features(images):
        n, b, h, w = images.shape
        binned = images[:, :, : h // 8 * 8, : w // 8 * 8].reshape(n, b, h // 8, 8, w // 8, 8).mean(axis=(3, 5))
        return binned.reshape(n, -1)

    def fit_predict(self, labelled, evaluation, *, seed):
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1.0, max_iter=2000).fit(self._features(labelled.images), labelled.labels)
        return model.predict_proba(self._features(evaluation.images))[:, 1]


@pytest.fixture(scope="module")
def toy():
    return make_toy_mergers(400, size=32, merger_fraction=0.25, seed=5)


def test_every_image_is_scored_once_per_repeat_by_a_model_that_never_saw_it(toy):
    recorder = _Recorder()
    options = FewLabelOptions(n_labels=(10, 40), n_folds=4, n_repeats=2, seed=1)
    curve = few_label_curve(toy, [recorder], options=options, progress=False)
    point = curve.point("recorder", 40)
    assert point.predictions.shape == (2, len(toy))
    assert np.all(np.isfinite(point.predictions))
    assert recorder.calls.count((10, 5)) == 8 and recorder.calls.count((40, 20)) == 8  # half mergers
    with pytest.raises(KeyError):
        curve.point("recorder", 0)  # K = 0 is only for methods that need no labels


def test_pools_are_nested_and_balanced():
    labels = np.r_[np.ones(30, int), np.zeros(300, int)]
    pools = draw_nested_pool(labels, np.arange(330), [10, 25, 100], merger_share=0.5, rng=np.random.default_rng(0))
    assert set(pools[10]) <= set(pools[25]) <= set(pools[100])
    assert labels[pools[25]].sum() == 12 or labels[pools[25]].sum() == 13
    assert labels[pools[100]].sum() == 30 and len(pools[100]) == 100  # mergers run out: the rest are others


def test_the_curve_rises_with_the_number_of_labels(toy):
    curve = few_label_curve(toy, [_PixelLogistic()], options=FewLabelOptions(n_labels=(6, 150), n_folds=3, n_repeats=2, seed=0), progress=False)
    few = roc_auc_score(curve.labels, curve.mean_prediction("pixels", 6))
    many = roc_auc_score(curve.labels, curve.mean_prediction("pixels", 150))
    assert many > few + 0.05 and many > 0.8


def test_bad_requests_are_refused(toy):
    with pytest.raises(ConfigError):
        FewLabelOptions(n_folds=1)
    with pytest.raises(ConfigError, match="differ"):
        few_label_curve(toy, [_PixelLogistic(), _PixelLogistic()], progress=False)
    with pytest.raises(LabelError, match="cannot fill"):
        few_label_curve(toy[np.r_[np.flatnonzero(toy.labels == 1)[:2], np.flatnonzero(toy.labels == 0)]], [_PixelLogistic()], progress=False)
