"""docs/backtest-assumptions.md states the defaults the code uses (the README quotes it)."""

from __future__ import annotations

import re
from pathlib import Path

from fyerstrade.backtest.engine import BacktestConfig
from fyerstrade.domain import OrderType
from fyerstrade.trading import fills, session
from fyerstrade.trading.engine import SIZING_HEADROOM

DOC = Path(__file__).resolve().parents[2] / "docs" / "backtest-assumptions.md"


def doc_text() -> str:
    """The document as one line of plain words (markup and line breaks removed)."""
    return " ".join(DOC.read_text(encoding="utf-8").replace("**", "").split())


def defaults() -> dict[str, object]:
    return {name: f.default for name, f in BacktestConfig.model_fields.items()}


def test_stated_times_are_the_code_defaults() -> None:
    text = doc_text()
    d = defaults()
    start, end = re.search(r"entry window (\d\d:\d\d)–(\d\d:\d\d)", text).groups()  # type: ignore[union-attr]
    assert (start, end) == (f"{d['entry_start']:%H:%M}", f"{d['entry_end']:%H:%M}")
    assert (start, end) == (
        f"{session.DEFAULT_ENTRY_START:%H:%M}",
        f"{session.DEFAULT_ENTRY_END:%H:%M}",
    )
    (sq,) = re.search(r"squared off at (\d\d:\d\d)", text).groups()  # type: ignore[union-attr]
    assert sq == f"{d['square_off']:%H:%M}" == f"{session.DEFAULT_SQUARE_OFF:%H:%M}"
    assert f"open of the first bar at or after {sq}" in text
    (lev,) = re.search(r"intraday leverage \(default (\d+)×\)", text).groups()  # type: ignore[union-attr]
    assert float(lev) == d["intraday_leverage"]
    assert f"{SIZING_HEADROOM:.0%} headroom" in text


def test_stated_fill_rules_are_the_code_rules() -> None:
    text = doc_text()
    for phrase in (
        "next bar's open",
        "stop is assumed first",
        "gaps through",
        "market orders first, then stops, then limits",
        "lot size in force on that day",
        "rounded to the instrument's tick size",
    ):
        assert phrase in text, phrase
    order = sorted(fills.PRIORITY, key=fills.PRIORITY.__getitem__)
    assert [o.value for o in order][:2] == ["MARKET", "STOP"]
    assert fills.PRIORITY[OrderType.STOP] < fills.PRIORITY[OrderType.LIMIT]
    assert "Default 0" in text and defaults()["slippage_ticks"] == 0.0
