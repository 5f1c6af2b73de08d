"""The end of a live run (:func:`end_session`), the day's end or a stop alike.

In this order, so that the books say what happened at the exchange (or the paper venue):

1. bars: at the day's end every symbol's last minutes are closed (from history where the feed
   was down); on a stop the held ticks are released and nothing more is made up;
2. positions: a stop squares off everything when ``on_stop: square_off``; otherwise an intraday
   run squares off its intraday positions, stamped at the end of the run's trading (not when the
   engine got round to it);
3. orders still working end: cancelled at a stop, expired at the end of the run's trading (a
   day order) — real orders as Fyers reports them (``trader.settle``);
4. the journal's last equity point, the bars and ticks still queued, and the segment's row
   (``stopped`` or ``closed``, with its cash and equity for the next segment).
"""

from __future__ import annotations

from fyerstrade.live.session import LiveSession

__all__ = ["end_session"]


def end_session(
    session: LiveSession, *, session_id: str, on_stop: str, stopped: bool, until: int, now: int
) -> float:
    """End the run of ``session`` at market time ``now`` (see the module docstring); returns
    the equity it ended with."""
    trader, store = session.trader, session.store
    if stopped:
        session.release_all()
    else:
        session.finish_bars(until, now)
    if stopped and on_stop == "square_off":
        trader.square_off_all(now, "manual", only_intraday=False)
    elif trader.guard.intraday:
        end = max(session.trade_end, trader.clock.ts)
        trader.square_off_all(end, "square_off", only_intraday=True)
    trader.settle(now)  # real orders: the square-off's fills, as Fyers reports them
    ended = now if stopped else max(session.trade_end, trader.clock.ts)
    trader.end_orders(ended, stopped=stopped)
    if not trader.settle(now):
        session.journal.engine_log(now, "stopped with orders still unanswered", "WARNING")
    trader.engine.finish(close_positions=False)
    equity = trader.equity()
    session.journal.engine_log(
        now,
        f"session {'stopped' if stopped else 'closed'}: equity ₹{equity:,.2f} "
        f"(day P&L ₹{equity - trader.start_equity:,.2f})",
    )
    store.flush_live(bars=True)
    session.journal.commit(trader.engine.portfolio, now, equity_point=(equity, 0.0))
    store.close_segment(
        session_id,
        status="stopped" if stopped else "closed",
        now=now,
        cash=trader.engine.portfolio.cash,
        equity=equity,
    )
    return equity
