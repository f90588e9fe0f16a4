"""Durability and history: group-commit journal (SQLite WAL), snapshots + replay, read models, API keys and the
operator audit log, challenge purchases; for signals (issue 5) the durable per-channel signal log, the
TradingView alert log with two-phase idempotency, webhook settings, signal subscriptions, hub logins and
notifications.

A one-way consumer of engine commands/events; imports only ``alfax.domain`` (never api/feeds/marketdata).
"""

from .alert_log import AlertRow, IdemRow, SqliteAlertLog
from .audit import SqliteAuditLog
from .hub_users import HubUserExists, SqliteHubUsers
from .journal import Ledger, LedgerClosed, LedgerError
from .keys import SqliteKeyStore, load_or_create_operator, operator_path
from .notifications import SqliteNotifications
from .purchases import SqlitePurchaseStore
from .reader import LedgerReader
from .signal_log import SignalRecord, SqliteSignalLog, parse_event_id
from .snapshot import RecoveryError, ReplayClock, Snapshot, recover
from .subscriptions import SqliteSubscriptions
from .webhooks import SqliteWebhooks, Webhook

__all__ = [
    "AlertRow", "HubUserExists", "IdemRow", "Ledger", "LedgerClosed", "LedgerError", "LedgerReader", "RecoveryError", "ReplayClock",
    "SignalRecord", "Snapshot", "SqliteAlertLog", "SqliteAuditLog", "SqliteHubUsers", "SqliteKeyStore",
    "SqliteNotifications", "SqlitePurchaseStore", "SqliteSignalLog", "SqliteSubscriptions", "SqliteWebhooks", "Webhook", "load_or_create_operator", "operator_path", "parse_event_id", "recover",
]
