"""Session fixture: one real ``alfax serve`` subprocess on a free loopback port, shared by the client suites."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_fixtures import alfax_server, fresh_account, rules  # noqa: E402,F401  (pytest fixtures)
