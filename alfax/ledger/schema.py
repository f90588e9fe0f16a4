"""SQLite schema of the ledger (journal, snapshots, read models, API keys) and connection helpers."""

from __future__ import annotations

import os
import sqlite3
import threading

SCHEMA_VERSION = 1
CACHE_KIB = 32 * 1024  # page cache per connection

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    journal_seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    payload     BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    snapshot_id INTEGER PRIMARY KEY AUTOINCREMENT,
    journal_seq INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    state_hash  TEXT    NOT NULL,
    blob        BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_seq ON snapshots (journal_seq);

CREATE TABLE IF NOT EXISTS orders (
    order_id        INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL,
    symbol          TEXT    NOT NULL,
    client_order_id TEXT    NOT NULL,
    time            INTEGER NOT NULL,
    update_time     INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    payload         BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_acct_sym_id   ON orders (account_id, symbol, order_id);
CREATE INDEX IF NOT EXISTS orders_acct_coid     ON orders (account_id, client_order_id);

CREATE TABLE IF NOT EXISTS algo_orders (
    algo_id        INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL,
    symbol         TEXT    NOT NULL,
    client_algo_id TEXT    NOT NULL,
    create_time    INTEGER NOT NULL,
    update_time    INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    payload        BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS algo_acct_sym_time ON algo_orders (account_id, symbol, create_time);
CREATE INDEX IF NOT EXISTS algo_acct_caid     ON algo_orders (account_id, client_algo_id);

CREATE TABLE IF NOT EXISTS trades (
    trade_id   INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    symbol     TEXT    NOT NULL,
    order_id   INTEGER NOT NULL,
    time       INTEGER NOT NULL,
    payload    BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS trades_acct_sym_id    ON trades (account_id, symbol, trade_id);
CREATE INDEX IF NOT EXISTS trades_acct_sym_order ON trades (account_id, symbol, order_id);

CREATE TABLE IF NOT EXISTS income (
    seq         INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL,
    symbol      TEXT    NOT NULL,
    income_type TEXT    NOT NULL,
    time        INTEGER NOT NULL,
    tran_id     INTEGER NOT NULL,
    payload     BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS income_acct_time      ON income (account_id, time);

CREATE TABLE IF NOT EXISTS api_keys (
    api_key     TEXT PRIMARY KEY,
    secret      TEXT    NOT NULL,
    account_id  INTEGER NOT NULL,
    permissions TEXT    NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 1,
    label       TEXT    NOT NULL DEFAULT '',
    created_ms  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS api_keys_acct ON api_keys (account_id);
"""


def connect(path: str, *, synchronous: str = "NORMAL", check_same_thread: bool = True) -> sqlite3.Connection:
    """Autocommit connection (explicit BEGIN/COMMIT) in WAL mode with the schema in place."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread, timeout=30.0)
    conn.execute("PRAGMA busy_timeout=30000")
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"could not switch {path} to WAL (got {mode})")
    sync = synchronous.upper()
    if sync not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"bad synchronous mode {synchronous!r}")
    conn.execute(f"PRAGMA synchronous={sync}")
    # index pages of the read models are touched at random (one leaf per account per index): keep them cached
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    conn.execute("PRAGMA foreign_keys=OFF")
    ensure_schema(conn)
    return conn


def write_immediate(conn: sqlite3.Connection, lock, fn):
    """Run ``fn()`` in one ``BEGIN IMMEDIATE`` transaction under ``lock`` (stores that own a connection shared by
    threads): committed when it returns, rolled back if it raises."""
    with lock:
        conn.execute("BEGIN IMMEDIATE")
        try:
            out = fn()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return out


class SqliteStore:
    """A store that is not venue state (not journaled, not hashed): it owns one connection to the shared database
    file (WAL), guarded by a lock because the event loop and worker threads share it. Subclasses set ``DDL``
    (idempotent ``CREATE … IF NOT EXISTS``) and write through :meth:`_write`."""

    DDL = ""

    def __init__(self, path: str | os.PathLike, *, synchronous: str = "NORMAL") -> None:
        self.path = os.fspath(path)
        self._conn = connect(self.path, synchronous=synchronous, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(self.DDL)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _write(self, fn):
        return write_immediate(self._conn, self._lock, fn)


def _resolve_futures(items: list) -> None:
    for fut, result, exc in items:
        if fut.done():  # the waiter gave up (cancelled); the row is committed anyway
            continue
        if exc is None:
            fut.set_result(result)
        else:
            fut.set_exception(exc)


def resolve_on_loop(loop, items: list) -> None:
    """Resolve a commit's asyncio futures — ``(future, result, exception)`` triples — from a writer thread, with
    one wake-up of ``loop`` for the whole batch (group-commit writers: the journal, the alert log)."""
    try:
        loop.call_soon_threadsafe(_resolve_futures, items)
    except RuntimeError:  # loop closed: nobody is waiting any more
        pass


def ensure_schema(conn: sqlite3.Connection) -> None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:  # no meta table yet
        row = None
    if row is not None and int(row[0]) == SCHEMA_VERSION:
        return  # in place: no write lock needed (readers open while the writer commits)
    conn.executescript(SCHEMA)
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def connect_reader(path: str) -> sqlite3.Connection:
    """A query-only connection for the event loop thread (WAL lets it read while the writer commits)."""
    # Make sure the file, WAL mode and schema exist (idempotent), then open a query-only connection.
    connect(path).close()
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA query_only=1")
    return conn
