"""The one exception tree of fyerstrade, grouped by what the caller does next.

::

    FyersTradeError                  base: the CLI prints str(err) on one line, exit code 2
    ├── InputError                   fix your input (bad option, unknown symbol, malformed config)
    │   ├── ConfigError              a setting or config file is invalid (names the key)
    │   ├── UnknownSymbolError       a symbol is not in the symbol master / store
    │   └── UnknownStrategyError     no strategy of that name is registered
    ├── AuthError                    log in again: `fyerstrade auth login`
    ├── RetryableError               a transient failure; retry later (backoff)
    │   └── RateLimitError           Fyers answered 429 / -429; carries retry_after seconds
    ├── BrokerError                  the broker (Fyers or simulator) refused or failed a request
    │   └── OrderStateError          a broker reported what an order's state cannot take: stop
    ├── StrategyError                a strategy raised: fix the strategy (names it, symbol, bar)
    ├── DataError                    stored or downloaded data is wrong or missing
    │   ├── StoreError               a database file is unusable (not SQLite, newer schema, ...)
    │   └── CalendarCoverageError    a date lies past the published NSE holiday lists
    └── EngineError                  the live engine refused an operation (already running, ...)
        └── ReconciliationError      the broker and our books disagree: trading halts

    KeyboardInterrupt
    └── StrategyInterrupted          Ctrl-C inside strategy code: names strategy, symbol, bar, line

Third-party exceptions are translated where they enter (``fyers/``, ``store/``), so callers only
ever catch these. Messages say what to do next and never contain tokens or secrets.
"""

from __future__ import annotations


class FyersTradeError(Exception):
    """Base class: a failure with a message a user can act on."""


class InputError(FyersTradeError):
    """The caller's input is invalid; fixing the input fixes the problem."""


class ConfigError(InputError):
    """A setting or configuration file is invalid."""


class UnknownSymbolError(InputError):
    """A symbol is not known to the symbol master or the store."""


class UnknownStrategyError(InputError):
    """No strategy with this name is registered."""


class AuthError(FyersTradeError):
    """The access token is missing, expired or rejected; log in again."""


class RetryableError(FyersTradeError):
    """A transient failure (network, 5xx, timeout); the same call may succeed later."""


class RateLimitError(RetryableError):
    """The server answered with a rate-limit rejection."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BrokerError(FyersTradeError):
    """The broker refused or failed a request (order rejected, invalid parameter)."""


class OrderStateError(BrokerError):
    """A broker event an order's state cannot take (a fill after its cancel, an overfill, an
    event for an order never placed): the books can no longer be trusted; stop and look."""


class StrategyError(FyersTradeError):
    """A strategy raised an exception; the message names strategy, symbol and bar."""


class DataError(FyersTradeError):
    """Data is missing, inconsistent or corrupt."""


class StoreError(DataError):
    """A database file cannot be used as it is (not SQLite, written by a newer version)."""


class CalendarCoverageError(DataError):
    """A date lies beyond the NSE holiday lists the calendar knows (``year``: the first such
    year, when the date is past them rather than before the calendar's start)."""

    def __init__(self, message: str, *, year: int | None = None) -> None:
        super().__init__(message)
        self.year = year


class StrategyInterrupted(KeyboardInterrupt):
    """Ctrl-C arrived while strategy code was running (an endless loop in ``on_data``?): still a
    KeyboardInterrupt for every caller, with a message naming strategy, symbol, bar and line."""


class EngineError(FyersTradeError):
    """The live engine cannot do what was asked (already running, not running)."""


class ReconciliationError(EngineError):
    """What the broker reports cannot be true of our books (an order we never sent, a fill
    beyond the order): trading halts and the message names the difference."""
