from __future__ import annotations

import pytest
from ledger_helpers import algo, algo_event, income_event, order, order_event, trade

from alfax.domain.commands import CancelOrder, PlaceOrder, Transfer
from alfax.domain.enums import AlgoStatus, ExecutionType, IncomeType, OrderStatus, OrderType, Side
from alfax.domain.orders import Order
from alfax.ledger import Ledger, LedgerReader

PO = PlaceOrder(1, "BTCUSDT", Side.BUY, OrderType.LIMIT, quantity=10, price=6_500_000)


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "r.db"
    led = Ledger(path)
    seq = 0

    def nxt():
        nonlocal seq
        seq += 1
        return seq

    # 30 orders for account 1 BTCUSDT at t = 1000 + 10*i, 5 for ETHUSDT, 5 for account 2
    for i in range(1, 31):
        o = order(i, time=1000 + 10 * i, status=OrderStatus.EXPIRED)
        led.append(o.time, PO, [order_event(nxt(), o)])
    for i in range(31, 36):
        led.append(0, PO, [order_event(nxt(), order(i, symbol="ETHUSDT", time=2000 + i, status=OrderStatus.EXPIRED))])
    for i in range(36, 41):
        led.append(0, PO, [order_event(nxt(), order(i, account_id=2, time=2000 + i, status=OrderStatus.EXPIRED))])
    # order 3 fills in two trades (later state replaces the earlier one), order 4 is canceled
    o3 = order(3, time=1030)
    o3.executed_qty, o3.status, o3.update_time = 4, OrderStatus.PARTIALLY_FILLED, 5000
    o3b = o3.copy()
    o3b.executed_qty, o3b.status, o3b.update_time = 10, OrderStatus.FILLED, 5001
    led.append(5000, PO, [order_event(nxt(), o3, ExecutionType.TRADE, trade(1, 3, time=5000)),
                          order_event(nxt(), o3b, ExecutionType.TRADE, trade(2, 3, time=5001)),
                          income_event(nxt(), ts=5000), income_event(nxt(), ts=5001)])
    o4 = order(4, time=1040)
    o4.status = OrderStatus.CANCELED
    led.append(5100, CancelOrder(1, "BTCUSDT", 4), [order_event(nxt(), o4, ExecutionType.CANCELED)])
    for i in range(3, 30):
        led.append(6000 + i, PO, [order_event(nxt(), order(100 + i, time=6000 + i, status=OrderStatus.FILLED),
                                               ExecutionType.TRADE, trade(i, 100 + i, time=6000 + i))])
    # income: 30 transfers + funding for ETH
    for i in range(30):
        led.append(7000 + i, Transfer(1, 100), [income_event(nxt(), income_type=IncomeType.TRANSFER, amount=100,
                                                              symbol="", ts=7000 + i)])
    for i in range(5):
        led.append(8000 + i, Transfer(1, 1), [income_event(nxt(), income_type=IncomeType.FUNDING_FEE,
                                                            symbol="ETHUSDT", ts=8000 + i)])
    for i in range(1, 11):
        a = algo(i, create_time=1000 + i, symbol="BTCUSDT" if i % 2 else "ETHUSDT", status=AlgoStatus.EXPIRED)
        led.append(a.create_time, PO, [algo_event(nxt(), a)])
    a5 = algo(5, create_time=1005)
    a5.status = AlgoStatus.CANCELED
    led.append(9000, PO, [algo_event(nxt(), a5)])
    led.flush().result(10)
    reader = LedgerReader(path)
    yield led, reader
    reader.close()
    led.close()


def test_get_order_by_id_and_client_id(db):
    _, r = db
    o = r.get_order(1, "BTCUSDT", order_id=3)
    assert isinstance(o, Order) and o.status is OrderStatus.FILLED and o.executed_qty == 10
    assert r.get_order(1, "BTCUSDT", client_order_id="c4").status is OrderStatus.CANCELED
    assert r.get_order(1, "ETHUSDT", order_id=3) is None
    assert r.get_order(2, "BTCUSDT", order_id=3) is None
    assert r.get_order(1, "BTCUSDT", order_id=3, client_order_id="c9").order_id == 3  # orderId wins
    assert r.get_order(1, "BTCUSDT") is None


def test_all_orders_paging(db):
    _, r = db
    recent = r.all_orders(1, "BTCUSDT", limit=5)
    assert [o.order_id for o in recent] == [125, 126, 127, 128, 129]  # most recent, ascending
    assert [o.order_id for o in r.all_orders(1, "BTCUSDT", order_id=10, limit=3)] == [10, 11, 12]
    assert [o.order_id for o in r.all_orders(1, "BTCUSDT", start_ms=1050, end_ms=1080)] == [5, 6, 7, 8]
    assert [o.order_id for o in r.all_orders(1, "BTCUSDT", end_ms=1030, limit=2)] == [2, 3]
    assert len(r.all_orders(1, "BTCUSDT")) == 57
    assert len(r.all_orders(1, "BTCUSDT", limit=10_000)) == 57  # clamped to 1000, not rejected here
    assert [o.order_id for o in r.all_orders(1, "ETHUSDT")] == [31, 32, 33, 34, 35]
    assert [o.order_id for o in r.all_orders(2, "BTCUSDT")] == [36, 37, 38, 39, 40]
    assert r.all_orders(3, "BTCUSDT") == []


def test_user_trades(db):
    _, r = db
    ts = r.user_trades(1, "BTCUSDT", order_id=3)
    assert [t.trade_id for t in ts] == [1, 2] and ts[0].evidence.source == "book"
    assert [t.trade_id for t in r.user_trades(1, "BTCUSDT", from_id=5, limit=3)] == [5, 6, 7]
    assert [t.trade_id for t in r.user_trades(1, "BTCUSDT", limit=2)] == [28, 29]
    assert [t.trade_id for t in r.user_trades(1, "BTCUSDT", start_ms=6010, end_ms=6012)] == [10, 11, 12]
    assert len(r.user_trades(1, "BTCUSDT")) == 29
    assert r.user_trades(1, "ETHUSDT") == []


def test_income_filters_and_pages(db):
    _, r = db
    all_rows = r.income(1, limit=1000)
    assert len(all_rows) == 37
    assert [i.ts for i in all_rows] == sorted(i.ts for i in all_rows)
    assert len(r.income(1)) == 37  # default limit 100
    tr = r.income(1, income_type="TRANSFER", limit=10, page=2)
    assert [i.ts for i in tr] == list(range(7010, 7020))
    assert all(i.income_type is IncomeType.TRANSFER for i in tr)
    assert r.income(1, income_type=IncomeType.TRANSFER, limit=10, page=4) == []
    assert [i.ts for i in r.income(1, symbol="ETHUSDT")] == [8000, 8001, 8002, 8003, 8004]
    assert [i.ts for i in r.income(1, start_ms=7028, end_ms=8001)] == [7028, 7029, 8000, 8001]
    assert [i.income_type for i in r.income(1, income_type="COMMISSION")] == [IncomeType.COMMISSION] * 2
    assert r.income(2) == []


def test_algos(db):
    _, r = db
    a5 = r.get_algo(1, algo_id=5)
    assert a5.status is AlgoStatus.CANCELED and a5.order_type is OrderType.STOP_MARKET
    assert r.get_algo(1, client_algo_id="a6").algo_id == 6
    assert r.get_algo(2, algo_id=5) is None
    assert [a.algo_id for a in r.all_algos(1)] == list(range(1, 11))
    assert [a.algo_id for a in r.all_algos(1, symbol="BTCUSDT")] == [1, 3, 5, 7, 9]
    assert [a.algo_id for a in r.all_algos(1, limit=3)] == [8, 9, 10]
    assert [a.algo_id for a in r.all_algos(1, start_ms=1004, end_ms=1006)] == [4, 5, 6]


def test_reader_sees_commits_while_writer_runs(db):
    led, r = db
    o = order(999, time=99_999, status=OrderStatus.FILLED)
    fut = led.append(99_999, PO, [order_event(10_000, o)])
    fut.result(10)  # ack == visible to the reader
    assert r.get_order(1, "BTCUSDT", order_id=999) == o


def test_queries_use_indexes(db):
    _, r = db
    plans = []
    for sql, args in [
        ("SELECT payload FROM orders WHERE account_id = ? AND symbol = ? ORDER BY time DESC, order_id DESC LIMIT ?", (1, "X", 5)),
        ("SELECT payload FROM orders WHERE account_id = ? AND client_order_id = ? AND symbol = ? ORDER BY order_id DESC LIMIT 1", (1, "c", "X")),
        ("SELECT payload FROM trades WHERE account_id = ? AND symbol = ? AND trade_id >= ? ORDER BY trade_id LIMIT ?", (1, "X", 1, 5)),
        ("SELECT payload FROM income WHERE account_id = ? AND income_type = ? ORDER BY time, seq LIMIT ? OFFSET ?", (1, "T", 5, 0)),
    ]:
        plan = " ".join(str(row[-1]) for row in r._conn.execute("EXPLAIN QUERY PLAN " + sql, args))
        plans.append(plan)
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan or "PRIMARY KEY" in plan, plan
        assert "SCAN orders" not in plan.replace("USING", "") or "INDEX" in plan


def test_open_orders_are_not_written_to_history(tmp_path):
    """Open orders live in the engine; the history table receives an order only in its final state."""
    led = Ledger(tmp_path / "o.db")
    o = order(1, status=OrderStatus.NEW)
    a = algo(1)
    led.append(1, PO, [order_event(1, o), algo_event(2, a)]).result(10)
    r = LedgerReader(tmp_path / "o.db")
    assert r.get_order(1, "BTCUSDT", 1) is None and r.get_algo(1, 1) is None
    done = o.copy()
    done.status = OrderStatus.CANCELED
    led.append(2, CancelOrder(1, "BTCUSDT", 1), [order_event(3, done, ExecutionType.CANCELED)]).result(10)
    assert r.get_order(1, "BTCUSDT", 1).status is OrderStatus.CANCELED
    r.close()
    led.close()
