"""API keys: which account a key trades for and what it may do."""

from __future__ import annotations

from dataclasses import dataclass

from .enums import Permission


@dataclass(frozen=True, slots=True)
class ApiKey:
    api_key: str
    secret: str
    account_id: int
    permissions: frozenset[Permission]
    enabled: bool = True
    label: str = ""
    created_ms: int = 0

    def allows(self, needed: Permission) -> bool:
        return self.enabled and needed in self.permissions
