"""pytest fixtures shared by tests/integration and tests/cli: one real ``alfax serve`` per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from alfax_harness import AlfaxServer, Rest, symbol_rules, wait_for_market


@pytest.fixture(scope="session")
def alfax_server(tmp_path_factory):
    """Yields an AlfaxServer with base_url, api_key, secret (demo account 1), db_path, create_account()."""
    external = os.environ.get("ALFAX_TEST_URL")  # debugging aid: reuse a server you started yourself
    if external:
        srv = AlfaxServer(db_path=Path(os.environ["ALFAX_TEST_DB"]))
        srv.host, srv.port = external.split("://", 1)[1].rsplit(":", 1)[0], int(external.rsplit(":", 1)[1])
        srv.api_key, srv.secret = os.environ["ALFAX_TEST_KEY"], os.environ["ALFAX_TEST_SECRET"]
        wait_for_market(srv.base_url)
        yield srv
        return
    tmp = tmp_path_factory.mktemp("alfax")
    srv = AlfaxServer(db_path=tmp / "alfax.db", speed=1.0)
    srv.start()
    try:
        wait_for_market(srv.base_url, timeout=60)
        yield srv
    finally:
        srv.stop()
        if srv.proc and srv.proc.returncode not in (0, -2, 130, None):
            print(f"alfax serve exited with {srv.proc.returncode}; log tail:\n{srv.log_text()[-3000:]}")


@pytest.fixture(scope="session")
def rules(alfax_server):
    r = Rest(alfax_server.base_url)
    try:
        return symbol_rules(r)
    finally:
        r.close()


@pytest.fixture()
def fresh_account(alfax_server):
    """A new account (10000 USDT) created through the CLI/operator API for one test."""
    return alfax_server.create_account("10000")
