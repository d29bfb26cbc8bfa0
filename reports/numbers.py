"""Numbers as a reader sees them: plain digits with thousands separators and a unit, never '1.91e+03'."""
from __future__ import annotations

import math

__all__ = ['significant', 'duration', 'count', 'tick']


def significant(value: float, digits: int = 3) -> str:
    """`value` to `digits` significant digits in plain notation, with thousands separators.

    Python's 'g' format switches to exponents from 1000 on at 3 digits, which a timing label should never show.

    Example:
        >>> significant(1912.4), significant(0.012345), significant(99.96), significant(0)
        ('1,910', '0.0123', '100', '0')
    """
    if value is None or not math.isfinite(value):
        return '—'
    if value == 0:
        return '0'
    magnitude = math.floor(math.log10(abs(value)))
    rounded = round(value, digits - 1 - magnitude)
    if rounded != 0:  # rounding can add a digit (99.96 -> 100.0): count the digits of the rounded value
        magnitude = math.floor(math.log10(abs(rounded)))
    decimals = max(0, digits - 1 - magnitude)
    return f'{round(rounded, digits - 1 - magnitude):,.{decimals}f}'


def duration(ms: float) -> str:
    """A time in milliseconds as a label: milliseconds below one second, seconds from there on.

    Example:
        >>> duration(0.4567), duration(45.67), duration(1912.0), duration(2_345_678.0)
        ('0.457 ms', '45.7 ms', '1.91 s', '2,346 s')
    """
    if ms is None or not math.isfinite(ms):
        return '—'
    if float(significant(abs(ms)).replace(',', '')) < 1000:
        return f'{significant(ms)} ms'
    seconds = ms / 1000
    return f'{significant(seconds)} s' if abs(seconds) < 1000 else f'{seconds:,.0f} s'


def count(value: float, unit: str = '') -> str:
    """A count with an SI prefix and 3 significant digits: 1234 -> '1.23 k', 5.5e9 FLOPs -> '5.5 GFLOPs'.

    Example:
        >>> count(1234), count(5.5e9, 'FLOPs'), count(999_999), count(12)
        ('1.23 k', '5.5 GFLOPs', '1 M', '12')
    """
    if value is None or not math.isfinite(value):
        return '—'
    for scale, prefix in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'k')):
        # Compare after rounding, so 999,999 is '1 M' rather than '1,000 k'.
        if abs(float(significant(value / scale * 1000).replace(',', ''))) >= 1000:
            return f'{_trim(significant(value / scale))} {prefix}{unit}'
    return f'{_trim(significant(value)) if abs(value) < 1 else f"{value:,.0f}"}{" " + unit if unit else ""}'


def tick(value: float) -> str:
    """An axis tick: plain digits, no trailing zeros.

    Example:
        >>> tick(1.0), tick(10.0), tick(1000.0), tick(0.1), tick(2.5e4)
        ('1', '10', '1,000', '0.1', '25,000')
    """
    return _trim(significant(value))


def _trim(text: str) -> str:
    """'5.50' -> '5.5', '1.00' -> '1': trailing zeros after the point say nothing in a count."""
    return text.rstrip('0').rstrip('.') if '.' in text else text
