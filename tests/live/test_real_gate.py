"""The opt-in for real orders: the switch on the machine, ``broker: fyers`` in the config, and a
confirmation of each start that names the account (typed by a person)."""

from __future__ import annotations

import io

import pytest

from fyerstrade import cli
from fyerstrade.config import Settings, load_settings
from fyerstrade.errors import EngineError
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.real_gate import (
    CONFIRMATION_FILE,
    check_real_trading,
    consume_confirmation,
    write_confirmation,
)
from plugins.orders import OrderSim, order_calls, order_payload, real_account


def _settings(monkeypatch: pytest.MonkeyPatch, *, real: bool) -> Settings:
    if real:
        monkeypatch.setenv("FYERSTRADE_REAL_TRADING", "true")
    return load_settings(env_file=None)


def test_both_switches_are_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    paper = LiveConfig()
    fyers = LiveConfig(broker="fyers")
    assert check_real_trading(_settings(monkeypatch, real=False), paper) is False
    with pytest.raises(EngineError, match="FYERSTRADE_REAL_TRADING=true"):
        check_real_trading(_settings(monkeypatch, real=False), fyers)
    on = _settings(monkeypatch, real=True)
    assert check_real_trading(on, paper) is False  # the machine switch alone trades paper
    assert check_real_trading(on, fyers) is True


def test_a_confirmation_fits_one_start_of_one_config_and_account(settings: Settings) -> None:
    config = LiveConfig(broker="fyers", symbols=["NSE:SBIN-EQ"])
    now = [1_800_000_000.0]

    def clock() -> float:
        return now[0]

    write_confirmation(settings, config, "XS00001", clock=clock)
    path = settings.data_dir / CONFIRMATION_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert consume_confirmation(settings, config, "XS00001", clock=clock).fy_id == "XS00001"
    with pytest.raises(EngineError, match="not confirmed"):
        consume_confirmation(settings, config, "XS00001", clock=clock)  # single use
    write_confirmation(settings, config, "XS00001", clock=clock)
    with pytest.raises(EngineError, match="account XS00001"):
        consume_confirmation(settings, config, "XS99999", clock=clock)
    write_confirmation(settings, config, "XS00001", clock=clock)
    changed = config.model_copy(update={"symbols": ["NSE:SBIN-EQ", "NSE:TCS-EQ"]})
    with pytest.raises(EngineError, match="changed"):
        consume_confirmation(settings, changed, "XS00001", clock=clock)
    write_confirmation(settings, config, "XS00001", clock=clock)
    now[0] += 121
    with pytest.raises(EngineError, match="expired"):
        consume_confirmation(settings, config, "XS00001", clock=clock)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(EngineError, match="unreadable"):
        consume_confirmation(settings, config, "XS00001", clock=clock)
    assert not path.exists()


CONFIG = (
    "strategy: sma_crossover\nsymbols: [NSE:SBIN-EQ, NSE:TCS-EQ]\nbroker: fyers\n"
    "risk: {max_daily_loss: 5000}\n"
)


def _real_setup(sim: OrderSim, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return real_account(sim, monkeypatch, CONFIG)


def test_a_real_config_does_not_start_without_real(
    order_sim: OrderSim, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _real_setup(order_sim, monkeypatch)
    assert cli.main(["live", "start"]) == 2
    assert "start it with `fyerstrade live start --real`" in capsys.readouterr().err
    monkeypatch.delenv("FYERSTRADE_REAL_TRADING")
    assert cli.main(["live", "start", "--real"]) == 2
    assert "real trading is off" in capsys.readouterr().err
    assert order_sim.exchange.counters.total_calls == 0


def test_real_start_shows_the_account_and_needs_its_id(
    order_sim: OrderSim, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _real_setup(order_sim, monkeypatch)
    monkeypatch.setattr("sys.stdin", io.StringIO("XS00002\n"))
    assert cli.main(["live", "start", "--real"]) == 2
    captured = capsys.readouterr()
    out = captured.out
    assert "REAL ORDERS" in out and "XS00001 (SIM TRADER)" in out
    assert "available 1,000,000.00 of 1,000,000.00" in out
    assert "NSE:SBIN-EQ, NSE:TCS-EQ" in out and "max daily loss 5,000.00" in out
    assert "type the account id XS00001 exactly" in captured.err
    assert not (settings.data_dir / CONFIRMATION_FILE).exists()
    # the right id: confirmed, and the engine (run here in the foreground) consumes it
    # (the day's run itself is the engine's tests' business: here it only has to be reached)
    admitted: list[bool] = []
    monkeypatch.setattr(
        "fyerstrade.live.scheduler.TradingScheduler.run",
        lambda self, stop, sessions=None: admitted.append(True),
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("xs00001\n"))
    assert cli.main(["live", "run", "--real", "--once"]) == 0
    captured = capsys.readouterr()
    assert "confirmed: REAL trading on XS00001" in captured.out
    assert admitted == [True]
    assert not (settings.data_dir / CONFIRMATION_FILE).exists()
    calls = order_sim.exchange.counters.snapshot()["calls"]
    assert set(calls) == {"GET /api/v3/funds"}  # no order endpoint was called


def test_the_guard_on_every_other_test_sees_any_order_call(order_sim: OrderSim) -> None:
    # the autouse guard (plugins/orders.py) fails a test whose simulator saw one of these
    server = order_sim.server
    order_sim.client.funds()
    assert order_calls(server) == {}  # an account read is no order call
    order_sim.client.orderbook()
    assert order_calls(server) == {"GET /api/v3/orders": 1}
    order_sim.client.place_order(data=order_payload())
    assert order_calls(server)["POST /api/v3/orders/sync"] == 1
