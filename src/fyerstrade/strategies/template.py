"""``fyerstrade strategy new NAME``: a working strategy file to start from.

The template is the complete example of ``docs/strategies.md`` (a test holds the two to the same
text), so what the guide explains is exactly what the command writes, and both run.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from fyerstrade.errors import InputError

__all__ = ["TEMPLATE", "class_name", "render_template", "write_template"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")

TEMPLATE = '''\
"""{name}: long when the RSI crosses up through `low`, flat when it crosses down through `high`."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import talib

from fyerstrade.candles import CandleArrays
from fyerstrade.strategies.base import Param, Strategy
from fyerstrade.trading.context import Context


class {cls}(Strategy):
    name = "{name}"
    description = "Long on an RSI cross up through low, flat on a cross down through high."
    params = (
        Param("period", int, 14, min=2, max=100, step=1, help="RSI length in bars"),
        Param("low", float, 30.0, min=1, max=50, step=1, help="buy when the RSI crosses up"),
        Param("high", float, 70.0, min=50, max=99, step=1, help="sell when the RSI crosses down"),
    )
    # how each indicator is drawn: "overlay" (on the price), "panel" (its own panel), "none"
    plots = {{"rsi": "panel"}}

    # the validated parameters arrive as attributes (self.period), typed here for your editor
    period: int
    low: float
    high: float

    def indicators(self, bars: CandleArrays) -> Mapping[str, np.ndarray]:
        # once per symbol, over all its bars; the strategy sees them only up to the current bar
        return {{"rsi": talib.RSI(bars.close, timeperiod=self.period)}}

    def on_data(self, ctx: Context) -> None:
        for symbol in ctx.updated:  # the symbols with a new bar now
            rsi = ctx.indicator(symbol, "rsi")
            if ctx.qty(symbol) == 0 and rsi.crossed_above(self.low):
                ctx.buy(symbol)  # market order, sized by free margin; fills at the next open
            elif ctx.qty(symbol) > 0 and rsi.crossed_below(self.high):
                ctx.close(symbol)
'''


def class_name(name: str) -> str:
    """``my_rsi`` → ``MyRsi``."""
    return "".join(part.capitalize() for part in name.split("_") if part) or "MyStrategy"


def render_template(name: str) -> str:
    """The template for a strategy called ``name`` (checked: lower_case, a valid identifier)."""
    if not _NAME.fullmatch(name) or keyword.iskeyword(name):
        raise InputError(
            f"strategy name {name!r} must be lower_case letters, digits and _, starting with a "
            "letter (e.g. my_rsi)"
        )
    return TEMPLATE.format(name=name, cls=class_name(name))


def write_template(name: str, folder: Path) -> Path:
    """Write ``folder/NAME.py`` (the folder is created); never overwrites a file."""
    text = render_template(name)
    path = folder / f"{name}.py"
    if path.exists():
        raise InputError(f"{path} already exists; pick another name or edit that file")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
