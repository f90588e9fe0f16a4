"""Durability and history: group-commit journal (SQLite WAL), snapshots + replay, read models, API keys and the
operator audit log.

A one-way consumer of engine commands/events; imports only ``alfax.domain`` (never api/feeds/marketdata).
"""

from .audit import SqliteAuditLog
from .journal import Ledger, LedgerClosed, LedgerError
from .keys import SqliteKeyStore, load_or_create_operator, operator_path
from .reader import LedgerReader
from .snapshot import RecoveryError, ReplayClock, Snapshot, recover

__all__ = [
    "Ledger", "LedgerClosed", "LedgerError", "LedgerReader", "RecoveryError", "ReplayClock", "Snapshot",
    "SqliteAuditLog", "SqliteKeyStore", "load_or_create_operator", "operator_path", "recover",
]
