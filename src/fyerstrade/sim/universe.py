"""The simulator's instruments: about 50 NSE equities, the NIFTY 50 and NIFTY BANK indices, and
current- and next-month index futures and options (:func:`build_universe`).

Equities and indices are *roots*: the synthetic market draws their paths. Futures and options are
*derivatives*, priced from their root's path (futures at index plus carry, options by
Black-Scholes), so every price in the simulator is consistent with its underlying.

Scrip codes are the NSE tokens the real symbol master uses for these names; ISINs are synthetic
(``INESIM…``) because the simulator has no business inventing real-looking ones. Derivative
contracts depend on the date: the monthly expiry is the last Tuesday of the month moved back to a
trading day, and the expiry epoch is 15:30 IST on that day.
"""

from __future__ import annotations

import calendar as pycalendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from enum import StrEnum

from fyerstrade.calendar import NSECalendar, ist_epoch

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
EXPIRY_CLOSE = time(15, 30)
STRIKES_EACH_SIDE = 10


class Kind(StrEnum):
    EQUITY = "EQ"
    INDEX = "INDEX"
    FUTURE = "FUT"
    OPTION = "OPT"


@dataclass(frozen=True, slots=True)
class SimInstrument:
    """One tradable (or index) symbol as the simulator knows it."""

    symbol: str  # Fyers ticker, e.g. "NSE:SBIN-EQ"
    name: str  # "Symbol Details" of the master
    kind: Kind
    token: int  # exchange scrip code
    tick: float
    lot: int
    base_price: float = 0.0  # roots: price level around the end of 2026
    daily_vol: float = 0.0  # roots: daily log-return volatility
    daily_volume: int = 0  # roots and derivatives: typical shares/contracts a day
    root: str = ""  # derivatives: the root symbol they are priced from
    underlying: str = ""  # master column 14 (e.g. "SBIN", "NIFTY")
    underlying_token: int = 0
    expiry: date | None = None
    strike: float = -1.0
    option_type: str = "XX"
    isin: str = ""
    iv: float = 0.0  # options: the fixed implied volatility

    @property
    def is_derivative(self) -> bool:
        return self.kind in (Kind.FUTURE, Kind.OPTION)

    @property
    def segment(self) -> int:
        return 11 if self.is_derivative else 10

    @property
    def expiry_ts(self) -> int:
        """Expiry epoch (15:30 IST on the expiry day), 0 for cash instruments."""
        return ist_epoch(self.expiry, EXPIRY_CLOSE) if self.expiry else 0

    @property
    def fytoken(self) -> str:
        """Fyers token: exchange 10, segment, expiry YYMMDD (000000 for cash), scrip code."""
        expiry = self.expiry.strftime("%y%m%d") if self.expiry else "000000"
        return f"10{self.segment}{expiry}{self.token}"

    @property
    def instrument_type(self) -> int:
        """Fyers' exchange instrument type (0 EQ, 10 INDEX, 11 FUTIDX, 14 OPTIDX)."""
        return {Kind.EQUITY: 0, Kind.INDEX: 10, Kind.FUTURE: 11, Kind.OPTION: 14}[self.kind]


# (ticker, company name, NSE token, price level, tick)
_EQUITIES: tuple[tuple[str, str, int, float, float], ...] = (
    ("RELIANCE", "RELIANCE INDUSTRIES LTD", 2885, 1450.0, 0.10),
    ("TCS", "TATA CONSULTANCY SERV LT", 11536, 3100.0, 0.10),
    ("HDFCBANK", "HDFC BANK LTD", 1333, 980.0, 0.05),
    ("INFY", "INFOSYS LIMITED", 1594, 1550.0, 0.10),
    ("ICICIBANK", "ICICI BANK LTD.", 4963, 1400.0, 0.10),
    ("SBIN", "STATE BANK OF INDIA", 3045, 950.0, 0.10),
    ("ITC", "ITC LTD", 1660, 410.0, 0.05),
    ("LT", "LARSEN & TOUBRO LTD.", 11483, 3900.0, 0.10),
    ("AXISBANK", "AXIS BANK LIMITED", 5900, 1200.0, 0.10),
    ("KOTAKBANK", "KOTAK MAHINDRA BANK LTD", 1922, 2100.0, 0.10),
    ("BHARTIARTL", "BHARTI AIRTEL LIMITED", 10604, 2000.0, 0.10),
    ("HINDUNILVR", "HINDUSTAN UNILEVER LTD.", 1394, 2450.0, 0.10),
    ("BAJFINANCE", "BAJAJ FINANCE LIMITED", 317, 1000.0, 0.05),
    ("MARUTI", "MARUTI SUZUKI INDIA LTD.", 10999, 16000.0, 0.10),
    ("ASIANPAINT", "ASIAN PAINTS LIMITED", 236, 2500.0, 0.10),
    ("TATAMOTORS", "TATA MOTORS LIMITED", 3456, 700.0, 0.05),
    ("WIPRO", "WIPRO LTD", 3787, 250.0, 0.05),
    ("HCLTECH", "HCL TECHNOLOGIES LTD", 7229, 1600.0, 0.10),
    ("SUNPHARMA", "SUN PHARMACEUTICAL IND L", 3351, 1700.0, 0.10),
    ("TITAN", "TITAN COMPANY LIMITED", 3506, 3600.0, 0.10),
    ("ULTRACEMCO", "ULTRATECH CEMENT LIMITED", 11532, 12000.0, 0.10),
    ("NTPC", "NTPC LTD", 11630, 340.0, 0.05),
    ("POWERGRID", "POWER GRID CORP. LTD.", 14977, 290.0, 0.05),
    ("ONGC", "OIL AND NATURAL GAS CORP.", 2475, 245.0, 0.05),
    ("M&M", "MAHINDRA & MAHINDRA LTD", 2031, 3500.0, 0.10),
    ("TATASTEEL", "TATA STEEL LIMITED", 3499, 165.0, 0.05),
    ("JSWSTEEL", "JSW STEEL LIMITED", 11723, 1100.0, 0.10),
    ("ADANIENT", "ADANI ENTERPRISES LIMITED", 25, 2400.0, 0.10),
    ("ADANIPORTS", "ADANI PORT & SEZ LTD", 15083, 1400.0, 0.10),
    ("COALINDIA", "COAL INDIA LTD", 20374, 390.0, 0.05),
    ("NESTLEIND", "NESTLE INDIA LIMITED", 17963, 1200.0, 0.10),
    ("BAJAJFINSV", "BAJAJ FINSERV LTD.", 16675, 2000.0, 0.10),
    ("TECHM", "TECH MAHINDRA LIMITED", 13538, 1500.0, 0.10),
    ("HINDALCO", "HINDALCO INDUSTRIES LTD", 1363, 750.0, 0.05),
    ("GRASIM", "GRASIM INDUSTRIES LTD", 1232, 2800.0, 0.10),
    ("DRREDDY", "DR. REDDY S LABORATORIES", 881, 1250.0, 0.10),
    ("CIPLA", "CIPLA LTD", 694, 1500.0, 0.10),
    ("DIVISLAB", "DIVI S LABORATORIES LTD", 10940, 6200.0, 0.50),
    ("BRITANNIA", "BRITANNIA INDUSTRIES LTD", 547, 5800.0, 0.50),
    ("EICHERMOT", "EICHER MOTORS LTD", 910, 6900.0, 0.50),
    ("HEROMOTOCO", "HERO MOTOCORP LIMITED", 1348, 5400.0, 0.50),
    ("BAJAJ-AUTO", "BAJAJ AUTO LIMITED", 16669, 8900.0, 0.50),
    ("APOLLOHOSP", "APOLLO HOSPITALS ENTER. L", 157, 7500.0, 0.50),
    ("INDUSINDBK", "INDUSIND BANK LIMITED", 5258, 800.0, 0.05),
    ("SBILIFE", "SBI LIFE INSURANCE CO LTD", 21808, 1850.0, 0.10),
    ("HDFCLIFE", "HDFC LIFE INS CO LTD", 467, 760.0, 0.05),
    ("TATACONSUM", "TATA CONSUMER PRODUCT LTD", 3432, 1100.0, 0.10),
    ("BPCL", "BHARAT PETROLEUM CORP LT", 526, 330.0, 0.05),
    ("SHRIRAMFIN", "SHRIRAM FINANCE LIMITED", 4306, 640.0, 0.05),
    ("TRENT", "TRENT LTD", 1964, 5000.0, 0.50),
    ("IDEA", "VODAFONE IDEA LIMITED", 14366, 9.0, 0.01),
    ("YESBANK", "YES BANK LIMITED", 11915, 21.0, 0.01),
)


@dataclass(frozen=True, slots=True)
class IndexSpec:
    symbol: str
    name: str
    token: int
    base_price: float
    fo_name: str  # the F&O underlying name, e.g. "NIFTY"
    lot: int
    strike_step: int
    iv: float


INDICES: tuple[IndexSpec, ...] = (
    IndexSpec("NSE:NIFTY50-INDEX", "NIFTY 50", 26000, 25800.0, "NIFTY", 65, 50, 0.14),
    IndexSpec("NSE:NIFTYBANK-INDEX", "NIFTY BANK", 26009, 57500.0, "BANKNIFTY", 30, 100, 0.17),
)


def _equities() -> list[SimInstrument]:
    out = []
    for i, (ticker, name, token, price, tick) in enumerate(_EQUITIES):
        daily_volume = int(4e9 / max(price, 50.0))  # a few thousand crore rupees of turnover
        out.append(
            SimInstrument(
                symbol=f"NSE:{ticker}-EQ",
                name=name,
                kind=Kind.EQUITY,
                token=token,
                tick=tick,
                lot=1,
                base_price=price,
                daily_vol=0.014 + 0.004 * (i % 4),
                daily_volume=daily_volume,
                underlying=ticker,
                underlying_token=token,
                isin=f"INESIM{token:06d}",
            )
        )
    return out


def _indices() -> list[SimInstrument]:
    return [
        SimInstrument(
            symbol=spec.symbol,
            name=spec.name,
            kind=Kind.INDEX,
            token=spec.token,
            tick=0.05,
            lot=0,
            base_price=spec.base_price,
            daily_vol=0.009 if spec.fo_name == "NIFTY" else 0.011,
            underlying=spec.symbol.split(":")[1].removesuffix("-INDEX"),
            underlying_token=spec.token,
        )
        for spec in INDICES
    ]


ROOTS: tuple[SimInstrument, ...] = (*_equities(), *_indices())


def last_tuesday(year: int, month: int) -> date:
    """The last Tuesday of a month (NSE's monthly index expiry day since September 2025)."""
    last = pycalendar.monthrange(year, month)[1]
    d = date(year, month, last)
    return date.fromordinal(d.toordinal() - (d.weekday() - 1) % 7)


def monthly_expiry(year: int, month: int, cal: NSECalendar) -> date:
    """The month's expiry: the last Tuesday, moved back to a trading day if NSE is shut."""
    d = last_tuesday(year, month)
    return d if cal.is_trading_day(d) else cal.previous_trading_day(d)


def active_expiries(today: date, cal: NSECalendar, count: int = 2) -> list[date]:
    """The next ``count`` monthly expiries on or after ``today`` (current month first)."""
    out: list[date] = []
    year, month = today.year, today.month
    while len(out) < count:
        e = monthly_expiry(year, month, cal)
        if e >= today:
            out.append(e)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _derivatives(
    today: date, cal: NSECalendar, spot: Callable[[str], float]
) -> list[SimInstrument]:
    out: list[SimInstrument] = []
    token = 35000
    for spec in INDICES:
        level = spot(spec.symbol)
        atm = round(level / spec.strike_step) * spec.strike_step
        strikes = [
            atm + k * spec.strike_step for k in range(-STRIKES_EACH_SIDE, STRIKES_EACH_SIDE + 1)
        ]
        for expiry in active_expiries(today, cal):
            code = f"{expiry:%y}{MONTHS[expiry.month - 1]}"
            human = f"{expiry.day:02d} {expiry:%b} {expiry:%y}"
            common = {
                "tick": 0.05,
                "lot": spec.lot,
                "root": spec.symbol,
                "underlying": spec.fo_name,
                "underlying_token": spec.token,
                "expiry": expiry,
            }
            out.append(
                SimInstrument(
                    symbol=f"NSE:{spec.fo_name}{code}FUT",
                    name=f"{spec.fo_name} {human} FUT",
                    kind=Kind.FUTURE,
                    token=token,
                    daily_volume=spec.lot * 40_000,
                    **common,  # type: ignore[arg-type]
                )
            )
            token += 1
            for strike in strikes:
                for opt_type in ("CE", "PE"):
                    out.append(
                        SimInstrument(
                            symbol=f"NSE:{spec.fo_name}{code}{strike}{opt_type}",
                            name=f"{spec.fo_name} {human} {strike} {opt_type}",
                            kind=Kind.OPTION,
                            token=token,
                            daily_volume=spec.lot * 20_000,
                            strike=float(strike),
                            option_type=opt_type,
                            iv=spec.iv,
                            **common,  # type: ignore[arg-type]
                        )
                    )
                    token += 1
    return out


@dataclass(frozen=True, slots=True)
class Universe:
    """Every instrument the simulator serves on one date, by symbol."""

    day: date
    instruments: dict[str, SimInstrument]

    def get(self, symbol: str) -> SimInstrument | None:
        return self.instruments.get(symbol)

    def segment(self, segment: int) -> list[SimInstrument]:
        """Instruments of one segment (10 cash, 11 F&O), in master order."""
        return [i for i in self.instruments.values() if i.segment == segment]


def build_universe(today: date, cal: NSECalendar, spot: Callable[[str], float]) -> Universe:
    """The universe on ``today``. ``spot(index_symbol)`` gives the index level the option strike
    band is centred on (the previous session's close, so the band is fixed for the day)."""
    instruments = [*ROOTS, *_derivatives(today, cal, spot)]
    return Universe(today, {i.symbol: i for i in instruments})
