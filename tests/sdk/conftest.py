"""The SDK suites run against one real ``alfax serve`` on loopback (the integration harness's session fixture).

Accounts: ``plain`` is a fresh non-challenge account (operator API via the CLI); the demo account (id 1) is a
STAGE_1 challenge of ``10k-2step``; tests buy further challenges with the ``stub`` payment provider.
The operator key is the one ``alfax serve`` writes to ``<db>.operator.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from alfax_harness import Rest  # noqa: E402
from sdk_helpers import Creds, operator_creds  # noqa: E402
from server_fixtures import alfax_server, fresh_account, rules  # noqa: E402,F401  (pytest fixtures)

from alfax import Client  # noqa: E402


@pytest.fixture(scope="session")
def operator(alfax_server) -> Creds:
    return operator_creds(alfax_server)


@pytest.fixture(scope="session")
def operator_rest(alfax_server, operator):
    r = Rest(alfax_server.base_url, operator.api_key, operator.secret)
    yield r
    r.close()


@pytest.fixture(scope="session")
def demo(alfax_server) -> Creds:
    return Creds(alfax_server.api_key, alfax_server.secret, 1)


@pytest.fixture(scope="module")
def plain(alfax_server) -> Creds:
    """A plain (non-challenge) account with 10000 USDT, one per test module."""
    acc = alfax_server.create_account("10000")
    return Creds(acc.api_key, acc.secret, acc.account_id)


@pytest.fixture(scope="module")
def client(alfax_server, plain):
    with Client(api_key=plain.api_key, api_secret=plain.secret, base_url=alfax_server.base_url) as c:
        yield c


@pytest.fixture(scope="session")
def public_rest(alfax_server):
    r = Rest(alfax_server.base_url)
    yield r
    r.close()
