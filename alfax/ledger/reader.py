"""History read models (HistoryReader in docs/DESIGN.md) over a separate query-only SQLite connection.

Rows are written by the Ledger's writer thread in the same transaction as the journal rows, and the runtime
answers a client only after that COMMIT, so anything a client was told about is visible here.

Binance paging semantics implemented here (the edge validates parameters and applies the "last 7 days"
default windows, which need the clock):
- get_order / get_algo: by id, else by client id (the latest order carrying it); the id wins when both are given.
- all_orders: ``order_id`` -> orders with orderId >= it, ascending; ``start_ms`` (and/or ``end_ms``) -> that
  time window, ascending from its start; ``end_ms`` alone or nothing -> the most recent ``limit``; results are
  always ascending. limit default 500, max 1000.
- user_trades: ``order_id`` -> trades of that order; ``from_id`` -> tradeId >= it, ascending; window as
  all_orders. limit default 500, max 1000.
- income: filters by income_type / symbol / window, ascending by time, ``page`` (1-based) of ``limit`` rows.
  limit default 100, max 1000.
- all_algos: like all_orders by time (symbol optional).
Every query is served by an index whose prefix is (account_id[, symbol|income_type]).
"""

from __future__ import annotations

import os
import threading

from alfax.domain.events import Income
from alfax.domain.orders import AlgoOrder, Order, Trade

from . import codec
from .schema import connect_reader

MAX_LIMIT = 1000


def _clamp(limit: int, default: int) -> int:
    if not limit or limit <= 0:
        return default
    return min(int(limit), MAX_LIMIT)


class LedgerReader:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._conn = connect_reader(self.path)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    def _rows(self, sql: str, args: tuple) -> list:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # ------------------------------------------------------------------ orders

    @staticmethod
    def _order(payload: bytes) -> Order:
        return codec.decode_as(Order, codec.loads(payload))

    def get_order(self, account_id: int, symbol: str, order_id: int = 0, client_order_id: str = "") -> Order | None:
        if order_id:
            rows = self._rows(
                "SELECT payload FROM orders WHERE order_id = ? AND account_id = ? AND symbol = ?",
                (order_id, account_id, symbol),
            )
        elif client_order_id:
            rows = self._rows(
                "SELECT payload FROM orders WHERE account_id = ? AND client_order_id = ? AND symbol = ? "
                "ORDER BY order_id DESC LIMIT 1",
                (account_id, client_order_id, symbol),
            )
        else:
            return None
        return self._order(rows[0][0]) if rows else None

    def all_orders(
        self, account_id: int, symbol: str, order_id: int = 0, start_ms: int = 0, end_ms: int = 0, limit: int = 500
    ) -> list[Order]:
        limit = _clamp(limit, 500)
        where = "account_id = ? AND symbol = ?"
        args: list = [account_id, symbol]
        where += _window("time", start_ms, end_ms, args)
        if order_id:
            sql = f"SELECT payload FROM orders WHERE {where} AND order_id >= ? ORDER BY order_id LIMIT ?"
            args += [order_id, limit]
            rows = self._rows(sql, tuple(args))
        elif start_ms:
            sql = f"SELECT payload FROM orders WHERE {where} ORDER BY time, order_id LIMIT ?"
            rows = self._rows(sql, (*args, limit))
        else:
            sql = f"SELECT payload FROM orders WHERE {where} ORDER BY time DESC, order_id DESC LIMIT ?"
            rows = self._rows(sql, (*args, limit))
            rows.reverse()
        return [self._order(r[0]) for r in rows]

    # ------------------------------------------------------------------ trades

    @staticmethod
    def _trade(payload: bytes) -> Trade:
        return codec.decode_as(Trade, codec.loads(payload))

    def user_trades(
        self,
        account_id: int,
        symbol: str,
        order_id: int = 0,
        from_id: int = 0,
        start_ms: int = 0,
        end_ms: int = 0,
        limit: int = 500,
    ) -> list[Trade]:
        limit = _clamp(limit, 500)
        where = "account_id = ? AND symbol = ?"
        args: list = [account_id, symbol]
        if order_id:
            where += " AND order_id = ?"
            args.append(order_id)
        where += _window("time", start_ms, end_ms, args)
        if from_id:
            rows = self._rows(
                f"SELECT payload FROM trades WHERE {where} AND trade_id >= ? ORDER BY trade_id LIMIT ?",
                (*args, from_id, limit),
            )
        elif order_id:
            rows = self._rows(f"SELECT payload FROM trades WHERE {where} ORDER BY trade_id LIMIT ?", (*args, limit))
        elif start_ms:
            rows = self._rows(
                f"SELECT payload FROM trades WHERE {where} ORDER BY time, trade_id LIMIT ?", (*args, limit)
            )
        else:
            rows = self._rows(
                f"SELECT payload FROM trades WHERE {where} ORDER BY time DESC, trade_id DESC LIMIT ?", (*args, limit)
            )
            rows.reverse()
        return [self._trade(r[0]) for r in rows]

    # ------------------------------------------------------------------ income

    def income(
        self,
        account_id: int,
        symbol: str = "",
        income_type: str = "",
        start_ms: int = 0,
        end_ms: int = 0,
        limit: int = 100,
        page: int = 1,
    ) -> list[Income]:
        limit = _clamp(limit, 100)
        page = max(1, int(page or 1))
        where = "account_id = ?"
        args: list = [account_id]
        if income_type:
            where += " AND income_type = ?"
            args.append(str(income_type))
        if symbol:
            where += " AND symbol = ?"
            args.append(symbol)
        where += _window("time", start_ms, end_ms, args)
        rows = self._rows(
            f"SELECT payload FROM income WHERE {where} ORDER BY time, seq LIMIT ? OFFSET ?",
            (*args, limit, (page - 1) * limit),
        )
        return [codec.decode_event(codec.loads(r[0])) for r in rows]  # type: ignore[misc]

    # ------------------------------------------------------------------ algo orders

    @staticmethod
    def _algo(payload: bytes) -> AlgoOrder:
        return codec.decode_as(AlgoOrder, codec.loads(payload))

    def get_algo(self, account_id: int, algo_id: int = 0, client_algo_id: str = "") -> AlgoOrder | None:
        if algo_id:
            rows = self._rows(
                "SELECT payload FROM algo_orders WHERE algo_id = ? AND account_id = ?", (algo_id, account_id)
            )
        elif client_algo_id:
            rows = self._rows(
                "SELECT payload FROM algo_orders WHERE account_id = ? AND client_algo_id = ? "
                "ORDER BY algo_id DESC LIMIT 1",
                (account_id, client_algo_id),
            )
        else:
            return None
        return self._algo(rows[0][0]) if rows else None

    def all_algos(
        self, account_id: int, symbol: str = "", start_ms: int = 0, end_ms: int = 0, limit: int = 500
    ) -> list[AlgoOrder]:
        limit = _clamp(limit, 500)
        where = "account_id = ?"
        args: list = [account_id]
        if symbol:
            where += " AND symbol = ?"
            args.append(symbol)
        where += _window("create_time", start_ms, end_ms, args)
        if start_ms:
            rows = self._rows(
                f"SELECT payload FROM algo_orders WHERE {where} ORDER BY create_time, algo_id LIMIT ?", (*args, limit)
            )
        else:
            rows = self._rows(
                f"SELECT payload FROM algo_orders WHERE {where} ORDER BY create_time DESC, algo_id DESC LIMIT ?",
                (*args, limit),
            )
            rows.reverse()
        return [self._algo(r[0]) for r in rows]


def _window(column: str, start_ms: int, end_ms: int, args: list) -> str:
    """Binance startTime/endTime (inclusive, 0 = open) as an SQL condition; appends its arguments."""
    cond = ""
    if start_ms:
        cond += f" AND {column} >= ?"
        args.append(start_ms)
    if end_ms:
        cond += f" AND {column} <= ?"
        args.append(end_ms)
    return cond
