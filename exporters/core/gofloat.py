"""Numbers as Go's exporters write them."""

from __future__ import annotations

import math


def format_value(value: float) -> str:
    """Format a float as Go's ``strconv.FormatFloat(value, 'g', -1, 64)``."""
    value = float(value)
    # the common case first; NaN and the infinities are not integers
    if value.is_integer() and -1e6 < value < 1e6:
        return str(int(value))  # Go writes any zero, -0 included, as "0"
    if 1e-4 <= abs(value) < 1e6:
        # both use fixed notation with the shortest round-tripping digits here
        return repr(value)
    if value != value:
        return "NaN"
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if value.is_integer() and -1e6 < value < 1e6:
        return str(int(value))  # Go writes any zero, -0 included, as "0"
    text = repr(value)
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text) if exp_text else 0
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    # decimal point position relative to the first significant digit
    point = len(whole) + exponent if whole.strip("0") else exponent - (len(frac) - len(frac.lstrip("0")))
    digits = digits.rstrip("0") or "0"
    exp10 = point - 1
    sign = "-" if negative else ""
    if exp10 < -4 or exp10 >= 6:
        # %e form: d[.ddd]e±XX
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        esign = "-" if exp10 < 0 else "+"
        return f"{sign}{body}e{esign}{abs(exp10):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * (-point)}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"
