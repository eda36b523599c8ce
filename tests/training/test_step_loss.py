"""The one loss composition: cross-entropy of every labelled batch plus every adaptation term, in one forward pass."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from galmerge.adapt.terms import CORALTerm, EntropyTerm
from galmerge.training.losses import LabelledBatch, balanced_class_weights, step_loss


class Tiny(nn.Module):
    """(features, logits) of flat inputs; BatchNorm makes the result depend on what shares the forward pass."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        features = self.features(x)
        return features, self.head(features)


def batches():
    generator = torch.Generator().manual_seed(1)
    source = LabelledBatch(torch.randn(8, 4, generator=generator), torch.tensor([0, 1] * 4), torch.tensor([1.0, 3.0]))
    extra = LabelledBatch(torch.randn(5, 4, generator=generator), torch.tensor([1, 0, 1, 1, 0]))
    target = torch.randn(6, 4, generator=generator) + 2.0
    return source, extra, target


def test_the_composed_loss_is_the_sum_of_its_parts_from_one_forward_pass():
    model = Tiny().train()
    source, extra, target = batches()
    terms = {"coral": CORALTerm(weight=2.0), "entropy": EntropyTerm(weight=0.5)}
    loss, logged = step_loss(model, source, target=target, terms=terms, extra_labelled=[extra], progress=0.3)
    features, logits = model(torch.cat([extra.images, source.images, target]))  # the same single pass
    expected_task = F.cross_entropy(logits[:5], extra.labels) + F.cross_entropy(logits[5:13], source.labels, weight=source.class_weights)
    coral = 2.0 * terms["coral"].loss(features[5:13], features[13:])
    entropy = 0.5 * terms["entropy"].loss(torch.cat([logits[5:13], logits[13:]]))
    assert logged["task_loss"].item() == pytest.approx(expected_task.item(), rel=1e-6)
    assert logged["coral_loss"].item() == pytest.approx(coral.item(), rel=1e-6)
    assert logged["entropy_loss"].item() == pytest.approx(entropy.item(), rel=1e-6)
    assert loss.item() == pytest.approx((expected_task + coral + entropy).item(), rel=1e-6)
    assert list(logged) == ["task_loss", "coral_loss", "entropy_loss", "loss"]


def test_without_terms_it_is_the_weighted_cross_entropy():
    model = Tiny().train()
    source, _, _ = batches()
    loss, logged = step_loss(model, source)
    assert loss.item() == pytest.approx(F.cross_entropy(model(source.images)[1], source.labels, weight=source.class_weights).item(), rel=1e-6)
    assert set(logged) == {"task_loss", "loss"}


def test_balanced_class_weights():
    torch.testing.assert_close(balanced_class_weights([0, 0, 0, 1]), torch.tensor([4 / 6, 4 / 2]))
    torch.testing.assert_close(balanced_class_weights([1, 1]), torch.tensor([0.0, 2 / (2 * 2)]))  # an absent class weighs 0


def test_lightning_training_step_uses_it():
    from galmerge.adapt.terms import MMDTerm
    from galmerge.training import MergerClassifier

    torch.manual_seed(0)
    module = MergerClassifier(architecture="deepmerge", in_bands=3, input_size=16, class_weights=[1.0, 2.0], loss_terms={"mmd": MMDTerm(bandwidths="median")})
    module.train()
    images, target = torch.randn(6, 3, 16, 16), torch.randn(6, 3, 16, 16)
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    logged = {}
    module.log_dict = lambda values, **kwargs: logged.update(values)  # no Trainer: keep what would be logged
    state = torch.get_rng_state()
    loss = module.training_step({"source": (images, labels), "target": target}, 0)
    torch.set_rng_state(state)
    expected, _ = step_loss(module.model, LabelledBatch(images, labels, module.class_weights), target=target, terms=module.loss_terms)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert set(logged) == {"train_task_loss", "train_mmd_loss", "train_loss"}
