"""The vectorized kernel's array layouts, codes and numba types, shared by its modules.

Every kernel table is a plain numpy array whose columns (or rows) the constants below name: the
run's arrays (``B_*`` per bar, ``SY_*`` per symbol, ``CF_``/``CI_`` configuration), the state
(``P_*`` positions, ``W_*`` working orders, ``K_*`` counters, ``G_*`` floats) and the records
(``F_*`` fills, ``R_*`` rejections, ``T_*`` round trips). Functions are compiled with explicit
signatures (``jit``): compiled once, cached on disk (``cache.py``), never re-specialised for a
constant argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fyerstrade.backtest.vector import cache as _cache

_cache.configure()

import numba as nb  # noqa: E402  (after the cache directory is chosen)
from numba import types as nt  # noqa: E402

# ---- codes shared with the Python side --------------------------------------------------------
MARKET, STOP, LIMIT = 0, 1, 2  # also the matching priority inside a bar
BUY, SELL = 1, -1
INTRADAY, CNC, MARGIN = 0, 1, 2
TAG_SIGNAL, TAG_ENTRY, TAG_STOP, TAG_SQUARE_OFF, TAG_END_OF_DATA = 0, 1, 2, 3, 4
TAG_ENTRY_CUSTOM = 5  # the strategy's own entry tag
TAG_TARGET = 10  # target k (from 0) is TAG_TARGET + k
FLAG_ENTRY_OK, FLAG_SQ_OPEN, FLAG_SQ_CLOSE = 1, 2, 4
REJ_QTY, REJ_LOT, REJ_LIMIT, REJ_STOP, REJ_CNC_SHORT, REJ_WINDOW = 1, 2, 3, 4, 5, 6
REJ_FUNDS, REJ_FUNDS_AT_FILL, REJ_INDEX = 7, 8, 9
BOOK = 8  # working orders per symbol: an entry, a close, a stop, four targets, one spare

# per-bar ints (bar_i rows)
B_FLAGS, B_LOT, B_RDAY_OPEN, B_RDAY_CLOSE = 0, 1, 2, 3
N_B = 4
# symbol table (sym columns)
SY_START, SY_LEN, SY_PRODUCT, SY_DERIVATIVE, SY_DP_KEY, SY_CNC, SY_INDEX = range(7)
N_SY = 7  # SY_CNC: same-day CNC orders are matched and charged intraday; SY_INDEX: untradable
# position state per symbol (pos columns); P_BY_RANK of row r is the r-th symbol to trade
P_QTY, P_OPENED, P_PRODUCT, P_RANK, P_CURSOR, P_BOOKED, P_BY_RANK = 0, 1, 2, 3, 4, 5, 6
N_P = 7
PF_AVG, PF_COSTS = 0, 1
N_PF = 2
# working orders (bk_i, bk_f)
W_USED, W_KIND, W_SIDE, W_QTY, W_ACTIVE, W_SEQ, W_TAG, W_PRODUCT = 0, 1, 2, 3, 4, 5, 6, 7
W_REDUCE, W_ENTRY, W_SEEN, W_BATCH = 8, 9, 10, 11
N_WI = 12
W_PRICE, W_REF, W_STOP = 0, 1, 2
N_WF = 3
# counters (k)
K_SEQ, K_SUBMITTED, K_STEP, K_FILLS, K_REJECTS, K_TRADES, K_POSITIONS, K_ERROR = range(8)
K_ERR_SYM, K_ERR_DAY, K_ERR_SIDE, K_LOTS = 8, 9, 10, 11
N_K = 12
# float state (g)
G_CASH, G_LAST_FILL = 0, 1
N_G = 2
# fill records
F_SEQ, F_STEP, F_SYM, F_BAR, F_TS, F_SIDE, F_QTY, F_PRICE, F_COSTS, F_TAG, F_PRODUCT = range(11)
F_CASH, F_POSITION = 11, 12
N_F = 13
# rejection records
R_TS, R_SYM, R_SIDE, R_QTY, R_CODE, R_PRICE, R_FREE, R_OPENING, R_LOT, R_PRODUCT = range(10)
R_POSITION, R_KIND = 10, 11
N_R = 12
# round-trip records
T_SYM, T_SIDE, T_QTY, T_ENTRY_TS, T_ENTRY_PRICE, T_EXIT_TS, T_EXIT_PRICE, T_PNL, T_COSTS = range(9)
T_TAG, T_PRODUCT = 9, 10
N_T = 11
# configuration
CF_CAPITAL, CF_SLIP_TICKS, CF_SLIP_BPS, CF_HEADROOM, CF_GST = 0, 1, 2, 3, 4
CF_LEV = 5  # 5, 6, 7: leverage of INTRADAY, CNC, MARGIN
N_CF = 8
CI_FIXED_QTY, CI_COSTS, CI_GST_ALL_FEES, CI_RECORDS, CI_ENTRY_TAG = 0, 1, 2, 3, 4
CI_FIRST_BAR = 5  # one symbol: its first bar after the warm-up (step t is bar CI_FIRST_BAR + t)
N_CI = 6

# ---- signatures -------------------------------------------------------------------------------
I0, F0, B0 = nt.int64, nt.float64, nt.boolean


def _arr(dtype: nt.Type, ndim: int) -> nt.Array:
    return nt.Array(dtype, ndim, "C")


I1, I2, I3 = _arr(I0, 1), _arr(I0, 2), _arr(I0, 3)
F1, F2, F3, F5 = _arr(F0, 1), _arr(F0, 2), _arr(F0, 3), _arr(F0, 5)
B1, B3 = _arr(B0, 1), _arr(B0, 3)
U1 = _arr(nt.uint8, 1)
RF1 = nt.Array(F0, 1, "C", readonly=True)  # read-only (a writeable array fits too)
RI1 = nt.Array(I0, 1, "C", readonly=True)
# a run's prices (open, high, low, close) and times (open, close) per bar: one symbol's own
# arrays, or the rows of several symbols' tables laid end to end
PX = nt.UniTuple(RF1, 4)  # type: ignore[no-untyped-call]
TM = nt.UniTuple(RI1, 2)  # type: ignore[no-untyped-call]
# the per-bar ints (B_* rows) as int32, bar-major: bar i's four share one 16-byte row, so a
# signal step reads one cache line of them (a (N, 4) table seen through its (4, N) transpose)
BI = nt.Array(nt.int32, 2, "F")
B1_PAIR = nt.UniTuple(B1, 2)  # type: ignore[no-untyped-call]
# the cost table: rates, which rates exist, refused days
RATES = (F5, B3, I3)

_T = TypeVar("_T")


def jit(signature: Any, *, nrt: bool = True) -> Callable[[_T], _T]:
    """numba's ``njit`` with an explicit signature, cached on disk, releasing the GIL; with
    ``nrt=False`` compiled without numba's runtime (no allocation, no reference counting of the
    arrays it passes around)."""
    options: dict[str, Any] = {"cache": True, "nogil": True, "_nrt": nrt}
    decorate: Callable[[_T], _T] = nb.njit(signature, **options)
    return decorate


def inline(fn: _T) -> _T:
    """A helper numba inlines into its callers (in the per-bar path a call that passes arrays
    costs more than the work: every array argument is reference-counted)."""
    decorate: Any = nb.njit(inline="always", nogil=True)
    inlined: _T = decorate(fn)
    return inlined
