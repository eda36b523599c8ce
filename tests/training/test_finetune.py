import json

import numpy as np
import pytest
import torch

from galmerge.data import ImageSet, make_toy_mergers
from galmerge.errors import ConfigError, DataError, OutputExistsError
from galmerge.pipeline import finetune_curve
from galmerge.pipeline.finetuning import RUN_METHOD
from galmerge.runs import FinetuneCurve
from galmerge.training.finetune import FinetuneOptions, draw_label_pool


def test_label_pool_prefixes_are_balanced_and_spare_half_of_each_class():
    labels = np.array([1] * 10 + [0] * 90)
    pool = draw_label_pool(labels, 20, seed=0)
    assert len(set(pool)) == 20
    assert labels[pool[:10]].sum() == 5  # alternating while mergers last
    assert labels[pool].sum() == 5  # never more than half of the mergers
    with pytest.raises(DataError, match="only 50"):
        draw_label_pool(labels, 60)


def test_fine_tuning_on_target_labels_helps_on_the_target(trained_run, tmp_path):
    base = make_toy_mergers(700, seed=31)
    gains = np.array([2.0, 1.0, 0.4], dtype=np.float32)[None, :, None, None]
    target = ImageSet(base.images * gains, labels=base.labels, meta=base.meta)
    # without AdaBN, so that K = 0 is the run as trained and the gain is the labels' alone
    options = FinetuneOptions(adapt_bn=False, steps=150)
    curve = finetune_curve(trained_run.run_dir, target, n_labels=(0, 100), baselines=False, n_folds=3, n_repeats=1, out=tmp_path / "ft", options=options, n_bootstrap=50, progress=False)
    points = curve.methods[RUN_METHOD]
    before, after = points[0].roc_auc.value, points[100].roc_auc.value
    assert after > before + 0.05
    assert (tmp_path / "ft" / "finetune_curve.png").exists()
    saved = json.loads((tmp_path / "ft" / "finetune.json").read_text())
    assert saved["n_labelled"] == 700 and saved["methods"][RUN_METHOD]["100"]["n_mergers_used"] == 50  # every image scored out of fold
    assert FinetuneCurve.read(tmp_path / "ft" / "finetune.json") == curve
    with pytest.raises(OutputExistsError):
        finetune_curve(trained_run.run_dir, target, n_labels=(0,), out=tmp_path / "ft", progress=False)


def test_the_baselines_include_the_statistics_classifier_of_the_run_mocks(trained_run, tmp_path):
    options = FinetuneOptions(adapt_bn=False, steps=5)
    curve = finetune_curve(trained_run.run_dir, make_toy_mergers(120, seed=33), n_labels=(0, 20), n_folds=2, n_repeats=1, out=tmp_path / "ft", options=options, n_bootstrap=0, progress=False)
    assert set(curve.methods) == {RUN_METHOD, "from scratch", "statistics", "mock statistics"}
    mock_statistics = curve.methods["mock statistics"]
    assert mock_statistics[0].roc_auc.value > 0.8  # fitted on the run's training mocks, no label: the toy mergers' statistics carry over (measured 0.88)


def test_head_only_fine_tuning_leaves_the_convolutions_alone(trained_run, tmp_path):
    from galmerge.models import TrainedModel
    from galmerge.training.finetune import finetune

    trained = TrainedModel.load(trained_run.run_dir)
    data = make_toy_mergers(64, seed=32)
    tuned = finetune(trained, data.images, data.labels, options=FinetuneOptions(mode="head", steps=30, adapt_bn=False))
    old, new = trained.model.state_dict(), tuned.model.state_dict()
    assert all(np.array_equal(old[k], new[k]) for k in old if k.startswith(("conv", "bn")))
    assert not np.array_equal(old["fc3.weight"], new["fc3.weight"])


def test_fine_tuning_with_adaptation_keeps_pulling_the_domains_together(trained_run):
    from galmerge.adapt.mmd import MMDLoss
    from galmerge.models import TrainedModel
    from galmerge.training import TrainConfig
    from galmerge.training.finetune import AdaptationData, finetune

    trained = TrainedModel.load(trained_run.run_dir)
    gains = np.array([2.0, 1.0, 0.4], dtype=np.float32)[None, :, None, None]
    source, target, labelled = make_toy_mergers(400, seed=41), make_toy_mergers(400, seed=42).images * gains, make_toy_mergers(40, seed=43)

    def domain_mmd(model):  # on images neither fine-tuning saw
        features = [model.model.eval()(torch.from_numpy(model.preprocessor.transform(x)))[0].detach() for x in (source.images[200:], target[200:])]
        return float(MMDLoss(bandwidths="median")(*features))

    options = FinetuneOptions(steps=100, adapt_bn=False)
    alone = finetune(trained, labelled.images * gains, labelled.labels, options=options)
    adaptation = AdaptationData(source.images[:200], source.labels[:200], target[:200], TrainConfig(method="mmd", mmd_bandwidths="median", transfer_weight=10).adaptation)
    adapted = finetune(trained, labelled.images * gains, labelled.labels, options=options, adaptation=adaptation)
    assert domain_mmd(adapted) < 0.98 * domain_mmd(alone)


def test_fine_tuning_with_adaptation_refuses_a_run_trained_without_it(trained_run, tmp_path):
    with pytest.raises(ConfigError, match="trained without target images"):
        finetune_curve(trained_run.run_dir, make_toy_mergers(200, seed=44), n_labels=(0, 20), out=tmp_path / "ft", options=FinetuneOptions(with_adaptation=True), progress=False)
