"""The demo never touches a real store: a data directory holding a real account's token or data
is refused before anything starts, and a simulator login never replaces a real token."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from fyerstrade.cli import main
from fyerstrade.config import TOKEN_FILE, Settings, load_settings
from fyerstrade.demo import DemoOptions, demo_settings, fill_store, login_to_simulator
from fyerstrade.demo_guard import DEMO_MARKER
from fyerstrade.domain import Resolution
from fyerstrade.errors import InputError
from fyerstrade.fyers.tokens import TokenRecord, read_token, save_token
from fyerstrade.sim import SimServer
from fyerstrade.store.candles import upsert_candles
from fyerstrade.store.db import connect
from plugins.fyers import make_jwt
from plugins.sim import free_port
from plugins.store import make_candles

TODAY = date(2026, 11, 20)


def real_store(path: Path, *, token: bool = True, candles: bool = True) -> dict[str, str]:
    """A real account's data directory; returns the sha256 of every file in it."""
    path.mkdir(parents=True, exist_ok=True)
    if token:
        jwt = make_jwt(exp=2_000_000_000)
        save_token(
            path / TOKEN_FILE, TokenRecord(jwt, "REAL1234-100", 1_900_000_000, 2_000_000_000)
        )
    if candles:
        settings = load_settings(env_file=None, data_dir=path)
        conn = connect(settings.historical_db)
        upsert_candles(conn, "NSE:SBIN-EQ", Resolution.M1, make_candles(50))
        conn.close()
    return digests(path)


def digests(path: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.iterdir())
        if p.is_file()
    }


def demo(path: Path) -> int:
    return main(["demo", "--data-dir", str(path), "--no-browser", "--port", str(free_port())])


@pytest.mark.parametrize(
    ("token", "candles", "reason"),
    [
        (True, True, "a real Fyers account's token (app REAL1234-100)"),
        (True, False, "a real Fyers account's token (app REAL1234-100)"),
        (False, True, "files the demo did not create (historical_market_data.sqlite)"),
    ],
)
def test_demo_refuses_a_real_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], token: bool, candles: bool, reason: str
) -> None:
    store = tmp_path / "real"
    before = real_store(store, token=token, candles=candles)
    assert demo(store) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    assert f"the demo will not use {store}: it holds {reason}" in lines[0]
    assert "--data-dir" in lines[0]
    assert "simulator" not in out.out  # refused before the simulator started
    assert digests(store) == before
    assert not (store / DEMO_MARKER).exists()


def test_demo_refuses_a_damaged_token_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "x"
    store.mkdir()
    (store / TOKEN_FILE).write_bytes(b"\x00\xffnot json")
    assert demo(store) == 2
    assert "a token file it cannot read" in capsys.readouterr().err


def test_simulator_login_never_replaces_a_real_token(tmp_path: Path, sim: SimServer) -> None:
    store = tmp_path / "real"
    before = real_store(store, candles=False)
    options = DemoOptions(data_dir=store, log_dir=tmp_path / "logs", open_browser=False)
    with pytest.raises(InputError, match="holds the token of app REAL1234-100"):
        login_to_simulator(demo_settings(options, sim.url))
    assert digests(store) == before


def test_demo_dir_is_marked_and_reused(settings: Settings, tmp_path: Path, sim: SimServer) -> None:
    store = tmp_path / "demo"
    options = DemoOptions(
        data_dir=store, log_dir=tmp_path / "logs", symbols=("NSE:SBIN-EQ",), months=1,
        open_browser=False,
    )  # fmt: skip
    demo_s = demo_settings(options, sim.url)
    fill_store(demo_s, options, TODAY, lambda _: None)
    assert (store / DEMO_MARKER).is_file()
    record = read_token(store / TOKEN_FILE)
    assert record is not None and record.app_id == "SIM-100"
    fill_store(demo_s, options, TODAY, lambda _: None)  # its own directory: accepted again
    # An old demo directory (the simulator's token, no marker) is still the demo's.
    (store / DEMO_MARKER).unlink()
    fill_store(demo_s, options, TODAY, lambda _: None)
    assert (store / DEMO_MARKER).is_file()
