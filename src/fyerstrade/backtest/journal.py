"""The backtest journal: every run, its fills, round trips and equity curve in ``trading_log``.

A run is written in one ``BEGIN IMMEDIATE`` transaction under a fresh ``run_id``
(``YYYYMMDD-HHMMSS-xxxxxx``: IST wall-clock time of saving plus 6 random hex digits, so ids sort
by time and two runs saved in the same second still differ). Readers see a run completely or not
at all, and rows of two runs saved at the same time never mix: every row carries its run id.

Tables (``store/trading_schema``): ``backtest_runs`` one row per run; ``backtest_trades`` the
run's fills (``kind='fill'``) and round trips (``kind='round_trip'``) as columns, one row per
field holding its values as a BLOB (:mod:`fyerstrade.store.trade_columns`);
``bt_portfolio_log`` one row per run holding its per-bar series — bar times, the equity, cash
and exposure after each — as array BLOBs (:mod:`fyerstrade.store.arrays`; a million points are
written and read back in milliseconds, where one SQL row per bar took seconds).
``created_at`` is whole epoch seconds; ``started_at``/``finished_at`` keep their fraction.

Metrics are stored as JSON with non-finite values (an infinite profit factor) written as the
strings ``"inf"``, ``"-inf"``, ``"nan"`` and read back as floats, so nothing is lost.
"""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as dt_time
from functools import cache
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from fyerstrade import __version__
from fyerstrade.backtest.columns import Coded, FillColumns, TradeColumns, columns_of
from fyerstrade.domain import Fill, ProductType, RoundTrip, Side
from fyerstrade.errors import InputError, StoreError
from fyerstrade.store import trade_columns
from fyerstrade.store.arrays import decode_array, encode_array
from fyerstrade.store.trade_columns import read_columns

if TYPE_CHECKING:
    from fyerstrade.backtest.engine import BacktestResult
    from fyerstrade.reporting.metrics import Metrics

IST = ZoneInfo("Asia/Kolkata")
STATUS_COMPLETED = "completed"
STATUS_FAILED = "failed"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _empty_f() -> FloatArray:
    return np.zeros(0, dtype=np.float64)


def _empty_i() -> IntArray:
    return np.zeros(0, dtype=np.int64)


@dataclass(slots=True, eq=False)
class StoredRun:
    """One backtest as the journal holds it: what was asked, what happened, how it scored.

        ``config`` is the full run configuration as JSON-able values (dates as ``YYYY-MM-DD``,
        times as ``HH:MM``), enough to repeat the run. ``start``/``end`` are the inclusive trading
        dates. ``metrics`` uses the snake_case keys of ``reporting.metrics.Metrics.to_dict``
    (``None`` where a metric is undefined, ``inf`` where it is infinite).
    """

    strategy: str
    params: dict[str, Any]
    symbols: tuple[str, ...]
    resolution: str
    start: date
    end: date
    mode: str
    capital: float
    quantity: int | None = None
    costs_enabled: bool = True
    slippage: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float | None] = field(default_factory=dict)
    trades: Sequence[RoundTrip] = field(default_factory=list)  # a list or columns.TradeColumns
    fills: Sequence[Fill] = field(default_factory=list)  # a list or columns.FillColumns
    equity_ts: IntArray = field(default_factory=_empty_i)
    equity: FloatArray = field(default_factory=_empty_f)
    cash: FloatArray = field(default_factory=_empty_f)
    exposure: FloatArray = field(default_factory=_empty_f)
    status: str = STATUS_COMPLETED
    error: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    created_at: float = 0.0
    code_version: str = ""
    run_id: str = ""

    @property
    def duration_seconds(self) -> float:
        return max(0.0, self.finished_at - self.started_at)


@dataclass(slots=True, frozen=True)
class RunSummary:
    """One line of ``list_runs``: the run's identity and its headline figures."""

    run_id: str
    strategy: str
    params: dict[str, Any]
    symbols: tuple[str, ...]
    resolution: str
    start: date
    end: date
    mode: str
    capital: float
    status: str
    created_at: float
    metrics: dict[str, float | None]


# ---- code version ---------------------------------------------------------------------------


def _git_dir(start: Path) -> Path | None:
    for parent in (start, *start.parents):
        candidate = parent / ".git"
        if candidate.is_dir():
            return candidate
        if candidate.is_file():  # a worktree: "gitdir: <path>"
            text = candidate.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir:"):
                return (parent / text.removeprefix("gitdir:").strip()).resolve()
    return None


def _git_head(git_dir: Path) -> str | None:
    """The commit hash of HEAD, read from the files (no subprocess, a few microseconds)."""
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    if not head.startswith("ref:"):
        return head or None
    ref = head.removeprefix("ref:").strip()
    common = git_dir
    commondir = git_dir / "commondir"
    if commondir.is_file():
        common = (git_dir / commondir.read_text(encoding="utf-8").strip()).resolve()
    for base in (git_dir, common):
        loose = base / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip() or None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] == ref:
                return parts[0]
    return None


@cache
def code_version() -> str:
    """``fyerstrade.__version__``, plus ``+g<short hash>`` when running from a git checkout."""
    try:
        git_dir = _git_dir(Path(__file__).resolve().parent)
        commit = _git_head(git_dir) if git_dir is not None else None
    except OSError:
        commit = None
    return f"{__version__}+g{commit[:8]}" if commit else __version__


# ---- ids and encodings ----------------------------------------------------------------------


def new_run_id(now: float | None = None) -> str:
    """``YYYYMMDD-HHMMSS-xxxxxx`` from the IST time ``now`` (default: the wall clock)."""
    moment = datetime.fromtimestamp(time.time() if now is None else now, tz=IST)
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _encode_number(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _decode_number(v: Any) -> Any:
    if isinstance(v, str) and v in ("inf", "-inf", "nan"):
        return float(v)
    return v


def encode_metrics(metrics: Mapping[str, Any]) -> str:
    """Metrics as strict JSON (non-finite floats as ``"inf"``/``"-inf"``/``"nan"``)."""
    clean = {k: _encode_number(_plain(v)) for k, v in metrics.items()}
    return json.dumps(clean, allow_nan=False, sort_keys=True)


def decode_metrics(text: str | None) -> dict[str, float | None]:
    if not text:
        return {}
    raw: dict[str, Any] = json.loads(text)
    return {k: _decode_number(v) for k, v in raw.items()}


def _plain(v: Any) -> Any:
    """numpy scalars → Python numbers (json cannot write ``np.float64`` in every version)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, allow_nan=False)


def _day_start(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=IST).timestamp())


def _ts_to_date(ts: int) -> date:
    return datetime.fromtimestamp(ts, tz=IST).date()


# ---- writing --------------------------------------------------------------------------------

_RUN_COLUMNS = (
    "run_id, strategy, params_json, symbols_json, resolution, start_ts, end_ts, mode, capital, "
    "quantity, costs_enabled, slippage_json, settings_json, metrics_json, status, error, "
    "code_version, created_at, started_at, finished_at"
)


def save_stored_run(conn: sqlite3.Connection, run: StoredRun, now: float | None = None) -> str:
    """Write ``run`` under a new run id in one transaction; return the id (also set on ``run``).

    ``now`` (epoch seconds) stamps ``created_at`` and the id; default the wall clock.
    """
    created = time.time() if now is None else now
    n = len(run.equity_ts)
    if not (len(run.equity) == len(run.cash) == len(run.exposure) == n):
        raise ValueError("equity_ts, equity, cash and exposure must have the same length")
    for _ in range(5):
        run_id = new_run_id(created)
        try:
            _write(conn, run, run_id, created)
        except sqlite3.IntegrityError as exc:
            if "backtest_runs.run_id" in str(exc):
                continue  # the same id drawn twice in one second: draw again
            raise
        run.run_id = run_id
        run.created_at = float(int(created))
        if not run.code_version:
            run.code_version = code_version()
        return run_id
    raise RuntimeError("could not draw a unique run id in 5 attempts")


def _write(
    conn: sqlite3.Connection,
    run: StoredRun,
    run_id: str,
    created: float,
) -> None:
    series = (
        run_id, len(run.equity_ts), encode_array(run.equity_ts), encode_array(run.equity),
        encode_array(run.cash), encode_array(run.exposure),
    )  # fmt: skip
    row = (
        run_id,
        run.strategy,
        _json(run.params),
        _json(list(run.symbols)),
        run.resolution,
        _day_start(run.start),
        _day_start(run.end + timedelta(days=1)) - 1,
        run.mode,
        float(run.capital),
        run.quantity,
        int(run.costs_enabled),
        _json(run.slippage),
        _json(run.config),
        encode_metrics(run.metrics),
        run.status,
        run.error,
        run.code_version or code_version(),
        int(created),
        run.started_at,
        run.finished_at,
    )
    if conn.in_transaction:
        conn.commit()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"INSERT INTO backtest_runs ({_RUN_COLUMNS}) VALUES ({_marks(20)})", row)
        conn.executemany(
            trade_columns.INSERT,
            chain(
                trade_columns.column_rows(run_id, "fill", columns_of("fill", run.fills)),
                trade_columns.column_rows(
                    run_id, "round_trip", columns_of("round_trip", run.trades)
                ),
            ),
        )
        conn.execute(
            "INSERT INTO bt_portfolio_log (run_id, points, ts, equity, cash, exposure) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            series,
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def stored_from_result(result: BacktestResult, metrics: Metrics | Mapping[str, Any]) -> StoredRun:
    """The journal's view of a finished backtest (not yet saved: ``run_id`` is empty)."""
    cfg = result.config
    config = {k: _config_value(getattr(cfg, k)) for k in type(cfg).model_fields}
    start, end = result.period or (cfg.start, cfg.end)
    # the run is stored with the period its bars really span; what was asked stays in the config
    config["used"] = run_facts(result)
    values = metrics.to_dict() if hasattr(metrics, "to_dict") else dict(metrics)
    return StoredRun(
        strategy=str(cfg.strategy),
        params=dict(sorted(cfg.params.items())),  # as it loads back (JSON, sorted keys)
        symbols=tuple(cfg.symbols),
        resolution=str(cfg.resolution),
        start=start,
        end=end,
        mode=str(cfg.mode),
        capital=float(cfg.capital),
        quantity=cfg.quantity,
        costs_enabled=bool(cfg.costs),
        slippage={"ticks": float(cfg.slippage_ticks), "bps": float(cfg.slippage_bps)},
        config=config,
        metrics={k: _plain(v) for k, v in values.items()},
        # columns are kept as they are (read-only); a list of objects is copied, as before
        trades=result.trades if isinstance(result.trades, TradeColumns) else list(result.trades),
        fills=result.fills if isinstance(result.fills, FillColumns) else list(result.fills),
        equity_ts=np.asarray(result.equity_ts, dtype=np.int64),
        equity=np.asarray(result.equity, dtype=np.float64),
        cash=np.asarray(result.cash, dtype=np.float64),
        exposure=np.asarray(result.exposure, dtype=np.float64),
        started_at=float(result.started_at),
        finished_at=float(result.finished_at),
    )


def run_facts(result: BacktestResult) -> dict[str, Any]:
    """What the run really used and met, as JSON: its period, each symbol's source resolution,
    the refused orders by reason, and notes (a range reaching outside the stored data)."""
    from fyerstrade.reporting.refusals import refusal_counts

    start, end = result.period or (result.config.start, result.config.end)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "source_resolutions": {s: str(r) for s, r in result.sources.items()},
        "refused_orders": refusal_counts(result.rejections),
        "notes": list(result.notes),
    }


def _config_value(v: Any) -> Any:
    """A config value as JSON: dates ``YYYY-MM-DD``, times ``HH:MM``, enums their value."""
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, dt_time):
        return v.strftime("%H:%M")
    if isinstance(v, tuple | list):
        return [_config_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _config_value(x) for k, x in v.items()}
    if isinstance(v, str):
        return str(v)  # a StrEnum becomes its plain value
    if isinstance(v, BaseModel):
        return v.model_dump(mode="json")  # e.g. the risk limits
    return _plain(v)


def save_run(
    conn: sqlite3.Connection,
    result: BacktestResult,
    metrics: Metrics | Mapping[str, Any],
    now: float | None = None,
) -> str:
    """Save a finished backtest with its metrics in one transaction; return the new run id."""
    return save_stored_run(conn, stored_from_result(result, metrics), now=now)


# ---- reading --------------------------------------------------------------------------------


def _summary(r: sqlite3.Row | tuple[Any, ...]) -> RunSummary:
    return RunSummary(
        run_id=r[0],
        strategy=r[1],
        params=json.loads(r[2]),
        symbols=tuple(json.loads(r[3])),
        resolution=r[4],
        start=_ts_to_date(r[5]),
        end=_ts_to_date(r[6]),
        mode=r[7],
        capital=float(r[8]),
        status=r[9],
        created_at=float(r[10]),
        metrics=decode_metrics(r[11]),
    )


def list_runs(
    conn: sqlite3.Connection, limit: int = 50, strategy: str | None = None
) -> list[RunSummary]:
    """The most recent runs first (at most ``limit``), optionally of one strategy."""
    sql = (
        "SELECT run_id, strategy, params_json, symbols_json, resolution, start_ts, end_ts, mode, "
        "capital, status, created_at, metrics_json FROM backtest_runs"
    )
    args: list[Any] = []
    if strategy is not None:
        sql += " WHERE strategy = ?"
        args.append(strategy)
    sql += " ORDER BY run_id DESC LIMIT ?"
    args.append(int(limit))
    return [_summary(r) for r in conn.execute(sql, args).fetchall()]


def run_exists(conn: sqlite3.Connection, run_id: str) -> bool:
    row = conn.execute("SELECT 1 FROM backtest_runs WHERE run_id = ?", (run_id,)).fetchone()
    return row is not None


def _unknown(conn: sqlite3.Connection, run_id: str) -> InputError:
    recent = [r[0] for r in conn.execute(
        "SELECT run_id FROM backtest_runs ORDER BY run_id DESC LIMIT 3").fetchall()]  # fmt: skip
    hint = f" (recent: {', '.join(recent)})" if recent else " (no runs saved yet)"
    return InputError(f"unknown backtest run {run_id!r}; see `fyerstrade backtest list`{hint}")


def load_run(conn: sqlite3.Connection, run_id: str) -> StoredRun:
    """Read one run completely; an unknown id raises :class:`InputError` naming it."""
    r = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM backtest_runs WHERE run_id = ?", (run_id,)
    ).fetchone()
    if r is None:
        raise _unknown(conn, run_id)
    fills, trades = _load_trades(conn, run_id)
    equity_ts, equity, cash, exposure = load_series(conn, run_id)
    return StoredRun(
        run_id=r[0],
        strategy=r[1],
        params=json.loads(r[2]),
        symbols=tuple(json.loads(r[3])),
        resolution=r[4],
        start=_ts_to_date(r[5]),
        end=_ts_to_date(r[6]),
        mode=r[7],
        capital=float(r[8]),
        quantity=None if r[9] is None else int(r[9]),
        costs_enabled=bool(r[10]),
        slippage=json.loads(r[11]) if r[11] else {},
        config=json.loads(r[12]) if r[12] else {},
        metrics=decode_metrics(r[13]),
        status=r[14],
        error=r[15] or "",
        code_version=r[16] or "",
        created_at=float(r[17]),
        started_at=float(r[18] or 0.0),
        finished_at=float(r[19] or 0.0),
        trades=trades,
        fills=fills,
        equity_ts=equity_ts,
        equity=equity,
        cash=cash,
        exposure=exposure,
    )


def _load_trades(conn: sqlite3.Connection, run_id: str) -> tuple[FillColumns, TradeColumns]:
    """A saved run's fills and round trips, in the order they happened, as columns (objects
    are built only when asked for: ``show --json`` and reports read the columns). Damaged
    columns are a :class:`StoreError` naming the run and what to do, found here rather than
    by whoever reads a trade later."""
    sides, products = _enums(Side), _enums(ProductType)
    try:
        f = read_columns(conn, run_id, "fill")
        t = read_columns(conn, run_id, "round_trip")
        for kind, cols in (("fill", f), ("round trip", t)):
            for name, labels in (("side", sides), ("product", products)):
                unknown = set(cols[name]).difference(labels)
                if unknown:
                    raise ValueError(f"a {kind} {name} {sorted(unknown)[0]!r}")
                cols[name] = Coded(cols[name], labels)
        return FillColumns(f), TradeColumns(t)
    except ValueError as exc:
        raise StoreError(
            f"backtest run {run_id}: its stored trades are damaged ({exc}); delete it with "
            f"`fyerstrade backtest delete {run_id}` and run the backtest again"
        ) from None


def _enums(kind: type[Side] | type[ProductType]) -> dict[str, Any]:
    """Each member of a text enum by its value (a dict hit instead of an Enum call per row)."""
    return {str(m): m for m in kind}


def load_series(
    conn: sqlite3.Connection, run_id: str
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """A saved run's bar times, equity, cash and exposure (empty arrays when it has none)."""
    row = conn.execute(
        "SELECT ts, equity, cash, exposure FROM bt_portfolio_log WHERE run_id = ?", (run_id,)
    ).fetchone()
    if row is None:
        return _empty_i(), _empty_f(), _empty_f(), _empty_f()
    ts, equity, cash, exposure = (decode_array(blob) for blob in row)
    return (
        ts.astype(np.int64, copy=False),
        equity.astype(np.float64, copy=False),
        cash.astype(np.float64, copy=False),
        exposure.astype(np.float64, copy=False),
    )


def delete_run(conn: sqlite3.Connection, run_id: str) -> None:
    """Remove a run and all its rows in one transaction; an unknown id raises InputError."""
    if conn.in_transaction:
        conn.commit()
    conn.execute("BEGIN IMMEDIATE")
    try:
        cur = conn.execute("DELETE FROM backtest_runs WHERE run_id = ?", (run_id,))
        if cur.rowcount == 0:
            conn.execute("ROLLBACK")
            raise _unknown(conn, run_id)
        conn.execute("DELETE FROM backtest_trades WHERE run_id = ?", (run_id,))
        conn.execute("DELETE FROM bt_portfolio_log WHERE run_id = ?", (run_id,))
        conn.execute("COMMIT")
    except sqlite3.Error:
        conn.execute("ROLLBACK")
        raise


_IST_FIXED = timezone(timedelta(hours=5, minutes=30), "IST")  # no DST: the same, ~3x faster


def format_ist(ts: float) -> str:
    """Epoch seconds as ISO 8601 with the IST offset, e.g. ``2024-01-02T09:20:00+05:30``."""
    return datetime.fromtimestamp(ts, tz=_IST_FIXED).isoformat()
