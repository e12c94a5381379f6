"""Counts as people read them: `9.4K params`, `37.6 MB`, `2 variables`, `1 key`."""

from __future__ import annotations


def compact(number: int) -> str:
    """9400 -> '9.4K', 23_500_000 -> '23.5M'; below 1000 the number itself."""
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "K")):
        if number >= size:
            return f"{number / size:.1f}".rstrip("0").rstrip(".") + suffix
    return str(number)


def size(nbytes: int) -> str:
    """Bytes in decimal units: 37_600 -> '37.6 KB'."""
    for scale, unit in ((10**9, "GB"), (10**6, "MB"), (10**3, "KB")):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} B"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """'1 key', '2 keys', '1 variable needs', ... (`many` when the plural is irregular)."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
