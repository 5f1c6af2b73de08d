"""A result's fills and round trips held as columns (backtest/columns.py): they behave as the
lists of objects they stand for (length, indexing, slicing, iteration, equality either way),
and what reads a result whole (metrics, the journal's save and load, ``--json``) builds no
object from them and gives exactly what the objects give."""

from __future__ import annotations

import dataclasses
import pickle
import sqlite3
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fyerstrade.backtest.columns import (
    Coded,
    FillColumns,
    Numbered,
    TradeColumns,
    column,
    column_array,
    columns_of,
)
from fyerstrade.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from fyerstrade.backtest.journal import load_run, save_run, stored_from_result
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.backtest.vector.records import fills_of, round_trips
from fyerstrade.backtest.vector.run import run_records, run_vector
from fyerstrade.commands.backtest import run_json_encoded, trade_rows
from fyerstrade.config import Settings
from fyerstrade.dashboard.results_view import trades_frame
from fyerstrade.domain import Fill, ProductType, Resolution, RoundTrip, Side
from fyerstrade.reporting.metrics import compute_metrics

SYM = "NSE:SBIN-EQ"


def _config() -> BacktestConfig:
    """An intraday sma_crossover year on 5-minute bars (enough trades to slice and score)."""
    params = {"fast": 5, "slow": 20}
    year = (date(2024, 1, 1), date(2024, 12, 31))
    return BacktestConfig(
        "sma_crossover", params, [SYM], Resolution.M5, *year, "intraday", quantity=10
    )


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return {SYM: synthetic_candles(3000, resolution=Resolution.M5, seed=7)}


@pytest.fixture(scope="module")
def vector(data: dict[str, Any]) -> BacktestResult:
    result = run_vector(_config(), data=data)
    assert isinstance(result.fills, FillColumns) and isinstance(result.trades, TradeColumns)
    assert len(result.trades) > 20  # enough to slice, print as rows, score
    return result


def _as_lists(result: BacktestResult) -> BacktestResult:
    return dataclasses.replace(result, fills=list(result.fills), trades=list(result.trades))


def _fresh(result: BacktestResult) -> BacktestResult:
    """The same result with column sequences nothing has materialized yet."""
    fills, trades = result.fills, result.trades
    assert isinstance(fills, FillColumns) and isinstance(trades, TradeColumns)
    out = dataclasses.replace(result, fills=fills[:], trades=trades[:])
    assert not out.fills.materialized and not out.trades.materialized  # type: ignore[attr-defined]
    return out


def test_the_columns_hold_what_the_objects_of_the_kernel_records_hold(
    data: dict[str, Any], vector: BacktestResult
) -> None:
    out = run_records(_config(), data=data)
    tag = out.signals.entry_tag
    assert vector.fills == fills_of(out.fills, out.inputs, tag)
    assert vector.trades == round_trips(out.run.trades, out.inputs, tag)
    # and the event engine's lists, either way round
    event = run_backtest(_config(), data=data)
    assert isinstance(event.fills, list)
    assert vector.fills == event.fills and event.fills == vector.fills
    assert vector.trades == event.trades and event.trades == vector.trades
    assert (vector.fills != event.fills) is False and (event.trades != vector.trades) is False


def test_indexing_slicing_and_iteration_behave_as_the_list(vector: BacktestResult) -> None:
    cols = _fresh(vector)
    objects = list(vector.trades)
    trades = cols.trades
    assert len(trades) == len(objects) and bool(trades)
    first, last = trades[0], trades[-1]
    assert not trades.materialized  # type: ignore[attr-defined]  # one object, built alone
    assert first == objects[0] and last == objects[-1] and trades[3] == objects[3]
    assert type(first) is RoundTrip and type(first.quantity) is int
    assert type(first.entry_price) is float and first.side in (Side.BUY, Side.SELL)
    assert type(first.product) is ProductType
    for part in (slice(2, 9), slice(None, None, 3), slice(-5, None), slice(7, 2), slice(None)):
        piece = trades[part]
        assert isinstance(piece, TradeColumns) and piece == objects[part], part
        assert list(piece) == objects[part]
    assert trades[2:9][1] == objects[3]
    with pytest.raises(IndexError):
        trades[len(objects)]
    with pytest.raises(IndexError):
        trades[-len(objects) - 1]
    assert trades[np.int64(4)] == objects[4]
    assert list(trades) == objects and trades.materialized  # type: ignore[attr-defined]
    assert trades[5] is trades[5]  # built once, then kept
    assert objects[4] in trades and trades.index(objects[4]) == 4
    fills = cols.fills
    assert fills[0].order_id.startswith("O") and type(fills[0]) is Fill
    assert list(reversed(fills)) == list(vector.fills)[::-1]


def test_equality_with_lists_and_columns_and_its_failures(vector: BacktestResult) -> None:
    trades = vector.trades
    objects = list(trades)
    assert trades == objects and objects == trades and trades == trades[:]
    assert trades != objects[:-1] and trades[:-1] != objects
    changed = [*objects[:-1], dataclasses.replace(objects[-1], pnl=objects[-1].pnl + 0.01)]
    assert trades != changed and changed != trades
    assert trades != tuple(objects)  # as a list is not equal to a tuple
    assert trades != vector.fills  # round trips are not fills, even when both are empty
    empty = TradeColumns({name: [] for name in columns_of("round_trip", [])})
    assert empty == [] and not empty and len(empty) == 0 and list(empty) == []
    assert empty != FillColumns({name: [] for name in columns_of("fill", [])})
    with pytest.raises(TypeError):
        hash(trades)
    assert pickle.loads(pickle.dumps(trades)) == objects
    assert repr(trades[:2]) == f"TradeColumns({objects[:2]!r})"


def test_columns_refuse_a_missing_or_uneven_field() -> None:
    cols = columns_of("fill", [])
    del cols["tag"]
    with pytest.raises(ValueError, match="no column for tag"):
        FillColumns(cols)
    uneven = columns_of("fill", []) | {"ts": np.arange(3)}
    with pytest.raises(ValueError, match="different lengths"):
        FillColumns(uneven)


def test_coded_and_numbered_columns() -> None:
    codes = Coded(np.array([1, 0, 1], dtype=np.int8), (Side.BUY, Side.SELL))
    assert codes.values() == [Side.SELL, Side.BUY, Side.SELL] and codes.item(1) is Side.BUY
    assert codes.take(slice(1, None)).values() == [Side.BUY, Side.SELL]
    by_text = Coded(["SELL", "BUY"], {"BUY": Side.BUY, "SELL": Side.SELL})
    assert by_text.values() == [Side.SELL, Side.BUY]
    ids = Numbered("O", np.array([3, 17], dtype=np.int64))
    assert ids.values() == ["O3", "O17"] and ids.item(1) == "O17" and len(ids) == 2


def test_metrics_save_and_json_read_the_columns_without_building_objects(
    vector: BacktestResult, settings: Settings
) -> None:
    from fyerstrade.store.db import open_trading

    cols, lists = _fresh(vector), _as_lists(vector)
    fills, trades = cols.fills, cols.trades

    def metrics(r: BacktestResult) -> dict[str, Any]:
        m = compute_metrics(r.trades, r.equity_ts, r.equity, r.config.capital)
        return m.to_dict()

    def no_objects() -> bool:
        return not fills.materialized and not trades.materialized  # type: ignore[attr-defined]

    assert metrics(cols) == metrics(lists) and no_objects()
    # without the exposure series, exposure comes from the trades' entry and exit times
    bare = compute_metrics(cols.trades, cols.equity_ts, cols.equity, 1e6, exposure=None)
    assert bare == compute_metrics(lists.trades, lists.equity_ts, lists.equity, 1e6)
    assert 0 < (bare.exposure or 0) < 1 and no_objects()
    assert cols.total_costs == lists.total_costs and no_objects()
    assert trade_rows(trades) == trade_rows(lists.trades) and no_objects()
    table = trades_frame(trades)
    pd.testing.assert_frame_equal(table, trades_frame(lists.trades))
    assert list(table["side"].unique()) == ["long"] and no_objects()  # sma_crossover: long only
    for name in ("pnl", "entry_ts", "symbol", "side"):
        assert column(trades, name) == column(lists.trades, name)
        assert np.array_equal(column_array(trades, name), column_array(lists.trades, name))
    assert no_objects()

    conn = open_trading(settings)
    try:
        m = compute_metrics(cols.trades, cols.equity_ts, cols.equity, 1e6)
        saved = stored_from_result(cols, m)
        assert saved.fills is fills and saved.trades is trades  # kept as they are
        col_id = save_run(conn, cols, m, now=1_704_190_000)
        list_id = save_run(conn, lists, m, now=1_704_190_000)
        event = run_backtest(cols.config, data={SYM: cols.bars[SYM]})
        event_id = save_run(conn, event, m, now=1_704_190_000)
        assert no_objects()
        # the very same bytes stored: from the columns, from their objects, from the event engine
        assert _blobs(conn, col_id) == _blobs(conn, list_id) == _blobs(conn, event_id)
        assert run_json_encoded(saved)["trades"] == trade_rows(lists.trades)
        loaded = load_run(conn, col_id)
        assert isinstance(loaded.fills, FillColumns) and isinstance(loaded.trades, TradeColumns)
        printed = run_json_encoded(loaded)["trades"]
        assert not loaded.fills.materialized and not loaded.trades.materialized
        assert printed == trade_rows(lists.trades)
        assert loaded.fills == lists.fills and loaded.trades == lists.trades
        assert type(loaded.trades[0].side) is Side and type(loaded.fills[0].product) is ProductType
    finally:
        conn.close()
    assert no_objects()


def _blobs(conn: sqlite3.Connection, run_id: str) -> dict[tuple[str, str], bytes]:
    rows = conn.execute(
        "SELECT kind, name, data FROM backtest_trades WHERE run_id = ?", (run_id,)
    ).fetchall()
    assert len(rows) == 20  # 9 fill fields + 11 round-trip fields
    return {(kind, name): data for kind, name, data in rows}
