"""Cost-model state belongs to one run: a model reused for a second run charges it alike."""

from __future__ import annotations

from datetime import date

from fyerstrade.domain import Instrument, ProductType, Side
from fyerstrade.trading.costs import FyersCostModel
from plugins.trading import days, ist_ts, run_table

SYM = "NSE:TEST-EQ"
ROWS = [("10:00", 100.0, 101.0, 99.0, 100.5), ("10:05", 100.6, 102.0, 100.2, 101.8)]


def test_a_reused_cost_model_charges_the_dp_charge_in_every_run() -> None:
    # bought (CNC) on the 2nd, sold on the 3rd: a delivery sell pays the DP charge once a day
    script = {
        "2024-05-02 10:00": [lambda c: c.buy(c.symbols[0], 10)],
        "2024-05-03 10:00": [lambda c: c.close(c.symbols[0])],
    }
    model = FyersCostModel()
    runs = [
        run_table(
            [],
            script,
            bars=days(ROWS, date(2024, 5, 2), date(2024, 5, 3)),
            instrument=Instrument(SYM, isin="INE000TEST01"),
            costs=True,
            cost_model=model,
        )
        for _ in range(2)
    ]
    for r in runs:
        assert [(f.side, f.product) for f in r.fills] == [
            (Side.BUY, ProductType.CNC),
            (Side.SELL, ProductType.CNC),
        ]
    first, second = ([f.costs for f in r.fills] for r in runs)
    assert first == second
    # the sale paid DP: more than the same sale without it
    alone = FyersCostModel().charges(
        Instrument(SYM, isin="INE000TEST01"),
        ProductType.CNC,
        Side.SELL,
        10,
        100.6,
        ist_ts("10:05", date(2024, 5, 3)),
    )
    assert alone.dp > 0 and first[1] > alone.total - alone.dp
