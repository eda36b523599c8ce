"""The few-label statistics baselines learn from a pool as small as the harness draws, and from mocks."""

import numpy as np
from sklearn.metrics import roc_auc_score

from galmerge.data import make_toy_mergers
from galmerge.pipeline.finetuning import MockStatistics, StatisticsBaseline


def test_a_pool_of_25_labels_is_enough_to_learn_from():
    toy = make_toy_mergers(400, seed=4)
    labels = toy.labels.astype(int)
    pool = np.concatenate([np.flatnonzero(labels == 1)[:12], np.flatnonzero(labels == 0)[:13]])
    rest = np.setdiff1d(np.arange(len(toy)), pool)
    scores = StatisticsBaseline().fit_predict(toy[pool], toy[rest], seed=0)
    # a model that cannot split 25 images scores every image alike (ROC-AUC exactly 0.5)
    assert roc_auc_score(labels[rest], scores) > 0.65


def test_mock_statistics_learn_from_the_mocks_and_then_from_the_survey_labels():
    mocks, survey = make_toy_mergers(300, seed=1, size=48), make_toy_mergers(300, seed=2, size=48)
    labels = survey.labels.astype(int)
    pool = np.concatenate([np.flatnonzero(labels == 1)[:20], np.flatnonzero(labels == 0)[:20]])
    rest = np.setdiff1d(np.arange(len(survey)), pool)
    method = MockStatistics(mocks.images, mocks.labels)
    assert roc_auc_score(labels[rest], method.fit_predict(survey[pool[:0]], survey[rest], seed=0)) > 0.8  # no label: the mocks alone (measured 0.90)
    assert roc_auc_score(labels[rest], method.fit_predict(survey[pool], survey[rest], seed=0)) > 0.8  # measured 0.87
    flipped = survey[pool]
    flipped.labels = 1 - flipped.labels
    # the survey labels weigh: flipped, they undo what the mocks taught (measured 0.49)
    assert roc_auc_score(labels[rest], method.fit_predict(flipped, survey[rest], seed=0)) < 0.65
