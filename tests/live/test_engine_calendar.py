"""The live engine on a day past the published NSE holiday lists: refused before anything is
opened, with what to do for live trading (the year's real sessions; ``--assume-weekdays`` is a
backtest and fetch option, not a live one)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from datetime import time as dtime
from pathlib import Path

import pytest

from fyerstrade.calendar import get_calendar, ist_epoch
from fyerstrade.config import load_settings
from fyerstrade.errors import EngineError, FyersTradeError
from fyerstrade.live.clock import ManualClock
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.engine import LiveEngine


def test_a_day_past_the_published_holiday_lists_is_refused_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paper_config: Callable[..., LiveConfig]
) -> None:
    monkeypatch.setenv("FYERSTRADE_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings(env_file=None)
    weekdays = get_calendar(assume_weekdays=True)
    year = weekdays.library_end.year + 1
    day = weekdays.next_trading_day(date(year - 1, 12, 31))
    engine = LiveEngine(settings, paper_config(), clock=ManualClock(ist_epoch(day, dtime(9, 0))))
    with pytest.raises(EngineError) as refused:
        engine.prepare(ist_epoch(day, dtime(15, 30)))
    message = str(refused.value)
    assert message.startswith(f"the NSE holiday list for {year} is not published")
    assert f"`fyerstrade calendar init {year}`" in message
    assert "--assume-weekdays" not in message  # `live run` has no such option
    assert not settings.live_db.exists()  # refused before any store was opened

    # once the user lists the year, the day is a session: the engine goes on (to the login)
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "nse_calendar.yaml").write_text(f"years: [{year}]\n")
    with pytest.raises(FyersTradeError) as later:
        engine.prepare(ist_epoch(day, dtime(15, 30)))
    assert "holiday list" not in str(later.value)
