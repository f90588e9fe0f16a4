"""Reuse the integration harness and its session server fixture for the CLI tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from server_fixtures import alfax_server, fresh_account, rules  # noqa: E402,F401  (pytest fixtures)
