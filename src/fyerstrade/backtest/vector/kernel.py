"""The vectorized backtest kernel: the event engine's rules applied to whole arrays, in numba.

One call simulates one parameter combination over every bar of every symbol of a run, on the
same merged timeline as the event engine (bars grouped by close time, symbols in run order), and
does exactly what the event engine does with a strategy's ``signals`` (``strategies/signals.py``):

* life of a step: for each symbol with a bar, the square-off at its open, then its working orders
  matched against the bar (market first, then stops, then limits, by order number; exits placed
  when an entry fills are matched against the rest of that bar with the fill price as its open);
  then the signals of every such symbol (entries, exits, reversals: orders eligible from the next
  bar); then the square-off at the close for a day without a bar at or after the square-off time;
* orders are checked as ``trading/orders.py`` checks them (quantity, an index is untradable, lot
  size in force that day, CNC short selling, the intraday entry window, free margin at the last
  close) and again at the fill (free margin at the fill price); refusals become rejection records;
* fills pay the cost model's charges for their date (``charges.py``, same-day CNC matching
  included) and are booked as ``Portfolio.apply`` books them (cash, average price, carried entry
  charges, round trips);
* positions still open after the last bar are closed at their last close (``end_of_data``);
* the run's performance is accumulated as it goes (``accounts.py``): what ``compute_metrics``
  needs of the equity curve, without keeping one per trial; a one-symbol run with no working
  order runs through bars without a signal or a square-off doing nothing else (and through the
  blocks of those bars that change nothing but the exposure count in one step each).

Arithmetic is written in the same order as the Python code it mirrors, so prices, costs and cash
agree to the last bit and the parity tests compare them with ``==``. Array layouts and codes are in
``layout.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types as nt

from fyerstrade.backtest.vector.accounts import (
    A_DAYS,
    A_FINAL,
    A_LOW,
    A_MAX_AMOUNT,
    A_PEAK,
    A_RUN_START,
    N_A,
    account,
    account_stretch,
    settle,
)
from fyerstrade.backtest.vector.charges import N_DB, N_L, fill_costs
from fyerstrade.backtest.vector.layout import (
    B0,
    B1,
    B_FLAGS,
    B_LOT,
    B_RDAY_CLOSE,
    B_RDAY_OPEN,
    BI,
    BOOK,
    BUY,
    CF_CAPITAL,
    CF_HEADROOM,
    CF_LEV,
    CF_SLIP_BPS,
    CF_SLIP_TICKS,
    CI_COSTS,
    CI_ENTRY_TAG,
    CI_FIRST_BAR,
    CI_FIXED_QTY,
    CI_RECORDS,
    CNC,
    F0,
    F1,
    F2,
    F3,
    F_BAR,
    F_CASH,
    F_COSTS,
    F_POSITION,
    F_PRICE,
    F_PRODUCT,
    F_QTY,
    F_SEQ,
    F_SIDE,
    F_STEP,
    F_SYM,
    F_TAG,
    F_TS,
    FLAG_ENTRY_OK,
    FLAG_SQ_CLOSE,
    FLAG_SQ_OPEN,
    G_CASH,
    G_LAST_FILL,
    I0,
    I1,
    I2,
    I3,
    INTRADAY,
    K_ERROR,
    K_FILLS,
    K_LOTS,
    K_POSITIONS,
    K_REJECTS,
    K_SEQ,
    K_STEP,
    K_SUBMITTED,
    K_TRADES,
    LIMIT,
    MARKET,
    N_F,
    N_G,
    N_K,
    N_P,
    N_PF,
    N_R,
    N_T,
    N_WF,
    N_WI,
    P_BOOKED,
    P_BY_RANK,
    P_CURSOR,
    P_OPENED,
    P_PRODUCT,
    P_QTY,
    P_RANK,
    PF_AVG,
    PF_COSTS,
    PX,
    R_CODE,
    R_FREE,
    R_KIND,
    R_LOT,
    R_OPENING,
    R_POSITION,
    R_PRICE,
    R_PRODUCT,
    R_QTY,
    R_SIDE,
    R_SYM,
    R_TS,
    RATES,
    REJ_CNC_SHORT,
    REJ_FUNDS,
    REJ_FUNDS_AT_FILL,
    REJ_INDEX,
    REJ_LIMIT,
    REJ_LOT,
    REJ_QTY,
    REJ_STOP,
    REJ_WINDOW,
    RI1,
    SELL,
    STOP,
    SY_DERIVATIVE,
    SY_INDEX,
    SY_LEN,
    SY_PRODUCT,
    SY_START,
    T_COSTS,
    T_ENTRY_PRICE,
    T_ENTRY_TS,
    T_EXIT_PRICE,
    T_EXIT_TS,
    T_PNL,
    T_PRODUCT,
    T_QTY,
    T_SIDE,
    T_SYM,
    T_TAG,
    TAG_END_OF_DATA,
    TAG_SIGNAL,
    TAG_SQUARE_OFF,
    TAG_STOP,
    TAG_TARGET,
    TM,
    U1,
    W_ACTIVE,
    W_BATCH,
    W_ENTRY,
    W_KIND,
    W_PRICE,
    W_PRODUCT,
    W_QTY,
    W_REDUCE,
    W_REF,
    W_SEEN,
    W_SEQ,
    W_SIDE,
    W_STOP,
    W_TAG,
    W_USED,
    inline,
    jit,
)
from fyerstrade.backtest.vector.prefetch import prefetch


@jit(F0(F0, F0))
def round_to_tick(price: float, tick: float) -> float:
    """``domain.round_to_tick``: nearest multiple of ``tick``, half away from zero."""
    if tick <= 0.0:
        return price
    steps = price / tick
    n = int(steps + 0.5) if steps >= 0 else -int(-steps + 0.5)
    return round(n * tick, 10)


@jit(F0(F0, I0, F0, F0, F0))
def slipped(price: float, side: int, tick: float, ticks: float, bps: float) -> float:
    """``Slippage.apply``: the price moved against the trader, rounded to the tick."""
    if ticks == 0.0 and bps == 0.0:
        return price
    move = ticks * tick + price * bps / 10_000.0
    return round_to_tick(price + move * side, tick)


@inline
def opening_quantity(position: int, side: int, quantity: int) -> int:
    """``orders.opening_quantity``: the part of an order that opens or adds exposure."""
    signed = quantity * side
    if position == 0 or (position > 0) == (signed > 0):
        return quantity
    return max(0, quantity - abs(position))


@jit(F0(I0, I0, F0, F0, F0, F0, F0, F0, F0))
def fill_price(
    kind: int,
    side: int,
    level: float,
    open_: float,
    high: float,
    low: float,
    tick: float,
    ticks: float,
    bps: float,
) -> float:
    """``fills.fill_price`` for market, stop and limit orders; NaN when it does not fill."""
    if kind == MARKET:
        return slipped(open_, side, tick, ticks, bps)
    if kind == LIMIT:
        if side == BUY:
            if open_ <= level:
                return open_
            return level if low <= level else np.nan
        if open_ >= level:
            return open_
        return level if high >= level else np.nan
    if side == BUY:
        if open_ >= level:
            trigger = open_
        elif high >= level:
            trigger = level
        else:
            return np.nan
    elif open_ <= level:
        trigger = open_
    elif low <= level:
        trigger = level
    else:
        return np.nan
    return slipped(trigger, side, tick, ticks, bps)


@inline
def last_price(s, px, sym, pos):
    """``TradingEngine._last_price``: the close of the symbol's current bar (before its first
    bar, its first open)."""
    i = pos[s, P_CURSOR]
    if i >= 0:
        return px[3][i]
    return px[0][sym[s, SY_START]] if sym[s, SY_LEN] > 0 else 0.0


@inline
def free_margin(px, sym, pos, pos_f, cf, k, g):
    """``TradingEngine.free_margin``: cash plus each open position's value minus its margin,
    positions in the order the portfolio first saw them (its dict order)."""
    free = g[G_CASH]
    for r in range(k[K_POSITIONS]):
        s = pos[r, P_BY_RANK]
        q = pos[s, P_QTY]
        if q != 0:
            price = last_price(s, px, sym, pos)
            free += q * price - abs(q) * pos_f[s, PF_AVG] / cf[CF_LEV + pos[s, P_PRODUCT]]
    return free


@inline
def entry_size(s, i, product, px, bar_i, sym, pos, pos_f, cf, ci, k, g):
    """``TradingEngine.size``: the fixed quantity, or the whole lots the free margin buys at the
    last close with the sizing headroom."""
    if ci[CI_FIXED_QTY] >= 0:
        return ci[CI_FIXED_QTY]
    price = last_price(s, px, sym, pos)
    lot = max(1, bar_i[B_LOT, i])
    if price <= 0:
        return 0
    budget = free_margin(px, sym, pos, pos_f, cf, k, g) * cf[CF_LEV + product]
    lots = math.floor(budget / (price * cf[CF_HEADROOM]) / lot)
    return max(0, lots * lot)


@inline
def unbook(s, j, pos, bk_i):
    """Take working order ``j`` of symbol ``s`` out of the book (filled or cancelled)."""
    bk_i[s, j, W_USED] = 0
    bk_i[s, j, W_BATCH] = 0
    pos[s, P_BOOKED] -= 1


@jit(nt.void(F2, I0, I0, I0, I0, I0, F0, F0, I0, I0, I0, BI, I2, I1, I1), nrt=False)
def reject(rejects, ts, s, side, qty, code, price, free, opening, kind, product, bar_i, pos, ci,
           k):  # fmt: skip
    """Record a refused order (``records.py`` words the reason as ``OrderRules`` does)."""
    n = k[K_REJECTS]
    k[K_REJECTS] = n + 1
    if ci[CI_RECORDS] == 0 or n >= rejects.shape[0]:
        return
    rejects[n, R_TS] = ts
    rejects[n, R_SYM] = s
    rejects[n, R_SIDE] = side
    rejects[n, R_QTY] = qty
    rejects[n, R_CODE] = code
    rejects[n, R_PRICE] = price
    rejects[n, R_FREE] = free
    rejects[n, R_OPENING] = opening
    rejects[n, R_LOT] = bar_i[B_LOT, pos[s, P_CURSOR]]
    rejects[n, R_PRODUCT] = product
    rejects[n, R_POSITION] = pos[s, P_QTY]
    rejects[n, R_KIND] = kind


@inline
def place(rejects, s, i, side, qty, kind, level, product, tag, reduce_only, is_entry, stop_raw,
          active, ref_open, px, tm, bar_i, sym, tick, cf, ci, pos, pos_f, bk_i, bk_f, k,
          g):  # fmt: skip
    """``TradingEngine.place``: the order checks, then the symbol's book (eligible from bar
    ``active``; ``ref_open`` replaces that bar's open for an exit placed inside it) or a
    rejection. The clock stands at the close of bar ``i``."""
    k[K_SEQ] += 1
    seq = k[K_SEQ]
    if kind != MARKET:
        level = round_to_tick(level, tick[s])
    position = pos[s, P_QTY]
    lot = bar_i[B_LOT, i]
    opening = opening_quantity(position, side, qty)
    code = 0
    if qty <= 0:
        code = REJ_QTY
    elif sym[s, SY_INDEX] != 0:
        code = REJ_INDEX
    elif lot > 1 and qty % lot != 0 and sym[s, SY_DERIVATIVE] != 0:
        code = REJ_LOT
    elif kind == LIMIT and not level > 0:
        code = REJ_LIMIT
    elif kind == STOP and not level > 0:
        code = REJ_STOP
    elif opening > 0 and side == SELL and product == CNC:
        code = REJ_CNC_SHORT
    elif opening > 0 and (bar_i[B_FLAGS, i] & FLAG_ENTRY_OK) == 0:
        code = REJ_WINDOW
    price = level
    free = 0.0
    if code == 0 and reduce_only == 0 and opening > 0:
        if kind == MARKET:
            price = last_price(s, px, sym, pos)
        free = free_margin(px, sym, pos, pos_f, cf, k, g)
        needed = opening * price / cf[CF_LEV + product]
        if needed > free + 1e-9:
            code = REJ_FUNDS
    if code != 0:
        reject(rejects, tm[1][i], s, side, qty, code, price, free, opening, kind, product, bar_i,
               pos, ci, k)  # fmt: skip
        return
    j = 0
    while bk_i[s, j, W_USED] != 0:
        j += 1  # never full: at most an entry, a close, a stop and the targets are working
    bk_i[s, j, W_USED] = 1
    bk_i[s, j, W_KIND] = kind
    bk_i[s, j, W_SIDE] = side
    bk_i[s, j, W_QTY] = qty
    bk_i[s, j, W_ACTIVE] = active
    bk_i[s, j, W_SEQ] = seq
    bk_i[s, j, W_TAG] = tag
    bk_i[s, j, W_PRODUCT] = product
    bk_i[s, j, W_REDUCE] = reduce_only
    bk_i[s, j, W_ENTRY] = is_entry
    bk_i[s, j, W_SEEN] = 0
    bk_i[s, j, W_BATCH] = 0
    bk_f[s, j, W_PRICE] = level
    bk_f[s, j, W_REF] = ref_open
    bk_f[s, j, W_STOP] = stop_raw
    pos[s, P_BOOKED] += 1
    k[K_SUBMITTED] += 1


@inline
def book_fill(fills, trades, s, bar, ts, side, qty, price, costs, product, tag, seq, ci, pos,
              pos_f, bk_i, k, g):  # fmt: skip
    """``Portfolio.apply`` and the engine's ``_book``: cash, position, average price, carried
    charges, the closed round trip, the fill record; a flat position cancels the symbol's
    reduce-only orders."""
    signed = qty * side
    g[G_CASH] -= signed * price + costs
    if pos[s, P_RANK] < 0:
        pos[s, P_RANK] = k[K_POSITIONS]
        pos[k[K_POSITIONS], P_BY_RANK] = s
        k[K_POSITIONS] += 1
    old = pos[s, P_QTY]
    if old == 0 or (old > 0) == (signed > 0):
        new = old + signed
        pos_f[s, PF_AVG] = (pos_f[s, PF_AVG] * abs(old) + price * qty) / abs(new)
        if old == 0:
            pos[s, P_OPENED] = ts
            pos[s, P_PRODUCT] = product
            pos_f[s, PF_COSTS] = 0.0
        pos_f[s, PF_COSTS] += costs
        pos[s, P_QTY] = new
    else:
        close_qty = min(abs(old), qty)
        entry_costs = pos_f[s, PF_COSTS] * close_qty / abs(old)
        exit_costs = costs * close_qty / qty
        direction = 1 if old > 0 else -1
        avg = pos_f[s, PF_AVG]
        gross = (price - avg) * close_qty * direction
        pos_f[s, PF_COSTS] -= entry_costs
        n = k[K_TRADES]
        k[K_TRADES] = n + 1
        if n < trades.shape[0]:
            trades[n, T_SYM] = s
            trades[n, T_SIDE] = direction
            trades[n, T_QTY] = close_qty
            trades[n, T_ENTRY_TS] = pos[s, P_OPENED]
            trades[n, T_ENTRY_PRICE] = avg
            trades[n, T_EXIT_TS] = ts
            trades[n, T_EXIT_PRICE] = price
            trades[n, T_PNL] = gross - entry_costs - exit_costs
            trades[n, T_COSTS] = entry_costs + exit_costs
            trades[n, T_TAG] = tag
            trades[n, T_PRODUCT] = pos[s, P_PRODUCT]
        rest = qty - close_qty
        pos[s, P_QTY] = old + signed
        if pos[s, P_QTY] == 0:
            pos_f[s, PF_AVG] = 0.0
            pos_f[s, PF_COSTS] = 0.0
        elif rest > 0:
            pos_f[s, PF_AVG] = price
            pos[s, P_OPENED] = ts
            pos[s, P_PRODUCT] = product
            pos_f[s, PF_COSTS] = costs * rest / qty
    n = k[K_FILLS]
    k[K_FILLS] = n + 1
    if ci[CI_RECORDS] != 0 and n < fills.shape[0]:
        fills[n, F_SEQ] = seq
        fills[n, F_STEP] = k[K_STEP]
        fills[n, F_SYM] = s
        fills[n, F_BAR] = bar
        fills[n, F_TS] = ts
        fills[n, F_SIDE] = side
        fills[n, F_QTY] = qty
        fills[n, F_PRICE] = price
        fills[n, F_COSTS] = costs
        fills[n, F_TAG] = tag
        fills[n, F_PRODUCT] = product
        fills[n, F_CASH] = g[G_CASH]
        fills[n, F_POSITION] = pos[s, P_QTY]
    if pos[s, P_QTY] == 0 and pos[s, P_BOOKED] > 0:
        for j in range(BOOK):
            if bk_i[s, j, W_USED] != 0 and bk_i[s, j, W_REDUCE] != 0:
                unbook(s, j, pos, bk_i)


# the rate table, then pos, pos_f, bk_i, k, g, day_book, lots
_EXIT_STATE = (*RATES, I2, F2, I3, I1, F1, I1, F2)


@jit(nt.void(F2, F2, I0, I0, F0, I0, I0, I0, I2, F1, F1, I1, *_EXIT_STATE), nrt=False)
def force_exit(fills, trades, s, bar, price, ts, d, tag, sym, tick, cf, ci, rates, has_rate,
               rate_err, pos, pos_f, bk_i, k, g, day_book, lots):  # fmt: skip
    """``TradingEngine._force_exit``: close the whole position at ``price`` (plus slippage,
    except at the end of data) outside the order checks; ``d`` is the rate day of ``ts``."""
    q = pos[s, P_QTY]
    side = SELL if q > 0 else BUY
    if tag != TAG_END_OF_DATA:
        price = slipped(price, side, tick[s], cf[CF_SLIP_TICKS], cf[CF_SLIP_BPS])
    k[K_SEQ] += 1
    costs = 0.0
    if ci[CI_COSTS] != 0:
        costs = fill_costs(s, side, abs(q), price, d, sym, cf, ci, rates, has_rate, rate_err, k,
                           day_book, lots)  # fmt: skip
    book_fill(fills, trades, s, bar, ts, side, abs(q), price, costs, pos[s, P_PRODUCT], tag,
              k[K_SEQ], ci, pos, pos_f, bk_i, k, g)  # fmt: skip


@jit(nt.void(F2, F2, I0, I0, B0, PX, TM, BI, I2, F1, F1, I1, *_EXIT_STATE), nrt=False)
def square_off(fills, trades, s, i, at_close, px, tm, bar_i, sym, tick, cf, ci, rates, has_rate,
               rate_err, pos, pos_f, bk_i, k, g, day_book, lots):  # fmt: skip
    """``TradingEngine._square_off``: cancel the symbol's INTRADAY orders and close an INTRADAY
    position at the bar's open (or, ``at_close``, its close), plus slippage."""
    if pos[s, P_BOOKED] > 0:
        for j in range(BOOK):
            if bk_i[s, j, W_USED] != 0 and bk_i[s, j, W_PRODUCT] == INTRADAY:
                unbook(s, j, pos, bk_i)
    if pos[s, P_QTY] == 0 or pos[s, P_PRODUCT] != INTRADAY:
        return
    if at_close:
        price, ts, d = px[3][i], tm[1][i], bar_i[B_RDAY_CLOSE, i]
    else:
        price, ts, d = px[0][i], tm[0][i], bar_i[B_RDAY_OPEN, i]
    force_exit(fills, trades, s, i, price, ts, d, TAG_SQUARE_OFF, sym, tick, cf, ci, rates,
               has_rate, rate_err, pos, pos_f, bk_i, k, g, day_book, lots)  # fmt: skip


@inline
def execute(fills, rejects, trades, targets, s, i, j, price, px, tm, bar_i, sym, tick, cf, ci,
            rates, has_rate, rate_err, pos, pos_f, bk_i, bk_f, k, g, day_book, lots):  # fmt: skip
    """``TradingEngine.execute`` of working order ``j`` (just taken out of the book) at
    ``price``: reduce-only clipping, the funds check at the fill price, charges, booking; an
    entry's fill places its stop and targets (the strategy's ``on_fill`` in the signals
    contract), matched against the rest of this bar. (At most 30 arguments: CPython passes more
    as ``*args``, which numba cannot inline.)"""
    side = bk_i[s, j, W_SIDE]
    qty = bk_i[s, j, W_QTY]
    kind = bk_i[s, j, W_KIND]
    product = bk_i[s, j, W_PRODUCT]
    tag = bk_i[s, j, W_TAG]
    seq = bk_i[s, j, W_SEQ]
    reduce_only = bk_i[s, j, W_REDUCE] != 0
    is_entry = bk_i[s, j, W_ENTRY] != 0
    stop_raw = bk_f[s, j, W_STOP]
    ts = tm[0][i]
    position = pos[s, P_QTY]
    if reduce_only:
        reducible = abs(position) if position != 0 and (position > 0) != (side == BUY) else 0
        if reducible == 0:
            return  # cancelled: no position left to reduce
        qty = min(qty, reducible)
    else:
        opening = opening_quantity(position, side, qty)
        if opening > 0:
            free = free_margin(px, sym, pos, pos_f, cf, k, g)
            needed = opening * price / cf[CF_LEV + product]
            if needed > free + 1e-9:
                reject(rejects, ts, s, side, qty, REJ_FUNDS_AT_FILL, price, free, opening, kind,
                       product, bar_i, pos, ci, k)  # fmt: skip
                return
    costs = 0.0
    if ci[CI_COSTS] != 0:
        costs = fill_costs(s, side, qty, price, bar_i[B_RDAY_OPEN, i], sym, cf, ci, rates,
                           has_rate, rate_err, k, day_book, lots)  # fmt: skip
    book_fill(fills, trades, s, i, ts, side, qty, price, costs, product, tag, seq, ci, pos, pos_f,
              bk_i, k, g)  # fmt: skip
    g[G_LAST_FILL] = price
    q = pos[s, P_QTY]
    if not is_entry or math.isnan(stop_raw) or q == 0:
        return
    held = abs(q)
    exit_side = SELL if q > 0 else BUY
    risk = price - stop_raw if q > 0 else stop_raw - price
    product = pos[s, P_PRODUCT]
    lot = max(1, bar_i[B_LOT, i])
    left = held
    n_targets = targets.shape[0]
    # order -1 is the stop (or, when the entry filled at or through it, a market close at the
    # next open); then the targets, the last one taking what the others left
    for t in range(-1, n_targets if risk > 0 else 0):
        if t < 0:
            kind = STOP if risk > 0 else MARKET
            amount = held
            level = stop_raw
            tag = TAG_STOP
        else:
            kind = LIMIT
            amount = int(held * targets[t, 1]) // lot * lot if t < n_targets - 1 else left
            left -= amount
            if amount <= 0:
                continue
            move = targets[t, 0] * risk
            level = price + move if q > 0 else price - move
            tag = TAG_TARGET + t
        active = i if kind != MARKET else i + 1
        ref = price if kind != MARKET else np.nan
        place(rejects, s, i, exit_side, amount, kind, level, product, tag, 1, 0, np.nan, active,
              ref, px, tm, bar_i, sym, tick, cf, ci, pos, pos_f, bk_i, bk_f, k, g)  # fmt: skip


@inline
def match(fills, rejects, trades, targets, s, i, px, tm, bar_i, sym, tick, cf, ci, rates,
          has_rate, rate_err, pos, pos_f, bk_i, bk_f, k, g, day_book, lots):  # fmt: skip
    """``SimulatedBroker.on_bar``: the symbol's working orders eligible in bar ``i``, by
    priority (market, stop, limit; then order number); orders placed by fills in this bar are
    matched in a further pass."""
    for j in range(BOOK):
        bk_i[s, j, W_SEEN] = 0
    # (indexing the book directly: a row view per slot would be an allocation and a refcount)
    while True:
        submitted = k[K_SUBMITTED]
        found = False
        for j in range(BOOK):
            if bk_i[s, j, W_USED] != 0 and bk_i[s, j, W_ACTIVE] <= i and bk_i[s, j, W_SEEN] == 0:
                bk_i[s, j, W_BATCH] = 1
                found = True
        if not found:
            return
        while True:
            best = -1
            for j in range(BOOK):
                if bk_i[s, j, W_BATCH] != 0 and (
                    best < 0
                    or bk_i[s, j, W_KIND] < bk_i[s, best, W_KIND]
                    or (
                        bk_i[s, j, W_KIND] == bk_i[s, best, W_KIND]
                        and bk_i[s, j, W_SEQ] < bk_i[s, best, W_SEQ]
                    )
                ):
                    best = j
            if best < 0:
                break
            bk_i[s, best, W_SEEN] = 1
            bk_i[s, best, W_BATCH] = 0
            kind = bk_i[s, best, W_KIND]
            side = bk_i[s, best, W_SIDE]
            ref = bk_f[s, best, W_REF]
            if math.isnan(ref) or bk_i[s, best, W_ACTIVE] != i:
                ref = px[0][i]
            if kind == MARKET:  # (fill_price's market case: no need of the high and low)
                price = slipped(ref, side, tick[s], cf[CF_SLIP_TICKS], cf[CF_SLIP_BPS])
            else:
                price = fill_price(kind, side, bk_f[s, best, W_PRICE], ref, px[1][i], px[2][i],
                                   tick[s], cf[CF_SLIP_TICKS], cf[CF_SLIP_BPS])  # fmt: skip
            if math.isnan(price):
                continue
            unbook(s, best, pos, bk_i)
            execute(fills, rejects, trades, targets, s, i, best, price, px, tm, bar_i, sym, tick,
                    cf, ci, rates, has_rate, rate_err, pos, pos_f, bk_i, bk_f, k, g, day_book,
                    lots)  # fmt: skip
        if k[K_SUBMITTED] == submitted:
            return


@inline
def on_signals(rejects, s, i, entries, exits, short_entries, short_exits, stop, px, tm, bar_i,
               sym, tick, cf, ci, pos, pos_f, bk_i, bk_f, k, g):  # fmt: skip
    """The signals contract at the close of bar ``i``: flat → enter; long → exit, or reverse on
    a short entry; short → the mirror. Orders are eligible from the next bar."""
    q = pos[s, P_QTY]
    side = 0
    reduce_only = 0
    if q > 0:
        if exits.shape[0] > 0 and exits[i]:
            side, reduce_only = SELL, 1
        elif short_entries.shape[0] > 0 and short_entries[i]:
            side = SELL
    elif q < 0:
        if short_exits.shape[0] > 0 and short_exits[i]:
            side, reduce_only = BUY, 1
        elif entries[i]:
            side = BUY
    elif entries[i]:
        side = BUY
    elif short_entries.shape[0] > 0 and short_entries[i]:
        side = SELL
    if side == 0:
        return
    if reduce_only:
        qty = abs(q)
        tag = TAG_SIGNAL
        stop_raw = np.nan
    else:
        qty = entry_size(s, i, sym[s, SY_PRODUCT], px, bar_i, sym, pos, pos_f, cf, ci, k, g)
        qty += abs(q)
        tag = ci[CI_ENTRY_TAG]
        stop_raw = stop[i] if stop.shape[0] > 0 else np.nan
    product = pos[s, P_PRODUCT] if q != 0 else sym[s, SY_PRODUCT]
    place(rejects, s, i, side, qty, MARKET, 0.0, product, tag, reduce_only, 1 - reduce_only,
          stop_raw, i + 1, np.nan, px, tm, bar_i, sym, tick, cf, ci, pos, pos_f, bk_i, bk_f, k,
          g)  # fmt: skip


@inline
def valuation(px, sym, pos, g):
    """Equity (cash plus every position at its last close, symbols in run order, as the event
    engine's equity curve adds them) and the positions' gross value."""
    value = 0.0
    gross = 0.0
    for s in range(pos.shape[0]):
        q = pos[s, P_QTY]
        if q != 0:
            c = pos[s, P_CURSOR]
            price = px[3][c] if c >= 0 else px[0][sym[s, SY_START]]
            value += q * price
            gross += abs(q * price)
    return g[G_CASH] + value, gross


@inline
def warm(nxt, i, px, tm, bar_i, step_ts, day_end, entries, exits, short_entries, short_exits,
         stop):  # fmt: skip
    """Prefetch what step ``nxt`` (bar ``i`` of a one-symbol run) and the fill at the next bar
    will read (``prefetch.py``): the lines come together instead of one miss at a time."""
    prefetch(bar_i, 0, i)  # one row of the bar-major table: every B_* of bar i
    prefetch(bar_i, 0, i + 1)
    for p in (px[0], px[3]):
        prefetch(p, 0, i)
        prefetch(p, 0, i + 1)
    if stop.shape[0] > 0:  # the high and low: only stops and targets (after an entry) read them
        prefetch(px[1], 0, i + 1)
        prefetch(px[2], 0, i + 1)
    prefetch(tm[0], 0, i + 1)
    prefetch(tm[1], 0, i)
    prefetch(step_ts, 0, nxt)
    prefetch(day_end, 0, nxt)
    if entries.shape[0] > 0:
        prefetch(entries, 0, i)
    if exits.shape[0] > 0:
        prefetch(exits, 0, i)
    if short_entries.shape[0] > 0:
        prefetch(short_entries, 0, i)
    if short_exits.shape[0] > 0:
        prefetch(short_exits, 0, i)
    if stop.shape[0] > 0:
        prefetch(stop, 0, i)


_RUN_SIGNATURE = nt.void(
    PX, TM, BI, F2, I2, F1, I1, I1, I1, RI1, U1, I1, B1, B1, B1, B1, F1, F2, I1, F1, I1, *RATES,
    I2, F2, I3, F3, I1, F1, I1, F1, F1, F2, F2, F2, F2,
)  # fmt: skip


@jit(_RUN_SIGNATURE, nrt=False)
def run(px, tm, bar_i, blocks, sym, tick, step_first, step_bar, step_sym, step_ts, day_end,
        day_ends, entries, exits, short_entries, short_exits, stop, targets, events, cf, ci, rates,
        has_rate, rate_err, pos, pos_f, bk_i, bk_f, k, g, day_book, acc, day_eq, fills, rejects,
        trades, lots):  # fmt: skip
    """The step loop over the state and record arrays :func:`simulate` allocates. A record
    table too small is not written past its end: its counter (``K_FILLS``, ``K_REJECTS``,
    ``K_TRADES``, ``K_LOTS``) still counts, and :func:`simulate` runs again with room for
    them. Compiled without numba's reference counting (``nrt=False``: it allocates nothing),
    so the state arrays cost nothing to pass through the inlined helpers."""
    n_sym = sym.shape[0]
    n_steps = step_ts.shape[0]
    # one symbol: step t is its bar first + t (the step tables are empty)
    one = n_sym == 1
    first = ci[CI_FIRST_BAR]
    has_exits = exits.shape[0] > 0
    has_short = short_entries.shape[0] > 0
    has_short_exits = short_exits.shape[0] > 0
    ev = 0  # next entry of ``events``
    de = 0  # next entry of ``day_ends``
    step = 0
    while step < n_steps:
        if one and pos[0, P_BOOKED] == 0 and step < n_steps - 1:
            # one symbol and no working order: nothing can happen before the next bar with a
            # signal or a square-off (``events``) but the accounts; the last step is never quiet
            # (the end of data closes what is open after it)
            i = first + step
            while ev < events.shape[0] and events[ev] < i:
                ev += 1
            nxt = n_steps - 1
            if ev < events.shape[0]:
                nxt = min(nxt, events[ev] - first)
            if nxt > step:
                warm(nxt, first + nxt, px, tm, bar_i, step_ts, day_end, entries, exits,
                     short_entries, short_exits, stop)  # fmt: skip
                if ev + 1 < events.shape[0]:  # and the one after: a trade's whole length ahead
                    later = events[ev + 1]
                    warm(later - first, later, px, tm, bar_i, step_ts, day_end, entries, exits,
                         short_entries, short_exits, stop)  # fmt: skip
                q = pos[0, P_QTY]
                cash = g[G_CASH]
                if q == 0:
                    # flat: the equity stays the cash, so only the first step moves the peak,
                    # the drawdown and the time under water; the others close days
                    account(step, cash, 0.0, step_ts, day_end, acc, day_eq)
                    while de < day_ends.shape[0] and day_ends[de] <= step:
                        de += 1
                    while de < day_ends.shape[0] and day_ends[de] < nxt:
                        day_eq[int(acc[A_DAYS])] = cash
                        acc[A_DAYS] += 1
                        de += 1
                else:
                    account_stretch(step, nxt, q, cash, first, px, blocks, step_ts, day_end,
                                    acc, day_eq)  # fmt: skip
                pos[0, P_CURSOR] = first + nxt - 1
                step = nxt
        k[K_STEP] = step
        a = step if one else step_first[step]
        b = step + 1 if one else step_first[step + 1]
        for m in range(a, b):
            pos[0 if one else step_sym[m], P_CURSOR] = first + m if one else step_bar[m]
        for m in range(a, b):
            s = 0 if one else step_sym[m]
            i = first + m if one else step_bar[m]
            if bar_i[B_FLAGS, i] & FLAG_SQ_OPEN:
                square_off(fills, trades, s, i, False, px, tm, bar_i, sym, tick, cf, ci, rates,
                           has_rate, rate_err, pos, pos_f, bk_i, k, g, day_book, lots)  # fmt: skip
            if pos[s, P_BOOKED] > 0:
                match(fills, rejects, trades, targets, s, i, px, tm, bar_i, sym, tick, cf, ci,
                      rates, has_rate, rate_err, pos, pos_f, bk_i, bk_f, k, g,
                      day_book, lots)  # fmt: skip
        for m in range(a, b):
            i = first + m if one else step_bar[m]
            if (
                entries[i]
                or (has_exits and exits[i])
                or (has_short and short_entries[i])
                or (has_short_exits and short_exits[i])
            ):
                on_signals(rejects, 0 if one else step_sym[m], i, entries, exits, short_entries,
                           short_exits, stop, px, tm, bar_i, sym, tick, cf, ci, pos, pos_f, bk_i,
                           bk_f, k, g)  # fmt: skip
        for m in range(a, b):
            i = first + m if one else step_bar[m]
            if bar_i[B_FLAGS, i] & FLAG_SQ_CLOSE:
                square_off(fills, trades, 0 if one else step_sym[m], i, True, px, tm, bar_i, sym,
                           tick, cf, ci, rates, has_rate, rate_err, pos, pos_f, bk_i, k, g,
                           day_book, lots)  # fmt: skip
        if k[K_ERROR] != 0:
            return
        if step < n_steps - 1:
            eq, gross = valuation(px, sym, pos, g)
            account(step, eq, gross, step_ts, day_end, acc, day_eq)
        step += 1
    if n_steps == 0:
        return
    # the end of data: what is open closes at each symbol's last close, no slippage; the last
    # step's equity is counted after it
    for s in range(n_sym):
        i = pos[s, P_CURSOR]
        if pos[s, P_QTY] != 0 and i >= 0:
            for j in range(BOOK):
                if bk_i[s, j, W_USED] != 0:
                    unbook(s, j, pos, bk_i)
            force_exit(fills, trades, s, i, px[3][i], tm[1][i], bar_i[B_RDAY_CLOSE, i],
                       TAG_END_OF_DATA, sym, tick, cf, ci, rates, has_rate, rate_err, pos, pos_f,
                       bk_i, k, g, day_book, lots)  # fmt: skip
    eq, gross = valuation(px, sym, pos, g)
    account(n_steps - 1, eq, gross, step_ts, day_end, acc, day_eq)
    settle(step_ts, acc)


def simulate(
    px: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    tm: tuple[np.ndarray, np.ndarray],
    bar_i: np.ndarray,
    blocks: np.ndarray,
    sym: np.ndarray,
    tick: np.ndarray,
    step_first: np.ndarray,
    step_bar: np.ndarray,
    step_sym: np.ndarray,
    step_ts: np.ndarray,
    day_end: np.ndarray,
    day_ends: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    short_entries: np.ndarray,
    short_exits: np.ndarray,
    stop: np.ndarray,
    targets: np.ndarray,
    events: np.ndarray,
    cf: np.ndarray,
    ci: np.ndarray,
    rates: np.ndarray,
    has_rate: np.ndarray,
    rate_err: np.ndarray,
    n_dp_keys: int,
    first_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Simulate one parameter combination (see the module docstring).

    Returns ``(fills, rejections, trades, accounts, day_equity, counters)``: the record tables
    (fills and rejections stay empty unless ``ci[CI_RECORDS]``), the accumulated performance
    (``A_*``), the equity at each IST day's last step (``day_end``), and the counters (``K_*``;
    a non-zero ``K_ERROR`` is a cost rate the model would refuse). The record tables are first
    sized from the signals (``first_rows`` rows instead, for a test of the second run)."""
    n_sym = sym.shape[0]
    if events.shape[0] or n_sym == 1:
        signalled = events.shape[0]
    else:
        signalled = sum(int(np.count_nonzero(f)) for f in (entries, exits, short_entries,
                                                              short_exits))  # fmt: skip
        signalled += int(np.count_nonzero(bar_i[B_FLAGS] & (FLAG_SQ_OPEN | FLAG_SQ_CLOSE)))
    # each signal places one order, an entry's fill its stop and targets; the end of data
    # closes each symbol once
    rows = [
        signalled * (2 + targets.shape[0]) + n_sym + 16 if first_rows is None else first_rows
    ] * 4
    # a table the run does not write stays empty (fills and rejections without records, the
    # same-day CNC lots without costs)
    wanted = (ci[CI_RECORDS] != 0, ci[CI_RECORDS] != 0, True, ci[CI_COSTS] != 0)
    while True:
        fills, rejects, trades, lots = (
            np.empty((rows[j] if wanted[j] else 0, cols))
            for j, cols in enumerate((N_F, N_R, N_T, N_L))
        )
        pos, pos_f, bk_i, bk_f, k, g, day_book, acc, day_eq = _state(
            sym, cf, rates, day_ends.shape[0], n_dp_keys
        )
        run(px, tm, bar_i, blocks, sym, tick, step_first, step_bar, step_sym, step_ts, day_end,
            day_ends, entries, exits, short_entries, short_exits, stop, targets, events, cf, ci,
            rates, has_rate, rate_err, pos, pos_f, bk_i, bk_f, k, g, day_book, acc, day_eq, fills,
            rejects, trades, lots)  # fmt: skip
        if k[K_ERROR] != 0:
            return fills[:0], rejects[:0], trades[:0], acc, day_eq, k
        counts = [int(k[K_FILLS]), int(k[K_REJECTS]), int(k[K_TRADES]), int(k[K_LOTS])]
        if all(n <= r or not w for n, r, w in zip(counts, rows, wanted, strict=True)):
            break
        rows = [max(r, n) for r, n in zip(rows, counts, strict=True)]  # again, with room
    n_f = min(int(k[K_FILLS]), len(fills))
    n_r = min(int(k[K_REJECTS]), len(rejects))
    return fills[:n_f], rejects[:n_r], trades[: k[K_TRADES]], acc, day_eq, k


def _state(
    sym: np.ndarray, cf: np.ndarray, rates: np.ndarray, n_days: int, n_dp_keys: int
) -> tuple[np.ndarray, ...]:
    """A run's state arrays, as before its first step."""
    n_sym = sym.shape[0]
    pos = np.zeros((n_sym, N_P), dtype=np.int64)
    pos[:, P_RANK] = -1
    pos[:, P_CURSOR] = -1
    pos_f = np.zeros((n_sym, N_PF), dtype=np.float64)
    bk_i = np.zeros((n_sym, BOOK, N_WI), dtype=np.int64)
    bk_f = np.zeros((n_sym, BOOK, N_WF), dtype=np.float64)
    k = np.zeros(N_K, dtype=np.int64)
    g = np.zeros(N_G, dtype=np.float64)
    g[G_CASH] = cf[CF_CAPITAL]
    day_book = np.full(N_DB * max(n_dp_keys, 1) * rates.shape[1], -1, dtype=np.int64)
    day_book[: max(n_dp_keys, 1) * rates.shape[1]] = 0  # the DP-paid flags
    acc = np.zeros(N_A, dtype=np.float64)
    acc[A_PEAK] = cf[CF_CAPITAL]
    acc[A_LOW] = np.inf
    acc[A_MAX_AMOUNT] = -np.inf
    acc[A_RUN_START] = np.nan
    acc[A_FINAL] = cf[CF_CAPITAL]
    day_eq = np.empty(n_days, dtype=np.float64)
    return pos, pos_f, bk_i, bk_f, k, g, day_book, acc, day_eq
