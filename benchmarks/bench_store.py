"""SQLite store throughput: candle upserts, tick ingest, the tick archive and one symbol-day read.

Targets (issue 3): candle upserts >= 500,000 candles/s; archive 10 million ticks, then read one
symbol-day of ticks in under 100 ms. ``FYERSTRADE_BENCH_TICKS`` scales the tick count down
(default 10,000,000). Figures are wall time; CPU-time rates are printed too because the machine
is often shared (the CPU figure is what the code costs, the wall figure what you waited).
The peer for upserts is the obvious implementation: one ``executemany`` row per candle.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import date, timedelta
from itertools import repeat
from pathlib import Path

import numpy as np

from fyerstrade.candles import CandleArrays
from fyerstrade.config import load_settings
from fyerstrade.data.archive import archive_ticks
from fyerstrade.domain import Resolution
from fyerstrade.store import candle_blocks
from fyerstrade.store.candles import load_candles, upsert_candles
from fyerstrade.store.db import open_historical, open_live
from fyerstrade.store.ticks import insert_live_ticks, load_ticks

_CANDLES_PER_SYMBOL = 100_000
_CANDLE_SYMBOLS = 10
_TICK_SYMBOLS = 200
_DAYS = 5  # 10M ticks: 2M a day, 10,000 per symbol-day (a busy stock's real day)
_T0 = 1_704_166_200  # 2024-01-02 09:15 IST
_NAIVE_SQL = (
    "INSERT INTO historical_data VALUES (?,?,?,?,?,?,?,?) "
    "ON CONFLICT (symbol, resolution, ts) DO UPDATE SET open = excluded.open, "
    "high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume "
    "WHERE open IS NOT excluded.open OR high IS NOT excluded.high OR low IS NOT excluded.low "
    "OR close IS NOT excluded.close OR volume IS NOT excluded.volume"
)


def _candles(n: int, seed: int) -> CandleArrays:
    rng = np.random.default_rng(seed)
    close = (100.0 + np.cumsum(rng.normal(0, 0.2, n))).round(2)
    open_ = np.concatenate([[100.0], close[:-1]])
    return CandleArrays(
        _T0 + 60 * np.arange(n, dtype=np.int64),
        open_,
        np.maximum(open_, close) + 0.05,
        np.minimum(open_, close) - 0.05,
        close,
        rng.integers(100, 10_000, n).astype(np.int64),
    )


class _Timer:
    def __enter__(self) -> _Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def _rate(n: int, t: _Timer) -> str:
    return f"{n / t.wall:>12,.0f}/s wall {n / max(t.cpu, 1e-9):>12,.0f}/s cpu"


def _bench_upserts(root: Path) -> None:
    settings = load_settings(env_file=None, data_dir=root / "candles")
    conn = open_historical(settings)
    data = [_candles(_CANDLES_PER_SYMBOL, s) for s in range(_CANDLE_SYMBOLS)]
    total = _CANDLES_PER_SYMBOL * _CANDLE_SYMBOLS
    with _Timer() as fresh:
        added = sum(
            upsert_candles(conn, f"NSE:S{i:02d}-EQ", Resolution.M1, c) for i, c in enumerate(data)
        )
    with _Timer() as again:
        same = sum(
            upsert_candles(conn, f"NSE:S{i:02d}-EQ", Resolution.M1, c) for i, c in enumerate(data)
        )
    assert added == total and same == 0, (added, same)

    with _Timer() as row_read:  # the row path alone, as load_candles read before issue 14
        loaded = sum(
            len(candle_blocks._rows(conn, f"NSE:S{i:02d}-EQ", "1", 0, 2**62)[0])
            for i in range(_CANDLE_SYMBOLS)
        )
    assert loaded == total, loaded
    with _Timer() as load:  # the first load also writes the array blocks
        loaded = sum(
            len(load_candles(conn, f"NSE:S{i:02d}-EQ", Resolution.M1))
            for i in range(_CANDLE_SYMBOLS)
        )
    assert loaded == total, loaded
    with _Timer() as cached:
        loaded = sum(
            len(load_candles(conn, f"NSE:S{i:02d}-EQ", Resolution.M1))
            for i in range(_CANDLE_SYMBOLS)
        )
    assert loaded == total, loaded

    with _Timer() as naive:
        for i, c in enumerate(data):
            n = len(c)
            rows = zip(
                repeat(f"NSE:N{i:02d}-EQ", n),
                repeat("1", n),
                c.ts.tolist(),
                c.open.tolist(),
                c.high.tolist(),
                c.low.tolist(),
                c.close.tolist(),
                c.volume.tolist(),
                strict=True,
            )
            with conn:
                conn.executemany(_NAIVE_SQL, rows)
    conn.close()
    print(f"candle upsert, {total:,} new candles   {_rate(total, fresh)}")
    print(f"candle upsert, same again (no-op)      {_rate(total, again)}")
    print(f"peer: one executemany row per candle   {_rate(total, naive)}")
    print(f"read candle rows into numpy (before)   {_rate(total, row_read)}")
    print(f"load_candles, first (writes blocks)    {_rate(total, load)}")
    print(f"load_candles, again (from blocks)      {_rate(total, cached)}")
    print(f"  load from blocks vs rows: {row_read.wall / cached.wall:.1f}x wall, "
          f"{row_read.cpu / max(cached.cpu, 1e-9):.1f}x cpu (target >= 2x)")  # fmt: skip
    print(
        f"  new candles vs target 500,000/s: {total / fresh.wall / 500_000:.2f}x wall, "
        f"{total / fresh.cpu / 500_000:.2f}x cpu; vs per-row peer: "
        f"{naive.wall / fresh.wall:.2f}x wall, {naive.cpu / fresh.cpu:.2f}x cpu"
    )


def _trading_days(n: int) -> list[date]:
    days: list[date] = []
    d = date(2024, 1, 30)
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days  # 2024-01-30 .. 2024-02-05: two months


def _bench_archive(root: Path, n_ticks: int) -> None:
    settings = load_settings(env_file=None, data_dir=root / "ticks")
    live = open_live(settings)
    days = _trading_days(_DAYS)
    per_day = n_ticks // _DAYS
    symbols = [f"NSE:T{i:03d}-EQ" for i in range(_TICK_SYMBOLS)]
    rng = np.random.default_rng(3)
    chunk = 250_000
    with _Timer() as ingest:
        for day in days:
            open_ts = _T0 + (day - date(2024, 1, 2)).days * 86_400
            for lo in range(0, per_day, chunk):
                j = np.arange(lo, min(lo + chunk, per_day))
                ts = (open_ts + j * 22_500 // per_day).tolist()
                ltp = (100.0 + rng.normal(0, 1, len(j)).round(2)).tolist()
                rows = [
                    (symbols[k % _TICK_SYMBOLS], t, p, k, p - 0.05, p + 0.05, 10, 12, 1, t + 0.2)
                    for k, t, p in zip(j.tolist(), ts, ltp, strict=True)
                ]
                insert_live_ticks(live, rows)
    live.close()
    stored = per_day * _DAYS
    print(f"live tick ingest, {stored:,} ticks       {_rate(stored, ingest)}")

    with _Timer() as move:
        report = archive_ticks(settings, batch_size=200_000)
    assert report.moved == stored and report.remaining == 0, report
    print(f"archive {stored:,} ticks ({report.batches} batches)  {_rate(stored, move)}")
    print(f"  months: {report.months}")

    picks = [(symbols[(7 * i) % _TICK_SYMBOLS], days[i % _DAYS]) for i in range(20)]
    conn = open_historical(settings)
    with _Timer() as first:
        got = load_ticks(conn, *picks[0])
    times = []
    for sym, day in picks:
        with _Timer() as t:
            got = load_ticks(conn, sym, day)
        times.append(t.wall * 1000)
        assert len(got) == per_day // _TICK_SYMBOLS, (sym, day, len(got))
    conn.close()
    print(
        f"read one symbol-day ({per_day // _TICK_SYMBOLS:,} ticks): "
        f"first {first.wall * 1000:.1f} ms, "
        f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms "
        f"(target < 100 ms: {100 / max(times):.1f}x headroom)"
    )
    size = sum(p.stat().st_size for p in (root / "ticks").iterdir())
    print(f"  files on disk after archive: {size / 2**20:,.0f} MiB")


def run() -> None:
    n_ticks = int(os.environ.get("FYERSTRADE_BENCH_TICKS", "10000000"))
    load1, _, _ = os.getloadavg()
    print(f"(load average {load1:.1f} on {os.cpu_count()} CPUs: wall rates shrink when it is high)")
    with tempfile.TemporaryDirectory(prefix="bench_store_") as tmp:
        root = Path(tmp)
        _bench_upserts(root)
        _bench_archive(root, n_ticks)


if __name__ == "__main__":
    run()
