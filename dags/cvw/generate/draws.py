"""Small vectorised draws and group helpers shared by the simulation and the bad rows."""

from __future__ import annotations

import numpy as np

from cvw.generate.window import DAY


def choice(rng: np.random.Generator, probs, size: int) -> np.ndarray:
    """Vectorised categorical draw (indices) from one probability vector."""
    cum = np.cumsum(np.asarray(probs, dtype=float))
    cum /= cum[-1]
    return np.minimum(np.searchsorted(cum, rng.random(size), side="right"), len(cum) - 1)


def choice_by_type(rng: np.random.Generator, probs_by_type: dict, is_b2b: np.ndarray) -> np.ndarray:
    """Categorical draw whose probabilities depend on B2C/B2B."""
    u = rng.random(len(is_b2b))
    out = np.empty(len(is_b2b), dtype=np.int64)
    for flag, key in ((False, "B2C"), (True, "B2B")):
        cum = np.cumsum(probs_by_type[key])
        cum /= cum[-1]
        m = is_b2b == flag
        out[m] = np.minimum(np.searchsorted(cum, u[m], side="right"), len(cum) - 1)
    return out


def time_of_day(rng: np.random.Generator, n: int, lo_h: float, hi_h: float, mean_h: float, sd_h: float) -> np.ndarray:
    """Time of day in seconds, clipped normal around mean_h."""
    h = np.clip(rng.normal(mean_h, sd_h, n), lo_h, hi_h)
    return np.minimum((h * 3600).astype(np.int64), DAY - 1)


def group_starts(counts: np.ndarray) -> np.ndarray:
    """Start offset of each group in a flat array of groups of the given sizes."""
    return (np.cumsum(counts) - counts).astype(np.int64)


def within_group_index(group_starts_repeated: np.ndarray) -> np.ndarray:
    """0, 1, ... within each group, given each element's group start."""
    return np.arange(len(group_starts_repeated)) - group_starts_repeated
