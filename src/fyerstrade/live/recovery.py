"""Recovery: how a restarted segment of a trading day gets back to where it was.

A :class:`Recovery` restores a :class:`~fyerstrade.live.session.LiveSession` that was just
built from the segment's starting account and warm-up. It restores what happened; it never
decides the day again, and it never sends an order twice.

* Paper trading (:class:`PaperReplay`): the paper venue is ours, so what happened is entirely
  in the stored ticks (``live_ticks``), the engine's marks (``live_marks``: what it did between
  ticks on its own clock, at its place in the tick stream) and the bars it used
  (``live_bars``). They are replayed in their order through the same session, so every decision
  is taken again on exactly what the live run saw — and the journal checks each order and fill
  against what was recorded (:class:`~fyerstrade.live.journal.RecoveryError` on a difference;
  nothing is written twice). The strategy's own state comes back with it.
* A real broker (issue 12) is never replayed: the orders are out at the exchange. A real start
  reconciles before any segment is built (``live/real_setup.py``,
  :func:`~fyerstrade.live.real_restart.reconcile_restart`): the orders the journal recorded are
  looked up by tag at Fyers (fills booked, never-sent ones marked, nothing re-sent), Fyers'
  positions win, and the crashed segment is closed; a new segment then starts from that
  account.

After either, the minutes missed while the engine was down are a gap like any other: the first
tick after the restart backfills them from history.
"""

from __future__ import annotations

from typing import Protocol

from fyerstrade.live.gaps import RecordedBars, hhmmss
from fyerstrade.live.session import LiveSession

__all__ = ["PaperReplay", "Recovery"]


class Recovery(Protocol):
    def restore(self, session: LiveSession, now: int) -> None:
        """Bring ``session`` (fresh from the segment's start) to where the segment was; ``now``
        is the market time of the restart."""


class PaperReplay:
    """Replays a segment's stored ticks and marks (see the module docstring)."""

    def restore(self, session: LiveSession, now: int) -> None:
        store = session.store
        marks = store.marks(session.segment)
        start = next(m for m in marks if m.kind == "start")
        marks = [m for m in marks if m.kind != "start"]
        session.mark_seq = max((m.seq for m in marks), default=start.seq)
        day = session.session
        used = store.bars_between(session.symbols, day.open_ts, day.close_ts)
        session.replay_with(RecordedBars({(b.symbol, b.ts): (b, src) for b, src in used}))
        k = 0
        try:
            for t in store.ticks_after(start.a, session.symbols):
                while k < len(marks) and marks[k].at_tick <= session.n_ticks:
                    session.apply_mark(marks[k])
                    k += 1
                session.on_tick(t, persist=False)
            for m in marks[k:]:
                session.apply_mark(m)
        finally:
            session.replay_with(None)
        if session.first_gap_seen:
            # the live run saw the session's first tick: what is missed since its last one is
            # a gap like any other
            session.gap_from = session.last_session_tick
        else:
            session.gap_from = now
            session.startup_gap = True
            session.before_open.clear()  # (what the new connection shows decides)
        trader = session.trader
        held = sum(1 for p in trader.engine.portfolio.positions.values() if p.quantity)
        last = session.last_session_tick
        session.journal.engine_log(
            trader.clock.now(),
            f"replayed {session.n_ticks:,} stored ticks"
            + (f" up to {hhmmss(last)} IST" if last else "")
            + f"; {held} open position(s) restored",
        )


def start_segment(session: LiveSession, now: int) -> None:
    """A new segment: where its ticks begin is its first mark; whatever the market does between
    ``now`` and the first tick is backfilled."""
    session.mark("start", session.store.last_tick_id())
    session.store.flush_live()
    session.gap_from = now
    session.startup_gap = True
