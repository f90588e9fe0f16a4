"""Durability and history: group-commit journal (SQLite WAL), snapshots + replay, read models, API keys and the
operator audit log, challenge purchases; for signals (issue 5 groundwork) the durable per-channel signal log and
the TradingView alert log with two-phase idempotency.

A one-way consumer of engine commands/events; imports only ``alfax.domain`` (never api/feeds/marketdata).
"""

from .alert_log import AlertRow, IdemRow, SqliteAlertLog
from .audit import SqliteAuditLog
from .journal import Ledger, LedgerClosed, LedgerError
from .keys import SqliteKeyStore, load_or_create_operator, operator_path
from .purchases import SqlitePurchaseStore
from .reader import LedgerReader
from .signal_log import SignalRecord, SqliteSignalLog, parse_event_id
from .snapshot import RecoveryError, ReplayClock, Snapshot, recover

__all__ = [
    "AlertRow", "IdemRow", "Ledger", "LedgerClosed", "LedgerError", "LedgerReader", "RecoveryError", "ReplayClock",
    "SignalRecord", "Snapshot", "SqliteAlertLog", "SqliteAuditLog", "SqliteKeyStore", "SqlitePurchaseStore",
    "SqliteSignalLog", "load_or_create_operator", "operator_path", "parse_event_id", "recover",
]
