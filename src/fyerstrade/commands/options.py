"""Option parsing and option declarations shared by several commands (kept light to import)."""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Annotated

import typer

from fyerstrade.errors import InputError

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

#: ``--assume-weekdays``: dates past the published NSE holiday lists count as plain weekdays.
AssumeWeekdays = Annotated[
    bool,
    typer.Option(
        "--assume-weekdays",
        help="Treat dates past the published NSE holiday lists as plain weekdays.",
    ),
]


def parse_date(text: str, option: str) -> date:
    """``YYYY-MM-DD`` → date; anything else fails naming the option and the expected form."""
    try:
        if not _ISO_DATE.fullmatch(text.strip()):
            raise ValueError(text)
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"{option} {text!r} is not a date; use YYYY-MM-DD, e.g. 2024-01-31"
        ) from None


def finite(ctx: typer.Context, param: typer.CallbackParam, value: float | None) -> float | None:
    """Option callback: ``nan`` and infinities are not numbers a user meant (Typer accepts
    them as floats); one line naming the option."""
    if value is not None and not math.isfinite(value):
        name = param.opts[0] if param.opts else param.name
        raise InputError(f"{name} must be a finite number, got {value}")
    return value
