"""Facts about TensorFlow dtype names as the plan records them, without importing TensorFlow."""

from __future__ import annotations

import functools
import re

_ITEMSIZE = {"bool": 1, "string": 0, "resource": 0, "variant": 0}
_BITS = re.compile(r"(\d+)")  # the first digits: float8_e4m3fn is 8 bits


@functools.cache
def itemsize(dtype: str) -> int:
    """Bytes per element of a dtype name ('float32' -> 4, 'bfloat16' -> 2, 'complex64' -> 8,
    'float8_e4m3fn' -> 1); 0 when it has no fixed size (strings, resources)."""
    if dtype in _ITEMSIZE:
        return _ITEMSIZE[dtype]
    bits = _BITS.search(dtype)
    return max(1, int(bits.group(1)) // 8) if bits else 0  # int4: a byte each
