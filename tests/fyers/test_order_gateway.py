"""The order gateway against the simulator, through the unmodified SDK: a lost reply never
becomes a second order, a request that never arrived is sent again, refusals are not retried,
and order requests stay under the order rate whatever the callers do."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from fyerstrade.config import load_settings
from fyerstrade.errors import BrokerError
from fyerstrade.fyers.order_gateway import OrderGateway, OrderPacer
from fyerstrade.fyers.orders import OrderState, Outcome
from fyerstrade.fyers.ratelimit import RateLimiter
from fyerstrade.sim import DEFAULT_APP_ID
from plugins.datasocket import wait_for
from plugins.orders import OrderSim, order_payload


@pytest.fixture
def gateway(order_sim: OrderSim, monkeypatch: pytest.MonkeyPatch) -> Callable[..., OrderGateway]:
    monkeypatch.setenv("FYERSTRADE_FYERS_URL", order_sim.server.url)

    def make(**kwargs: object) -> OrderGateway:
        settings = load_settings(env_file=None)
        args: dict[str, object] = {
            "rate_limiter": RateLimiter(per_second=100, per_minute=10_000, budget_file=None),
            "lookup_wait": 0.05,
        }
        args.update(kwargs)
        return OrderGateway(
            settings,
            app_id=DEFAULT_APP_ID,
            access_token=order_sim.token,
            **args,  # type: ignore[arg-type]
        )

    return make


def test_place_is_accepted(order_sim: OrderSim, gateway: Callable[..., OrderGateway]) -> None:
    result = gateway().place(order_payload(orderTag="gw1"))
    assert result.outcome is Outcome.ACCEPTED and result.sends == 1 and not result.found_by_tag
    assert order_sim.exchange.orders[result.broker_id].tag == "1:gw1"


def test_lost_reply_is_found_by_its_tag(
    order_sim: OrderSim, gateway: Callable[..., OrderGateway]
) -> None:
    order_sim.server.faults.set(order_reply_lost=1)
    result = gateway().place(order_payload(orderTag="gw2"))
    assert result.outcome is Outcome.ACCEPTED and result.found_by_tag and result.sends == 1
    assert list(order_sim.exchange.orders) == [result.broker_id]
    assert order_sim.exchange.counters.kinds["place"] == 1


def test_a_timeout_is_found_by_its_tag(
    order_sim: OrderSim, gateway: Callable[..., OrderGateway]
) -> None:
    order_sim.server.faults.set(order_ack_delay=3.0)
    result = gateway(timeout=0.5).place(order_payload(orderTag="gw3"))
    assert result.outcome is Outcome.ACCEPTED and result.found_by_tag
    assert len(order_sim.exchange.orders) == 1


def test_a_request_that_never_arrived_is_sent_again(
    order_sim: OrderSim, gateway: Callable[..., OrderGateway]
) -> None:
    order_sim.server.faults.set(http_5xx=1)  # a gateway error page before the OMS saw it
    result = gateway().place(order_payload(orderTag="gw4"))
    assert result.outcome is Outcome.ACCEPTED and result.sends == 2 and not result.found_by_tag
    assert len(order_sim.exchange.orders) == 1


def test_an_unproven_absence_is_never_resent(
    order_sim: OrderSim, gateway: Callable[..., OrderGateway]
) -> None:
    # the place reply is lost and every look-up fails too: the order may exist, so it stays
    # unknown and is not sent again
    order_sim.server.faults.set(order_reply_lost=1, truncated_body=6)
    result = gateway(lookups=3).place(order_payload(orderTag="gw5"))
    assert result.outcome is Outcome.UNKNOWN and result.sends == 1
    assert len(order_sim.exchange.orders) == 1  # it did reach the exchange


def test_rejections_and_refusals(order_sim: OrderSim, gateway: Callable[..., OrderGateway]) -> None:
    gw = gateway()
    order_sim.server.faults.set(order_reject_now=1)
    rejected = gw.place(order_payload(orderTag="gw6"))
    assert rejected.outcome is Outcome.REJECTED and rejected.found_by_tag
    assert rejected.message.startswith("RED:") and rejected.order is not None
    reads = order_sim.exchange.counters.calls["GET /api/v3/orders"]
    refused = gw.place(order_payload(symbol="NSE:NOPE-EQ", orderTag="gw7"))
    assert refused.outcome is Outcome.REFUSED and refused.sends == 1
    assert order_sim.exchange.counters.calls["GET /api/v3/orders"] == reads  # no look-up
    with pytest.raises(BrokerError, match="untagged"):
        gw.place(order_payload())


def test_a_duplicated_tag_stops_everything(
    order_sim: OrderSim, gateway: Callable[..., OrderGateway]
) -> None:
    order_sim.client.place_order(order_payload(orderTag="dup1"))
    order_sim.client.place_order(order_payload(orderTag="dup1"))
    order_sim.server.faults.set(order_reply_lost=1)
    with pytest.raises(BrokerError, match="more than once"):
        gateway().place(order_payload(orderTag="dup1"))


def test_cancel(order_sim: OrderSim, gateway: Callable[..., OrderGateway]) -> None:
    gw = gateway()
    far = round(order_sim.ltp() * 0.9, 1)
    resting = gw.place(order_payload(type=1, limitPrice=far, orderTag="gw8")).broker_id
    wait_for(lambda: order_sim.order(resting)["status"] == 6, what="resting")
    after = gw.cancel(resting)
    assert after is not None and after.state is OrderState.CANCELLED
    filled = gw.place(order_payload(orderTag="gw9")).broker_id
    wait_for(lambda: order_sim.order(filled)["status"] == 2, what="filled")
    done = gw.cancel(filled)  # too late: not an error, the book says it filled
    assert done is not None and done.state is OrderState.FILLED
    with pytest.raises(BrokerError, match="refused to cancel"):
        gw.cancel("99999999")
    lost = gw.place(order_payload(type=1, limitPrice=far, orderTag="gw10")).broker_id
    wait_for(lambda: order_sim.order(lost)["status"] == 6, what="resting")
    order_sim.server.faults.set(order_reply_lost=1)
    gone = gw.cancel(lost)
    assert gone is not None and gone.state is OrderState.CANCELLED
    assert order_sim.exchange.counters.kinds["cancel"] == 4


def test_reads(order_sim: OrderSim, gateway: Callable[..., OrderGateway]) -> None:
    gw = gateway()
    gw.place(order_payload(qty=5, orderTag="gw11"))
    wait_for(lambda: bool(order_sim.exchange.net_positions()), what="position")
    assert [o.tag for o in gw.orderbook()] == ["gw11"]
    assert [t.quantity for t in gw.tradebook()] == [5]
    assert [(p.symbol, p.net_qty) for p in gw.positions()] == [("NSE:SBIN-EQ", 5)]
    assert gw.funds().total == 1_000_000.0
    assert gw.profile()["fy_id"] == "XS00001"


def test_order_requests_are_paced_under_the_limit(
    order_sim: OrderSim, gateway: Callable[..., OrderGateway]
) -> None:
    gw = gateway(pacer=OrderPacer(per_second=8))
    far = round(order_sim.ltp() * 0.9, 1)

    def burst(worker: int) -> None:
        for i in range(8):
            gw.place(order_payload(type=1, limitPrice=far, orderTag=f"pace{worker}x{i}"))

    threads = [threading.Thread(target=burst, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    counters = order_sim.exchange.counters
    assert counters.kinds["place"] == 24
    assert counters.max_per_second() <= 8 and counters.rate_refusals == 0
    assert gw.pacer.waited > 0  # the burst was held back, not sent


def test_pacer_limits() -> None:
    with pytest.raises(ValueError, match="1 to 10"):
        OrderPacer(per_second=11)
