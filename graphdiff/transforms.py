"""Value transforms a plan entry may record: cast, reshape, grow (plan.Transform).

`transformed_spec(spec, transforms)` is what the source's dtype and shape become, for checking
a plan against its files before anything is written; `apply_transforms(value, transforms,
initial)` changes a value (numpy) on its way into the new variable. `initial()` gives the new
variable's own initial value, which grow fills in around the copied block.

    >>> apply_transforms(np.arange(6.0), (Transform("reshape", (2, 3)),), None).shape
    (2, 3)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graphdiff.loading import TensorSpec
from graphdiff.plan import Transform


def transforms_for(variable, spec: TensorSpec) -> tuple[Transform, ...]:
    """What turns `spec` into `variable` (a matcher already judged it allowed): cast, then
    reshape (dimensions split or merged) or grow."""
    from graphdiff.match.core import refines

    changes = []
    if variable.dtype != spec.dtype:
        changes.append(Transform("cast", dtype=variable.dtype))
    shape = variable.shape
    if shape is not None and None not in shape and tuple(shape) != tuple(spec.shape):
        kind = "reshape" if refines(shape, spec.shape) else "grow"
        changes.append(Transform(kind, shape=tuple(shape)))
    return tuple(changes)


def transformed_spec(spec: TensorSpec, transforms) -> TensorSpec:
    dtype, shape = spec.dtype, tuple(spec.shape)
    for transform in transforms:
        if transform.kind == "cast":
            dtype = transform.dtype
        else:
            shape = tuple(transform.shape)
    return TensorSpec(dtype, shape)


def apply_transforms(
    value: np.ndarray, transforms, initial: Callable[[], np.ndarray] | None
) -> np.ndarray:
    """`value` after each transform in turn (reshape keeps the element order, C order)."""
    for transform in transforms:
        if transform.kind == "cast":
            value = value.astype(numpy_dtype(transform.dtype))
        elif transform.kind == "reshape":
            value = value.reshape(transform.shape)
        elif transform.kind == "grow":
            value = grown(value, tuple(transform.shape), initial())
        else:
            raise ValueError(f"unknown transform {transform.kind!r}")
    return value


def grown(value: np.ndarray, shape: tuple[int, ...], initial: np.ndarray) -> np.ndarray:
    """`initial` (of `shape`) with its leading block replaced by `value`'s (cut when smaller)."""
    out = np.array(initial, dtype=value.dtype, copy=True).reshape(shape)
    block = tuple(slice(0, min(have, want)) for have, want in zip(value.shape, shape, strict=True))
    out[block] = value[block]
    return out


def grows(entry) -> bool:
    return any(t.kind == "grow" for t in entry.transforms)


def restored_value(source, entry, initial=None) -> np.ndarray:
    """The value a restore entry puts into its variable: its source's, transformed."""
    return apply_transforms(source.array(entry.stored_key), entry.transforms, initial)


def numpy_dtype(name: str):
    from graphdiff.tf_import import tensorflow

    return tensorflow().dtypes.as_dtype(name).as_numpy_dtype


def describe(transform: Transform) -> str:
    if transform.kind == "cast":
        return f"cast to {transform.dtype}"
    what = "reshaped" if transform.kind == "reshape" else "grown (leading block copied)"
    return f"{what} to {list(transform.shape)}"
