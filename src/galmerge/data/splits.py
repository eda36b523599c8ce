"""Stratified train/validation/test splits, fixed by a seed and saved with the run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galmerge.errors import CheckpointError, ConfigError, LabelError

__all__ = ["Split", "stratified_split", "choosing_part", "CHOOSING_MODULUS"]

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
                    train=data["train"],
                    val=data["val"],
                    test=data["test"],
                    seed=int(data["seed"]),
                    fractions=tuple(float(f) for f in data["fractions"]),
                )
        except (OSError, KeyError, ValueError) as error:
            raise CheckpointError(f"{path}: not a readable split file ({error})") from None


def stratified_split(labels, *, fractions=(0.7, 0.1, 0.2), seed: int = 0, n_images: int | None = None, groups=None) -> Split:
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
    groups : array, optional
        A group id per row (e.g. the encounter a mock merger was rendered from): every group goes
        whole into one part, so views of one system never sit on both sides of a split. Parts
        are then filled group by group up to the requested fractions of rows.

    Raises
    ------
    LabelError
        If a class has too few images (or groups) to put at least one in the training and
        validation parts, or a group mixes labels.
    """
    if groups is not None:
        return _grouped_split(np.asarray(labels) if labels is not None else np.zeros(len(groups), np.int8), np.asarray(groups), fractions=fractions, seed=seed)
    fractions = _check_fractions(fractions)
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
            raise LabelError(f"class {value} has only {n} image(s): too few to place at least one in the training and validation splits")
        parts["train"].append(members[: cuts[0]])
        parts["val"].append(members[cuts[0] : cuts[1]])
        parts["test"].append(members[cuts[1] :])
    return Split(
        *(np.sort(np.concatenate(parts[name])).astype(np.int64) for name in SPLIT_NAMES),
        seed=seed,
        fractions=fractions,
    )


def _check_fractions(fractions) -> tuple[float, float, float]:
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6 or fractions[0] == 0:
        raise ConfigError(f"split fractions must be three non-negative numbers summing to 1 with train > 0, got {fractions}")
    return fractions


def _grouped_split(labels: np.ndarray, groups: np.ndarray, *, fractions, seed: int) -> Split:
    fractions = _check_fractions(fractions)
    names, inverse = np.unique(groups, return_inverse=True)
    group_label = np.zeros(len(names), dtype=labels.dtype)
    group_label[inverse] = labels
    mixed = np.bincount(inverse, weights=labels, minlength=len(names)) % np.bincount(inverse, minlength=len(names))
    if np.any(mixed):
        raise LabelError("a group holds both mergers and non-mergers; groups must share one label")
    rng = np.random.default_rng(seed)
    sizes = np.bincount(inverse, minlength=len(names))
    parts = {name: [] for name in SPLIT_NAMES}
    for value in (0, 1):
        members = rng.permutation(np.flatnonzero(group_label == value))
        if len(members) == 0:
            continue
        cumulative = np.cumsum(sizes[members]) / sizes[members].sum()
        cuts = np.searchsorted(cumulative, np.cumsum(fractions)[:2] - 1e-9) + 1
        if fractions[1] > 0 and (cuts[0] < 1 or cuts[1] - cuts[0] < 1 or cuts[0] >= len(members)):
            raise LabelError(f"class {value} has only {len(members)} group(s): too few to split by group")
        for name, chosen in zip(SPLIT_NAMES, np.split(members, cuts)):
            parts[name].append(chosen)
    rows = {name: np.sort(np.flatnonzero(np.isin(inverse, np.concatenate(chosen)))) for name, chosen in parts.items()}
    return Split(rows["train"].astype(np.int64), rows["val"].astype(np.int64), rows["test"].astype(np.int64), seed=seed, fractions=fractions)


CHOOSING_MODULUS = 3


def choosing_part(ids) -> np.ndarray:
    """The fixed *choosing* part of a labelled real set: True where ``sha256(str(id)) % 3 == 0``.

    When real labels choose anything (a default method, a selection criterion, a weight), only
    this third of the set may be looked at; results are quoted on the rest, the *reporting*
    part, which therefore never influenced what it reports. The rule depends on the object id
    alone, so it is the same on every machine and for every subset of the ids (on Galaxy Zoo 1's
    3,311 development images: 1,060 images with 18 mergers to choose on, 2,251 with 40 to report).
    """
    import hashlib

    return np.array([int(hashlib.sha256(str(i).encode()).hexdigest(), 16) % CHOOSING_MODULUS == 0 for i in np.asarray(ids)], dtype=bool)
