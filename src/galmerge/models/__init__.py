"""Networks: the DeepMerge CNN, ResNet18, a registry by name, and saved trained models."""

from galmerge.models.deepmerge import DeepMerge
from galmerge.models.registry import available_models, build_model, default_input_size
from galmerge.models.resnet import ResNet18, load_torchvision_weights
from galmerge.models.trained import MODEL_FILENAME, ModelSpec, TrainedModel, load_state_dict_file

__all__ = [
    "DeepMerge",
    "MODEL_FILENAME",
    "ModelSpec",
    "ResNet18",
    "TrainedModel",
    "available_models",
    "build_model",
    "default_input_size",
    "load_state_dict_file",
    "load_torchvision_weights",
]
