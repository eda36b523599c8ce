"""Networks: the DeepMerge CNN, ResNet18, a registry by name, and saved trained models.

Names are imported on first use, so the registry of model names loads without torch.
"""

from galmerge import lazy_exports

_LAZY = {
    "DeepMerge": "galmerge.models.deepmerge",
    "ResNet18": "galmerge.models.resnet",
    "load_torchvision_weights": "galmerge.models.resnet",
    "available_models": "galmerge.models.registry",
    "build_model": "galmerge.models.registry",
    "default_input_size": "galmerge.models.registry",
    "MODEL_FILENAME": "galmerge.models.trained",
    "ModelSpec": "galmerge.models.trained",
    "Prediction": "galmerge.models.trained",
    "TrainedModel": "galmerge.models.trained",
    "load_state_dict_file": "galmerge.models.trained",
    "TorchBackend": "galmerge.models.inference",
}

__getattr__, __all__ = lazy_exports(__name__, _LAZY)
