"""The kill switch: its record (activations with reasons, unlock only by the typed phrase, an
unreadable record counts as active) and ``fyerstrade live kill|unlock`` — against the simulator's
account through the unmodified SDK when real trading is configured and no engine runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from fyerstrade import cli
from fyerstrade.config import Settings
from fyerstrade.errors import InputError
from fyerstrade.live.killswitch import KILL_FILE, UNLOCK_PHRASE, KillSwitch
from plugins.datasocket import wait_for
from plugins.orders import OrderSim, order_payload, real_account


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        self.t += 1
        return self.t


def test_activations_are_recorded_and_only_the_phrase_unlocks(tmp_path: Path) -> None:
    switch = KillSwitch(tmp_path, clock=Clock())
    assert not switch.active and switch.history() == []
    first = switch.activate("max daily loss 5,000 reached", "engine")
    switch.activate("pressed again from the dashboard", "dashboard")
    state = switch.state()
    assert state.active and state.since == first.ts and state.source == "engine"
    assert state.reason == "max daily loss 5,000 reached"  # the first reason stands
    switch.record_flattened("cancelled 2 order(s), exited 1 position(s)", "engine")
    assert "exited 1" in switch.state().flattened
    with pytest.raises(InputError, match="UNLOCK"):
        switch.unlock("unlock", "cli")
    assert switch.active
    switch.unlock(UNLOCK_PHRASE, "cli")
    assert not switch.active
    with pytest.raises(InputError, match="not active"):
        switch.unlock(UNLOCK_PHRASE, "cli")
    actions = [e.action for e in switch.history()]
    assert actions == ["activate", "activate", "flattened", "unlock"]
    # a second process sees the same state from the file
    assert not KillSwitch(tmp_path).active
    switch.activate("again", "cli")
    assert KillSwitch(tmp_path).active
    with pytest.raises(InputError, match="reason"):
        switch.activate("  ", "cli")


def test_a_damaged_record_stops_trading(tmp_path: Path) -> None:
    switch = KillSwitch(tmp_path)
    switch.activate("x", "cli")
    switch.unlock(UNLOCK_PHRASE, "cli")
    with (tmp_path / KILL_FILE).open("a") as fh:
        fh.write('{"ts": 1, "action": "unl')  # a torn line
    state = switch.state()
    assert state.active and "damaged at line 3" in state.reason
    with pytest.raises(InputError, match="damaged"):
        switch.unlock(UNLOCK_PHRASE, "cli")
    (tmp_path / KILL_FILE).write_bytes(b"\xff\xfe")
    assert KillSwitch(tmp_path).active


def _write_config(settings: Settings, broker: str) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.live_config_file.write_text(
        f"strategy: sma_crossover\nsymbols: [NSE:SBIN-EQ]\nbroker: {broker}\n", encoding="utf-8"
    )


def test_cli_kill_and_unlock_without_an_engine(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_config(settings, "paper")
    assert cli.main(["live", "kill", "--reason", "testing the switch"]) == 0
    out = capsys.readouterr().out
    assert "kill switch ACTIVE: testing the switch" in out and "nothing to flatten" in out
    assert cli.main(["live", "status"]) == 0
    assert "ACTIVE since" in capsys.readouterr().out
    assert cli.main(["live", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kill_switch"]["active"] is True
    monkeypatch.setattr("sys.stdin", io.StringIO("unlock please\n"))
    assert cli.main(["live", "unlock"]) == 2
    assert "type UNLOCK exactly" in capsys.readouterr().err
    assert KillSwitch(settings.data_dir).active
    monkeypatch.setattr("sys.stdin", io.StringIO("UNLOCK\n"))
    assert cli.main(["live", "unlock"]) == 0
    assert "orders are allowed again" in capsys.readouterr().out
    assert not KillSwitch(settings.data_dir).active


def test_cli_kill_flattens_the_fyers_account_when_no_engine_runs(
    order_sim: OrderSim, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = order_sim
    config = "strategy: sma_crossover\nsymbols: [NSE:SBIN-EQ]\nbroker: fyers\n"
    settings = real_account(sim, monkeypatch, config)
    fyers = sim.client
    ltp = sim.ltp()
    fyers.place_order(order_payload(qty=10, orderTag="k1"))
    fyers.place_order(order_payload(symbol="NSE:TCS-EQ", qty=4, side=-1, orderTag="k2"))
    fyers.place_order(order_payload(type=3, side=-1, stopPrice=round(ltp * 0.97, 1), orderTag="k3"))
    fyers.place_order(order_payload(type=1, limitPrice=round(ltp * 0.9, 1), orderTag="k4"))
    wait_for(lambda: len(sim.exchange.net_positions()) == 2, what="two positions")
    wait_for(lambda: all(o.status == 6 for o in sim.exchange.open_orders()), what="confirmed")
    assert len(sim.exchange.open_orders()) == 2

    assert cli.main(["live", "kill", "--reason", "flatten test", "--timeout", "20"]) == 0
    out = capsys.readouterr().out
    assert "cancelled 2 order(s), exited 2 position(s)" in out
    assert "nothing is working or open" in out
    assert sim.exchange.open_orders() == [] and sim.exchange.net_positions() == {}
    history = KillSwitch(settings.data_dir).history()
    assert [e.action for e in history] == ["activate", "flattened"]
    assert history[0].reason == "flatten test"
    counters = sim.exchange.counters
    assert counters.kinds["cancel"] == 2 and counters.kinds["exit"] == 2
