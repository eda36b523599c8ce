"""The few-label statistics baseline learns from a pool as small as the harness draws."""

import numpy as np
from sklearn.metrics import roc_auc_score

from galmerge.data import make_toy_mergers
from galmerge.pipeline.finetuning import StatisticsBaseline


def test_a_pool_of_25_labels_is_enough_to_learn_from():
    toy = make_toy_mergers(400, seed=4)
    labels = toy.labels.astype(int)
    pool = np.concatenate([np.flatnonzero(labels == 1)[:12], np.flatnonzero(labels == 0)[:13]])
    rest = np.setdiff1d(np.arange(len(toy)), pool)
    scores = StatisticsBaseline().fit_predict(toy[pool], toy[rest], seed=0)
    # a model that cannot split 25 images scores every image alike (ROC-AUC exactly 0.5)
    assert roc_auc_score(labels[rest], scores) > 0.65
