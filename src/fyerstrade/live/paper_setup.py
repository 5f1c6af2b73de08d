"""How a paper-trading engine starts its segment of the day (:class:`PaperStart`), the paper
twin of :class:`~fyerstrade.live.real_setup.RealStart`: used by
:class:`~fyerstrade.live.engine.LiveEngine` unless the config says ``broker: fyers`` and this
machine allows real trading.

* A segment that crashed (``running`` in ``live_sessions``) under the same config, with the mark
  of where its ticks begin, is resumed: the engine restores it
  (:class:`~fyerstrade.live.recovery.PaperReplay`).
* Otherwise a new segment opens from the account the day's last segment left (a stale position
  of an earlier day is dropped and logged); a changed config never resumes a crashed segment.
* The paper venue is ours: there is no outside broker to start (:meth:`PaperStart.broker` is
  None).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from datetime import date

from fyerstrade.domain import Instrument, ProductType
from fyerstrade.live.clock import Monotonic
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.fyers_broker import FyersBroker
from fyerstrade.live.session_store import SessionRow, SessionStore, config_json

__all__ = ["PaperStart"]

log = logging.getLogger(__name__)


class PaperStart:
    def __init__(self, config: LiveConfig) -> None:
        self.config = config

    def segment_row(
        self,
        store: SessionStore,
        trading: sqlite3.Connection,
        session_id: str,
        now: int,
        instruments: Mapping[str, Instrument],
    ) -> SessionRow:
        """Today's segment: resume a crashed one, or open a new one from the stored account."""
        cfg = self.config
        stored_as = config_json(cfg)
        found = store.session_row(session_id)
        if found is not None:
            row, status, stored_config = found
            if status == "running" and stored_config == stored_as:
                if any(m.kind == "start" for m in store.marks(f"{session_id}#{row.segment}")):
                    return row
                log.warning(
                    "the crashed segment %s#%d has no record of where its ticks begin (an "
                    "older fyerstrade ran it): starting a new segment",
                    session_id,
                    row.segment,
                )
            elif status == "running":
                log.warning("the live config changed since the last start: starting a new segment")
        segment = found[0].segment + 1 if found is not None else 1
        account = store.stored_account(cfg.capital, cfg.symbols, ProductType.INTRADAY.value)
        for sym, qty, product in account.dropped:
            log.warning(
                "dropping a stale paper position %s %d (%s) from an earlier session",
                sym,
                qty,
                product,
            )
        return store.open_segment(session_id, segment, cfg, account, now)

    def broker(
        self,
        segment: str,
        day: date,
        instruments: Mapping[str, Instrument],
        trading: sqlite3.Connection,
        monotonic: Monotonic,
    ) -> FyersBroker | None:
        """No outside broker: the paper broker is built with the trader."""
        return None
