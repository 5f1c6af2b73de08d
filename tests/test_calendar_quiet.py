"""Loading the symbol master (as every demo start does) says nothing about 2027's holiday list
on 2 December 2026 (issue 13.7): the simulator and the master look ahead for expiries, which is
not a range anyone asked for."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fyerstrade.demo import DemoOptions, demo_settings, login_to_simulator
from fyerstrade.store.db import open_historical
from plugins.sim import start_sim

DEC_2 = int(datetime(2026, 12, 2, 16, 0, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp())


def test_symbol_load_does_not_warn_about_next_years_holidays(tmp_path: Path) -> None:
    from fyerstrade.data.symbols import refresh_symbol_master

    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    sim = start_sim(now=DEC_2)  # the simulator's market on 2 December 2026
    try:
        options = DemoOptions(data_dir=tmp_path / "data", log_dir=tmp_path / "logs",
                              symbols=("NSE:SBIN-EQ",), months=1, open_browser=False)  # fmt: skip
        settings = demo_settings(options, sim.url)
        login_to_simulator(settings)
        handler = Collect(level=logging.WARNING)
        for name in ("fyerstrade", "fyerstrade.calendar"):
            logging.getLogger(name).addHandler(handler)
        try:
            counts = refresh_symbol_master(settings)
        finally:
            for name in ("fyerstrade", "fyerstrade.calendar"):
                logging.getLogger(name).removeHandler(handler)
    finally:
        sim.stop()
    assert sum(counts.values()) > 50
    conn = open_historical(settings)
    try:
        (last_expiry,) = conn.execute("SELECT MAX(expiry) FROM symbol_master").fetchone()
    finally:
        conn.close()
    assert datetime.fromtimestamp(last_expiry, ZoneInfo("Asia/Kolkata")).year == 2027  # looks ahead
    assert [r.getMessage() for r in records if "holiday" in r.getMessage()] == []
