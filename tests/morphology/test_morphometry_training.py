"""Morphometry training options reach the loss, and wrong ones are refused."""

import pytest
import torch

from galmerge.errors import ConfigError
from galmerge.models.heads import gaussian_nll
from galmerge.morphology.training import NLL_BETA, MorphometryConfig, _regressor_class


def test_the_beta_nll_option_reaches_the_loss_and_is_checked():
    assert MorphometryConfig().nll_beta == NLL_BETA == 0.5
    images, targets = torch.randn(8, 1, 32, 32), torch.randn(8, 6)
    losses = {}
    for beta in (0.0, 0.5):
        torch.manual_seed(0)
        module = _regressor_class()(n_targets=6, n_extra=0, nll_beta=beta, architecture="deepmerge", in_bands=1, input_size=32).eval()
        logged: dict = {}
        module.log = lambda name, value, **options: logged.__setitem__(name, value)  # noqa: B023 (no Trainer here)
        module.log_dict = lambda values, **options: logged.update(values)  # noqa: B023
        batch = {"source": (images, targets, None)}
        losses[beta] = module.training_step(batch, 0)
        expected = gaussian_nll(*module.model.split(module.model(images)[1]), targets, beta=beta).mean()
        torch.testing.assert_close(losses[beta], expected)
        # the checkpoint is chosen by the plain NLL whatever beta trained the network
        module.validation_step(batch, 0)
        torch.testing.assert_close(logged["val_loss"], gaussian_nll(*module.model.split(module.model(images)[1]), targets).mean())
    assert not torch.isclose(losses[0.0], losses[0.5])
    for wrong in (-0.1, 1.5):
        with pytest.raises(ConfigError, match="nll_beta"):
            MorphometryConfig(nll_beta=wrong)
