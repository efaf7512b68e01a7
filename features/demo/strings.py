"""Text columns built with Arrow compute kernels: picks from option lists, row-wise joins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_T = TypeVar("_T")


def strings(options: Sequence[str | None], index: np.ndarray) -> pa.Array:
    """``options[index]`` as an Arrow string array; index -1 and None options give nulls."""
    table = pa.array([o or None for o in options], type=pa.string())
    return table.take(pa.array(index, mask=index < 0))


def concat(*parts: Any, sep: str = "", skip_nulls: bool = False) -> pa.Array:
    """Row-wise concatenation of Arrow string arrays and plain strings."""
    handling = "skip" if skip_nulls else "emit_null"
    return pc.binary_join_element_wise(*parts, sep, null_handling=handling)


def only(values: pa.Array, keep: np.ndarray) -> pa.Array:
    """``values`` where ``keep``, null elsewhere."""
    return pc.if_else(pa.array(keep), values, pa.scalar(None, pa.string()))


def digits(rng: np.random.Generator, width: int, n: int) -> pa.Array:
    """``n`` random numbers of ``width`` digits (leading zeros kept)."""
    numbers = pc.cast(pa.array(rng.integers(0, 10**width, size=n)), pa.string())
    return pc.utf8_lpad(numbers, width=width, padding="0")


def grouped_pick(
    rng: np.random.Generator, groups: Sequence[Sequence[_T]], group: np.ndarray
) -> tuple[list[_T], np.ndarray]:
    """A uniform pick inside each row's group: (the flat option list, an index into it)."""
    counts = np.array([len(g) for g in groups])
    offsets = np.r_[0, np.cumsum(counts)[:-1]]
    flat = [option for g in groups for option in g]
    pick = (rng.random(len(group)) * counts[group]).astype(np.int64)
    return flat, offsets[group] + pick
