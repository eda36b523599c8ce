"""Stratified train/validation/test splits, fixed by a seed and saved with the run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galmerge.errors import CheckpointError, ConfigError, LabelError

__all__ = ["Split", "stratified_split"]

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """Disjoint index arrays into one ImageSet.

    Attributes
    ----------
    train, val, test : ndarray of int64
        Sorted row indices.
    seed : int
    fractions : tuple of float
        Requested (train, val, test) fractions.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    seed: int
    fractions: tuple[float, float, float]

    def __post_init__(self):
        sets = [set(map(int, getattr(self, name))) for name in SPLIT_NAMES]
        if sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2]:
            raise ValueError("train, validation and test indices overlap")

    def indices(self, name: str) -> np.ndarray:
        if name not in SPLIT_NAMES:
            raise KeyError(f"unknown split {name!r}; choose one of {SPLIT_NAMES}")
        return getattr(self, name)

    def save(self, path, **extra_arrays) -> None:
        """Write the indices (and any extra arrays, e.g. image hashes) to a ``.npz`` file."""
        np.savez(
            path,
            train=self.train,
            val=self.val,
            test=self.test,
            seed=self.seed,
            fractions=np.asarray(self.fractions),
            **extra_arrays,
        )

    @classmethod
    def load(cls, path) -> "Split":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(
                    train=data["train"], val=data["val"], test=data["test"],
                    seed=int(data["seed"]), fractions=tuple(float(f) for f in data["fractions"]),
                )
        except (OSError, KeyError, ValueError) as error:
            raise CheckpointError(f"{path}: not a readable split file ({error})") from None


def stratified_split(labels, *, fractions=(0.7, 0.1, 0.2), seed: int = 0, n_images: int | None = None) -> Split:
    """Split row indices into train/validation/test, keeping the class balance in each part.

    Parameters
    ----------
    labels : array of 0/1, or None
        Per-image labels; ``None`` gives a plain random split of ``n_images`` rows.
    fractions : (float, float, float)
        Train, validation and test fractions; they must sum to 1. A test fraction of 0 is
        allowed (train on everything but the validation part).
    seed : int
        Same seed and labels, same split.

    Raises
    ------
    LabelError
        If a class has too few images to put at least one in the training and validation parts.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6 or fractions[0] == 0:
        raise ConfigError(f"split fractions must be three non-negative numbers summing to 1 with train > 0, got {fractions}")
    rng = np.random.default_rng(seed)
    if labels is None:
        groups = [np.arange(n_images)]
    else:
        labels = np.asarray(labels)
        groups = [np.flatnonzero(labels == value) for value in (0, 1)]
    parts = {name: [] for name in SPLIT_NAMES}
    cumulative = np.cumsum(fractions)
    for value, group in enumerate(groups):
        members = rng.permutation(group)
        n = len(members)
        cuts = np.round(cumulative[:2] * n).astype(int)
        if labels is not None and fractions[1] > 0 and (cuts[0] < 1 or cuts[1] - cuts[0] < 1):
            raise LabelError(
                f"class {value} has only {n} image(s): too few to place at least one in the training and validation splits"
            )
        parts["train"].append(members[: cuts[0]])
        parts["val"].append(members[cuts[0] : cuts[1]])
        parts["test"].append(members[cuts[1] :])
    return Split(
        *(np.sort(np.concatenate(parts[name])).astype(np.int64) for name in SPLIT_NAMES),
        seed=seed,
        fractions=fractions,
    )
