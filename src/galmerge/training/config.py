"""Training configuration: defaults, a TOML file, then command-line options, in that order."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path

from galmerge.errors import ConfigError
from galmerge.tomlfiles import read_toml


__all__ = ["TrainConfig", "LR_SCHEDULES", "CLASS_WEIGHTINGS", "MONITOR_MODES"]

LR_SCHEDULES = ("one-cycle", "deepmerge-cycle", "constant")
CLASS_WEIGHTINGS = ("balanced", "none")
MONITORS = ("val_roc_auc", "val_accuracy", "val_loss", "target_entropy", "target_im", "domain_confusion")
MONITOR_MODES = {"val_roc_auc": "max", "val_accuracy": "max", "val_loss": "min", "target_entropy": "min", "target_im": "max", "domain_confusion": "min"}


@dataclass
class TrainConfig:
    """Everything that decides a supervised training run.

    Defaults follow DeepMerge II where it made a choice (Adam with betas 0.7/0.8, batch 128,
    70/10/20 split, learning rate 1e-3 with a cycle starting at lr/10) and otherwise what an
    astronomer would expect.

    Attributes
    ----------
    model : {"deepmerge", "resnet18"}
    input_size : int or None
        Network input side in pixels; ``None`` is the model's default (75).
    crop_fraction : float
        Central fraction of each image kept before resizing to ``input_size``.
    stretch : {"none", "asinh"}
    asinh_scale : float or None
        Softening of the asinh stretch in image units (``None``: fitted on the training split).
    epochs : int
        Maximum number of passes over the training split.
    batch_size : int
    lr : float
        Peak learning rate of the schedule.
    weight_decay : float
        L2 penalty added by Adam to every parameter (coupled, as in DeepMerge II).
    adam_betas : (float, float)
    lr_schedule : {"one-cycle", "deepmerge-cycle", "constant"}
        ``one-cycle``: one cosine rise from lr/10 to lr over the first 30 % of all steps, then cosine
        annealing to lr/1000 (Smith's one-cycle). ``deepmerge-cycle``: DeepMerge II's repeating triangle between
        lr/10 and lr with a period of 0.9 x ``cycle_epochs``. ``constant``.
    cycle_epochs : float
        Cycle length of ``deepmerge-cycle``, in epochs.
    head_lr_multiplier : float or None
        Learning-rate factor of the classification head (``None``: the model's default, 10 for
        ResNet18's bottleneck and classifier as in DeepMerge II, 1 for DeepMerge).
    class_weighting : {"balanced", "none"}
        ``balanced`` weighs the cross-entropy of each class by N / (2 N_class) of the training
        split, so a rare class counts as much as a common one in the loss.
    augment : bool
        Random dihedral transforms (flips and 90-degree rotations) of each training image.
    early_stopping_patience : int
        Epochs without a lower validation loss before stopping; 0 disables early stopping.
    monitor : {"val_roc_auc", "val_accuracy", "val_loss", "target_entropy", "target_im", "domain_confusion"}
        What picks the saved (best) checkpoint: a source-validation metric, or, with a target
        set, a label-free target criterion (:mod:`galmerge.adapt.selection`): lowest prediction
        entropy, highest information maximisation, or domain-probe accuracy closest to 0.5.
        Target labels are never used.
    split : (float, float, float)
        Train, validation and test fractions of the source set (stratified).
    target_recall : float
        Recall the second decision threshold is chosen to reach (on the validation split).
    seed : int
        Fixes the split, initialisation, data order and augmentation.
    n_bootstrap : int
        Bootstrap resamples for metric intervals.
    accelerator, devices : str
        Passed to Lightning (``"auto"``: a GPU when there is one).
    precision : str
        Lightning precision (``"32-true"``, ``"bf16-mixed"``, ...).
    channels_last : bool
        Feed NHWC tensors; faster on CPU for these small-channel CNNs.
    method : {"none", "mmd", "dann", "coral"}
        Domain adaptation (needs a target set): maximum mean discrepancy, adversarial (DANN),
        Deep CORAL, or none.
    transfer_weight : float
        Weight (lambda) of the transfer loss.
    mmd_bandwidths : {"deepmerge", "median"}
        DeepMerge II's 19 fixed kernel widths, or the median heuristic.
    mmd_estimator : {"biased", "unbiased"}
    dann_ramp : bool
        Ganin et al.'s 2/(1+exp(-10 p))-1 ramp of the reversed gradient (DeepMerge II: off).
    dann_lr_multiplier : float
        Learning-rate factor of the domain classifier (DeepMerge II's default 0.1).
    fisher : bool
        Add the Fisher loss on the source features.
    fisher_form : {"tr", "td"}
        Trace ratio or trace difference.
    fisher_w_intra, fisher_w_inter : float
        Its weights (default 0.01 and 1, DeepMerge II's tuned values). The intra-class term here
        is a mean over the batch where the reference summed it, so 0.01 is ~128x gentler than
        the reference's; the literal translation (w_intra = 1) was unstable on sim2sim.
    fisher_lr_multiplier : float
        Learning-rate factor of the class centres (DeepMerge II: 10).
    entropy : bool
        Add entropy minimisation on source and target predictions.
    entropy_weight : float
        Its weight (DeepMerge II's examples: 0.05).
    """

    model: str = "deepmerge"
    input_size: int | None = None
    crop_fraction: float = 1.0
    stretch: str = "none"
    asinh_scale: float | None = None
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    adam_betas: tuple = (0.7, 0.8)
    lr_schedule: str = "one-cycle"
    cycle_epochs: float = 8.0
    head_lr_multiplier: float | None = None
    class_weighting: str = "balanced"
    augment: bool = True
    early_stopping_patience: int = 10
    monitor: str = "val_roc_auc"
    split: tuple = (0.7, 0.1, 0.2)
    target_recall: float = 0.9
    seed: int = 0
    n_bootstrap: int = 1000
    accelerator: str = "auto"
    devices: int | str = "auto"
    precision: str = "32-true"
    channels_last: bool = True
    method: str = "none"
    transfer_weight: float = 1.0
    mmd_bandwidths: str = "deepmerge"
    mmd_estimator: str = "biased"
    dann_ramp: bool = True
    dann_lr_multiplier: float = 0.1
    fisher: bool = False
    fisher_form: str = "tr"
    fisher_w_intra: float = 0.01
    fisher_w_inter: float = 1.0
    fisher_lr_multiplier: float = 10.0
    entropy: bool = False
    entropy_weight: float = 0.05

    def __post_init__(self):
        self.adam_betas = tuple(float(b) for b in self.adam_betas)
        self.split = tuple(float(f) for f in self.split)
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError for any value out of range."""
        from galmerge.models.registry import available_models

        checks = [
            (self.model in available_models(), f"model must be one of {available_models()}, got {self.model!r}"),
            (self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}"),
            (self.class_weighting in CLASS_WEIGHTINGS, f"class_weighting must be one of {CLASS_WEIGHTINGS}"),
            (self.monitor in MONITORS, f"monitor must be one of {MONITORS}, got {self.monitor!r}"),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 2, f"batch_size must be >= 2 (BatchNorm needs 2 images), got {self.batch_size}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"),
            (len(self.adam_betas) == 2 and all(0 <= b < 1 for b in self.adam_betas), f"adam_betas must be two numbers in [0, 1), got {self.adam_betas}"),
            (self.cycle_epochs > 0, f"cycle_epochs must be > 0, got {self.cycle_epochs}"),
            (0 < self.target_recall <= 1, f"target_recall must be in (0, 1], got {self.target_recall}"),
            (self.early_stopping_patience >= 0, "early_stopping_patience must be >= 0"),
            (self.n_bootstrap >= 0, "n_bootstrap must be >= 0"),
            (self.input_size is None or self.input_size >= 8, f"input_size must be >= 8 px, got {self.input_size}"),
            (self.method in ("none", "mmd", "dann", "coral"), f"method must be none, mmd, dann or coral, got {self.method!r}"),
            (self.mmd_bandwidths in ("deepmerge", "median"), f"mmd_bandwidths must be 'deepmerge' or 'median', got {self.mmd_bandwidths!r}"),
            (self.mmd_estimator in ("biased", "unbiased"), f"mmd_estimator must be 'biased' or 'unbiased', got {self.mmd_estimator!r}"),
            (self.fisher_form in ("tr", "td"), f"fisher_form must be 'tr' or 'td', got {self.fisher_form!r}"),
            (self.fisher_w_intra >= 0 and self.fisher_w_inter >= 0 and self.fisher_w_intra + self.fisher_w_inter > 0, "Fisher weights must be >= 0 and not both 0"),
            (self.transfer_weight >= 0 and self.entropy_weight >= 0, "loss weights must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    # ------------------------------------------------------------------ files
    @classmethod
    def from_toml(cls, path, **overrides) -> "TrainConfig":
        """Read a TOML file of ``key = value`` lines (a ``[train]`` table is also accepted)."""
        values = read_toml(path)
        values = dict(values.get("train", values))
        values.pop("run", None)  # provenance written by write_toml, not an option
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values, source=str(path))

    @classmethod
    def from_dict(cls, values: dict, *, source: str = "configuration") -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        try:
            return cls(**values)
        except TypeError as error:
            raise ConfigError(f"{source}: {error}") from None

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["adam_betas"] = list(self.adam_betas)
        values["split"] = list(self.split)
        return values

    def write_toml(self, path, *, header: dict | None = None) -> None:
        """Write the resolved configuration; ``header`` adds a ``[run]`` table (data, versions)."""
        import tomli_w

        values = {k: v for k, v in self.to_dict().items() if v is not None}
        if header:
            values["run"] = {k: v for k, v in header.items() if v is not None}
        Path(path).write_text(tomli_w.dumps(values))
