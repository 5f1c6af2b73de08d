"""How a live engine with REAL orders starts (:class:`RealStart`): used by
:class:`~fyerstrade.live.engine.LiveEngine` when the config says ``broker: fyers`` and this
machine allows real trading.

* :meth:`RealStart.segment_row`: every real start begins a new segment of the day from the
  account as Fyers shows it. A segment that crashed is reconciled with Fyers first
  (:func:`~fyerstrade.live.real_restart.reconcile_restart`: never replayed, nothing sent again)
  and closed as ``crashed``; a difference Fyers' books show pulls the kill switch with its
  report.
* :meth:`RealStart.broker`: the :class:`~fyerstrade.live.fyers_broker.FyersBroker` of the new
  segment — its gateway (paced at ``real.orders_per_second``, never resending an unproven place),
  the order socket, and a tracker that knows every order the day's segments recorded.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from datetime import date

from fyerstrade.calendar import ist_date
from fyerstrade.config import Settings
from fyerstrade.domain import Instrument
from fyerstrade.fyers.order_gateway import OrderGateway, OrderPacer
from fyerstrade.fyers.order_stream import OrderStream
from fyerstrade.live.clock import Monotonic
from fyerstrade.live.config import LiveConfig
from fyerstrade.live.fyers_broker import FyersBroker
from fyerstrade.live.killswitch import KillSwitch
from fyerstrade.live.real_restart import RestartReport, reconcile_restart, tracker_for_day
from fyerstrade.live.session_store import SessionRow, SessionStore
from fyerstrade.trading.costs import FyersCostModel, ZeroCostModel

__all__ = ["RealStart"]

log = logging.getLogger(__name__)


class RealStart:
    """``token`` is ``"APP_ID:ACCESS_TOKEN"``."""

    def __init__(
        self, settings: Settings, config: LiveConfig, token: str, kill_switch: KillSwitch
    ) -> None:
        self.settings = settings
        self.config = config
        self.token = token
        self.kill_switch = kill_switch
        self.report: RestartReport | None = None

    def gateway(self) -> OrderGateway:
        app_id, _, jwt = self.token.partition(":")
        pacer = OrderPacer(self.config.real.orders_per_second)  # real bursts: real time
        # never resent: an unproven place is held as unknown until the orderbook settles it
        return OrderGateway(self.settings, app_id=app_id, access_token=jwt, pacer=pacer, resends=0)

    def segment_row(
        self,
        store: SessionStore,
        trading: sqlite3.Connection,
        session_id: str,
        now: int,
        instruments: Mapping[str, Instrument],
    ) -> SessionRow:
        cfg = self.config
        found = store.session_row(session_id)
        crashed = found is not None and found[1] == "running"
        report = self.report = reconcile_restart(
            trading,
            self.gateway(),
            day=ist_date(now),
            symbols=cfg.symbols,
            instruments=instruments,
            costs=FyersCostModel() if cfg.costs else ZeroCostModel(),
            capital=cfg.capital,
            now=now,
            segment=f"{session_id}#{found[0].segment}" if found is not None else session_id,
        )
        log.warning("real orders, %s: %s", "restart" if crashed else "start", report.describe())
        if found is not None and crashed:
            store.close_segment(
                session_id, status="crashed", now=now, cash=report.cash, equity=report.equity
            )
            if report.differences:
                self.kill_switch.activate(
                    "restart: positions differed from Fyers' (Fyers' adopted): "
                    + "; ".join(report.differences),
                    "engine",
                )
        segment = found[0].segment + 1 if found is not None else 1
        # the same trading day: intraday positions are still open at Fyers
        account = store.stored_account(cfg.capital, cfg.symbols, "")
        return store.open_segment(session_id, segment, cfg, account, now)

    def broker(
        self,
        segment: str,
        day: date,
        instruments: Mapping[str, Instrument],
        trading: sqlite3.Connection,
        monotonic: Monotonic,
    ) -> FyersBroker:
        real = self.config.real
        return FyersBroker(
            self.gateway(),
            key=segment,
            day=day,
            instruments={s: (i.tick_size, i.lot_size) for s, i in instruments.items()},
            band_pct=real.market_protection_pct,
            reconcile_seconds=real.reconcile_seconds,
            lag_grace=real.lag_grace_seconds,
            stream=OrderStream(self.settings, self.token),
            tracker=tracker_for_day(trading, day),
            monotonic=monotonic,
        )
