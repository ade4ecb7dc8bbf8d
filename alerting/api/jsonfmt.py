"""How Go's encoders print times and sample values, so our JSON matches Prometheus's byte for byte."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def rfc3339(ts: float | None) -> str:
    """Go's time.Time JSON form (RFC 3339 with trailing zeros of the fraction dropped)."""
    if ts is None:
        return "0001-01-01T00:00:00Z"
    moment = datetime.fromtimestamp(ts, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def sample_value(value: float) -> str:
    """strconv.FormatFloat(v, 'e', -1, 64), as Prometheus's rules API prints alert values."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = next(
        (t for digits in range(17) if float(t := f"{value:.{digits}e}") == value),
        f"{value:.16e}",
    )  # the shortest mantissa that round-trips, as Go's precision -1 chooses
    mantissa, exp = text.split("e")
    return f"{mantissa}e{exp[0]}{exp[1:].lstrip('0').rjust(2, '0')}"
