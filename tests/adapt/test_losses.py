"""The domain-adaptation losses, checked against independent computations and their defining properties."""

import math

import numpy as np
import pytest
import torch

from galmerge.adapt import (
    DEEPMERGE_BANDWIDTHS,
    CORALLoss,
    DomainAdversarialLoss,
    DomainClassifier,
    EntropyLoss,
    FisherLoss,
    MMDLoss,
    ganin_coefficient,
    reverse_gradient,
)
from galmerge.errors import ConfigError


def numpy_mmd(x, y, sigmas, biased=True):
    def kernel(a, b):
        d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return sum(np.exp(-d / (2 * s)) for s in sigmas)

    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    if biased:
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()
    n, m = len(x), len(y)
    return (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_mmd_equals_an_independent_numpy_computation(estimator):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 7)), rng.normal(0.5, 1.3, size=(25, 7))
    expected = numpy_mmd(x, y, DEEPMERGE_BANDWIDTHS, biased=estimator == "biased")
    got = MMDLoss(estimator=estimator, clamp=False)(torch.tensor(x), torch.tensor(y)).item()
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_mmd_is_zero_for_equal_sets_non_negative_and_grows_with_a_shift():
    torch.manual_seed(0)
    x = torch.randn(64, 30)
    loss = MMDLoss()
    assert loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    values = [loss(x, torch.randn(64, 30) + shift).item() for shift in (0.0, 0.5, 1.0, 2.0)]
    assert all(v >= 0 for v in values)
    assert values == sorted(values) and values[-1] > 5 * values[0]
    median = MMDLoss(bandwidths="median")
    assert median(x, x + 2.0).item() > median(x, torch.randn(64, 30)).item()


def test_gradient_reversal_is_identity_forward_and_minus_lambda_backward():
    x = torch.randn(5, 3, requires_grad=True)
    y = reverse_gradient(x, 0.7)
    assert torch.equal(y, x)
    weights = torch.randn(5, 3)
    (y * weights).sum().backward()
    torch.testing.assert_close(x.grad, -0.7 * weights)


def test_ganin_ramp_values():
    assert ganin_coefficient(0.0) == 0.0
    assert ganin_coefficient(0.1) == pytest.approx(2 / (1 + math.exp(-1)) - 1)
    assert ganin_coefficient(1.0) == pytest.approx(0.99991, abs=1e-5)


def test_domain_classifier_matches_deepmerge_ii():
    assert sum(p.numel() for p in DomainClassifier(2592).parameters()) == 3_705_857
    assert sum(p.numel() for p in DomainClassifier(256).parameters()) == 1_313_793


def test_domain_classifier_and_fisher_centres_are_trained_by_the_optimiser():
    from galmerge.adapt.terms import DANNTerm, FisherTerm
    from galmerge.training import MergerClassifier, StepOutputs

    module = MergerClassifier(architecture="deepmerge", in_bands=3, input_size=32, loss_terms={"dann": DANNTerm(512, lr_multiplier=0.1), "fisher": FisherTerm(512)})
    optimiser = torch.optim.Adam(module.parameter_groups(), lr=1e-3)
    before = {name: p.detach().clone() for name, p in module.loss_terms.named_parameters()}
    features, logits = module.model(torch.randn(16, 3, 32, 32))
    outputs = StepOutputs(features[:8], logits[:8], torch.randint(0, 2, (8,)), features[8:], logits[8:], progress=0.5)
    loss = sum(term(outputs) for term in module.loss_terms.values())
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    for name, parameter in module.loss_terms.named_parameters():
        assert not torch.equal(parameter, before[name]), name


def test_fisher_loss_falls_as_classes_separate_and_is_finite_everywhere():
    torch.manual_seed(1)
    loss = FisherLoss(4, form="tr")
    with torch.no_grad():
        loss.centres.copy_(torch.tensor([[-1.0, 0, 0, 0], [1.0, 0, 0, 0]]))
    labels = torch.tensor([0] * 50 + [1] * 50)
    noise = torch.randn(100, 4)
    spread = [loss(loss.centres.detach()[labels] + scale * noise, labels).item() for scale in (2.0, 1.0, 0.3)]
    assert spread[0] > spread[1] > spread[2]
    for form in ("tr", "td"):
        for w_intra, w_inter in ((1.0, 0.0), (0.0, 1.0), (1e-4, 1.0), (1.0, 1.0)):
            same_centres = FisherLoss(4, form=form, w_intra=w_intra, w_inter=w_inter)
            with torch.no_grad():
                same_centres.centres.zero_()  # inter = 0: the reference's 0/0
            value = same_centres(torch.zeros(6, 4), torch.tensor([0, 1, 0, 1, 0, 1]))
            assert torch.isfinite(value)
    with pytest.raises(ConfigError):
        FisherLoss(4, w_intra=0.0, w_inter=0.0)


def test_entropy_is_largest_for_uniform_predictions():
    loss = EntropyLoss()
    assert loss(torch.zeros(4, 2)).item() == pytest.approx(math.log(2))
    assert loss(torch.tensor([[10.0, -10.0]])).item() < 1e-6
    assert loss(torch.tensor([[1.0, 0.0]])).item() < math.log(2)


def test_fisher_loss_on_a_hand_computed_case():
    # centres (0, 0) and (2, 0); features: class 0 at (1, 0) and (0, 1), class 1 at (2, 2)
    # intra = mean(||f - c_y||^2) = (1 + 1 + 4) / 3 = 2; mean centre (1, 0), inter = mean(1, 1) = 1
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    labels = torch.tensor([0, 0, 1])
    for form, w_intra, w_inter, expected in (("tr", 1.0, 1.0, 2.0 / (1.0 + 1e-6)), ("tr", 0.01, 2.0, 0.02 / (2.0 + 1e-6)), ("td", 0.5, 3.0, 1.0 - 3.0)):
        loss = FisherLoss(2, form=form, w_intra=w_intra, w_inter=w_inter)
        with torch.no_grad():
            loss.centres.copy_(torch.tensor([[0.0, 0.0], [2.0, 0.0]]))
        assert loss(features, labels).item() == pytest.approx(expected, rel=1e-6), form


def test_coral_on_a_hand_computed_case():
    # source: two points (0, 0) and (2, 0): covariance diag(2, 0) (n - 1 = 1); target: (0, 0) and (0, 4): diag(0, 8)
    # ||C_s - C_t||_F^2 = 2^2 + 8^2 = 68; divided by 4 d^2 = 16
    source = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    target = torch.tensor([[0.0, 0.0], [0.0, 4.0]])
    assert CORALLoss()(source, target).item() == pytest.approx(68 / 16)
    # against numpy's covariance on random features
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(50, 6)), rng.normal(size=(40, 6)) * np.arange(1, 7)
    expected = ((np.cov(a, rowvar=False) - np.cov(b, rowvar=False)) ** 2).sum() / (4 * 36)
    assert CORALLoss()(torch.from_numpy(a).float(), torch.from_numpy(b).float()).item() == pytest.approx(expected, rel=1e-4)


def test_coral_is_zero_for_equal_covariances_and_positive_otherwise():
    torch.manual_seed(2)
    x = torch.randn(200, 5)
    loss = CORALLoss()
    assert loss(x, x).item() == pytest.approx(0.0, abs=1e-10)
    assert loss(x, x * torch.tensor([1.0, 3.0, 1.0, 1.0, 1.0])).item() > 0.01


def test_loss_defaults_are_the_registry_options():
    from galmerge.adapt.registry import DANNOptions, FisherOptions

    adversary, fisher = DomainAdversarialLoss(8), FisherLoss(8)
    assert (adversary.ramp, adversary.lr_multiplier) == (DANNOptions().ramp, DANNOptions().lr_multiplier) == (True, 0.1)
    assert (fisher.form, fisher.w_intra, fisher.w_inter, fisher.lr_multiplier) == (FisherOptions().form, FisherOptions().w_intra, FisherOptions().w_inter, FisherOptions().lr_multiplier)


def test_adversarial_loss_reports_domain_accuracy():
    adversary = DomainAdversarialLoss(4, ramp=False)
    loss, accuracy = adversary(torch.randn(10, 4), torch.randn(10, 4) + 5.0)
    assert loss.item() > 0 and 0 <= accuracy.item() <= 1


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_class_weighted_mmd_equals_mmd_of_the_reweighted_source(estimator):
    """Weight 0 on one class is the MMD of the other class alone; equal weights change nothing."""
    from galmerge.adapt.mmd import MMDLoss

    torch.manual_seed(0)
    source, target = torch.randn(40, 5), torch.randn(30, 5) + 0.5
    labels = torch.arange(40) % 4 == 0
    loss = MMDLoss(bandwidths=(0.5, 2.0, 8.0), estimator=estimator, clamp=False)
    torch.testing.assert_close(loss(source, target, source_weights=torch.ones(40)), loss(source, target))
    weights = torch.where(labels, 0.0, 1.0)
    torch.testing.assert_close(loss(source, target, source_weights=weights), loss(source[~labels], target))


def test_class_weights_for_prior_give_the_survey_mix():
    from galmerge.adapt.prior import class_weights_for_prior

    labels = torch.tensor([1, 1, 0, 0, 0, 1, 0, 0])  # 3/8 mergers
    weights = class_weights_for_prior(labels, target_prior=0.02)
    share = weights[labels == 1].sum() / weights.sum()
    assert float(share) == pytest.approx(0.02)
    assert float(weights.mean()) == pytest.approx(1.0)


def test_weighted_domain_loss_with_unit_weights_is_unchanged():
    from galmerge.adapt.adversarial import DomainAdversarialLoss

    torch.manual_seed(1)
    loss = DomainAdversarialLoss(6).eval()
    source, target = torch.randn(10, 6), torch.randn(12, 6)
    plain, _ = loss(source, target)
    weighted, _ = loss(source, target, source_weights=torch.full((10,), 3.0))
    torch.testing.assert_close(plain, weighted)


def test_the_domain_classifier_width_is_an_option():
    from galmerge.adapt.registry import DANNOptions, build_loss_terms
    from galmerge.training.config import TrainConfig

    def widths(config):
        (term,) = build_loss_terms(config.adaptation, feature_dim=2592).values()
        return [layer.out_features for layer in term.loss.classifier.modules() if isinstance(layer, torch.nn.Linear)]

    assert widths(TrainConfig.from_dict({"method": "dann", "dann_hidden": 1024})) == [1024, 1024, 1]  # as --dann-hidden 1024 gives it
    assert widths(TrainConfig.from_dict({"method": "dann"})) == [256, 256, 1] == [DANNOptions().hidden] * 2 + [1]
    with pytest.raises(ConfigError, match="dann_hidden"):
        DANNOptions(hidden=0)
