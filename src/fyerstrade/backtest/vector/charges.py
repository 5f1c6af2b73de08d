"""Trading charges in numba: ``trading/costs.py``'s ``FyersCostModel`` over the kernel's arrays.

The rate table (``inputs.py`` builds it from the cost model) holds, per symbol row, rate day,
component and side, the (rate, flat, cap) of the row in force: rows ``0..S-1`` are each symbol's
own segment, rows ``S..2S-1`` its intraday equity segment (used by same-day CNC matching). A
charge is computed line by line in the model's order of arithmetic, so totals are bit-equal.

Same-day CNC (``FyersCostModel._cnc``): each stock's CNC orders of an IST day wait, unmatched, in
first-in-first-out queues of *lots* (side, quantity, price, open quantity, the delivery charges
paid); an order that matches earlier opposite lots is charged intraday for the matched part, with
a credit reversing those lots' delivery charges on that part, and delivery for the rest (a new
lot); the day's DP charge is refunded when every delivery sell of the day has been matched.

State: ``lots`` (``L_*`` columns, sized by ``kernel.simulate``: a lot with no room is counted in
``K_LOTS`` and not written, and the run is repeated with room) and ``day_book``, int64 in six
blocks of ``K × D`` (ISIN keys × rate days), at ``block * K * D + key * D + day``: the DP-paid flag,
the head and tail of the buy queue, of the sell queue, and the lot that paid the day's DP charge.
"""

from __future__ import annotations

import numpy as np
from numba import types as nt

from fyerstrade.backtest.vector.layout import (
    B3,
    BUY,
    CF_GST,
    CI_COSTS,
    CI_GST_ALL_FEES,
    F0,
    F1,
    F2,
    F5,
    I0,
    I1,
    I2,
    I3,
    K_ERR_DAY,
    K_ERR_SIDE,
    K_ERR_SYM,
    K_ERROR,
    K_LOTS,
    SY_CNC,
    SY_DP_KEY,
    jit,
)

# components of the rate table, in its layout
C_BROKERAGE, C_STT, C_EXCHANGE, C_IPFT, C_SEBI, C_STAMP, C_DP = 0, 1, 2, 3, 4, 5, 6
N_COMPONENTS = 7
# the lines of a contract note (``Charges`` field order)
CH_BROKERAGE, CH_STT, CH_EXCHANGE, CH_IPFT, CH_SEBI, CH_STAMP, CH_GST, CH_DP = range(8)
N_CH = 8
# lots
L_SIDE, L_QTY, L_PRICE, L_OPEN, L_NEXT = 0, 1, 2, 3, 4
L_CH = 5  # the 8 lines of the delivery charges the lot paid
N_L = L_CH + N_CH
# day_book blocks
DB_DP_PAID, DB_BUY_HEAD, DB_BUY_TAIL, DB_SELL_HEAD, DB_SELL_TAIL, DB_DP_LOT = range(6)
N_DB = 6


@jit(F0(F5, B3, I0, I0, I0, I0, F0))
def cost_line(rates, has_rate, row, d, c, si, value):
    """``RateRow.amount``: one line of a contract note (0 where the table charges nothing)."""
    if not has_rate[row, c, si]:
        return 0.0
    charge = value * rates[row, d, c, si, 0] + rates[row, d, c, si, 1]
    cap = rates[row, d, c, si, 2]
    return charge if charge < cap else cap


@jit(I0(F5, I3, I1, I0, I0, I0))
def refused(rates, rate_err, k, row, d, si):
    """True (and the error recorded once) when the model would refuse a rate of this row."""
    if rate_err[row, d, si] == 0:
        return 0
    if k[K_ERROR] == 0:
        k[K_ERROR] = rate_err[row, d, si]
        k[K_ERR_SYM] = row
        k[K_ERR_DAY] = d
        k[K_ERR_SIDE] = si
    return 1


@jit(nt.void(F1, I0, I0, I0, F0, I0, I0, F1, I1, F5, B3, I1))
def order_charges(out, row, side, qty, price, d, key, cf, ci, rates, has_rate, day_book):
    """``FyersCostModel._order``: the lines of one order in ``row``'s segment into ``out``;
    records the DP charge as paid for (``key``, ``d``)."""
    si = 0 if side == BUY else 1
    value = price * qty
    brokerage = cost_line(rates, has_rate, row, d, C_BROKERAGE, si, value)
    exchange = cost_line(rates, has_rate, row, d, C_EXCHANGE, si, value)
    ipft = cost_line(rates, has_rate, row, d, C_IPFT, si, value)
    sebi = cost_line(rates, has_rate, row, d, C_SEBI, si, value)
    gst_base = brokerage + exchange
    if ci[CI_GST_ALL_FEES] != 0:
        gst_base += ipft + sebi
    dp = 0.0
    if has_rate[row, C_DP, si]:
        paid = key * rates.shape[1] + d  # (ISIN, day): days are not in order at the end of data
        if day_book[paid] == 0:
            day_book[paid] = 1
            dp = cost_line(rates, has_rate, row, d, C_DP, si, value) * (1.0 + cf[CF_GST])
    out[CH_BROKERAGE] = brokerage
    out[CH_STT] = cost_line(rates, has_rate, row, d, C_STT, si, value)
    out[CH_EXCHANGE] = exchange
    out[CH_IPFT] = ipft
    out[CH_SEBI] = sebi
    out[CH_STAMP] = cost_line(rates, has_rate, row, d, C_STAMP, si, value)
    out[CH_GST] = gst_base * cf[CF_GST]
    out[CH_DP] = dp


@jit(F0(F1))
def total(ch):
    """``Charges.total``."""
    return (
        ch[CH_BROKERAGE]
        + ch[CH_STT]
        + ch[CH_EXCHANGE]
        + ch[CH_IPFT]
        + ch[CH_SEBI]
        + ch[CH_STAMP]
        + ch[CH_GST]
        + ch[CH_DP]
    )


@jit(F0(I0, I0, I0, F0, I0, I2, F1, I1, F5, B3, I3, I1, I1, F2))
def fill_costs(s, side, qty, price, d, sym, cf, ci, rates, has_rate, rate_err, k, day_book, lots):
    """``FyersCostModel.fill_costs`` of one fill of symbol ``s`` on rate day ``d``."""
    if ci[CI_COSTS] == 0:
        return 0.0
    n_sym = sym.shape[0]
    key = sym[s, SY_DP_KEY]
    si = 0 if side == BUY else 1
    out = np.zeros(N_CH)
    if sym[s, SY_CNC] == 0:
        if refused(rates, rate_err, k, s, d, si):
            return 0.0
        order_charges(out, s, side, qty, price, d, key, cf, ci, rates, has_rate, day_book)
        return total(out)
    # same-day CNC: intraday for what matches the day's earlier opposite lots, delivery for the
    # rest (FyersCostModel._cnc, line by line)
    kd = rates.shape[1] * key + d
    kd_size = rates.shape[1] * (day_book.shape[0] // (N_DB * rates.shape[1]))
    own_head = (DB_BUY_HEAD if side == BUY else DB_SELL_HEAD) * kd_size + kd
    own_tail = (DB_BUY_TAIL if side == BUY else DB_SELL_TAIL) * kd_size + kd
    opp_head = (DB_SELL_HEAD if side == BUY else DB_BUY_HEAD) * kd_size + kd
    opp_tail = (DB_SELL_TAIL if side == BUY else DB_BUY_TAIL) * kd_size + kd
    intraday_row = n_sym + s
    part = np.empty(N_CH)
    matched = 0
    while day_book[opp_head] >= 0 and matched < qty:
        h = day_book[opp_head]
        lot_side = int(lots[h, L_SIDE])
        m = min(int(lots[h, L_OPEN]), qty - matched)
        factor = m / lots[h, L_QTY]
        if refused(rates, rate_err, k, intraday_row, d, 0 if lot_side == BUY else 1):
            return 0.0
        order_charges(part, intraday_row, lot_side, m, lots[h, L_PRICE], d, key, cf, ci, rates,
                      has_rate, day_book)  # fmt: skip
        for c in range(N_CH):
            booked = 0.0 if c == CH_DP else lots[h, L_CH + c] * factor
            out[c] = out[c] + part[c] - booked
        lots[h, L_OPEN] -= m
        matched += m
        if lots[h, L_OPEN] == 0:
            day_book[opp_head] = int(lots[h, L_NEXT])
            if day_book[opp_head] < 0:
                day_book[opp_tail] = -1
    if matched:
        if refused(rates, rate_err, k, intraday_row, d, si):
            return 0.0
        order_charges(part, intraday_row, side, matched, price, d, key, cf, ci, rates, has_rate,
                      day_book)  # fmt: skip
        for c in range(N_CH):
            out[c] = out[c] + part[c]
    rest = qty - matched
    dp_lot = DB_DP_LOT * kd_size + kd
    if rest:
        if refused(rates, rate_err, k, s, d, si):
            return 0.0
        order_charges(part, s, side, rest, price, d, key, cf, ci, rates, has_rate, day_book)
        n = k[K_LOTS]
        k[K_LOTS] = n + 1
        if n >= lots.shape[0]:
            return total(out)  # no room: counted, and the kernel runs again with room
        lots[n, L_SIDE] = side
        lots[n, L_QTY] = rest
        lots[n, L_PRICE] = price
        lots[n, L_OPEN] = rest
        lots[n, L_NEXT] = -1
        for c in range(N_CH):
            lots[n, L_CH + c] = part[c]
            out[c] = out[c] + part[c]
        if day_book[own_tail] >= 0:
            lots[day_book[own_tail], L_NEXT] = n
        else:
            day_book[own_head] = n
        day_book[own_tail] = n
        if part[CH_DP] > 0:
            day_book[dp_lot] = n
    sell_head = DB_SELL_HEAD * kd_size + kd
    if side == BUY and matched and day_book[sell_head] < 0 and day_book[dp_lot] >= 0:
        # every delivery sell of the day matched a buy: nothing was delivered, no DP charge
        refund = lots[day_book[dp_lot], L_CH + CH_DP]
        if refund != 0.0:
            out[CH_DP] = out[CH_DP] - refund
            day_book[kd] = 0
            day_book[dp_lot] = -1
    return total(out)
