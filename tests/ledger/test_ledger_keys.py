from __future__ import annotations

import json
import os
import stat

from alfax.domain.enums import Permission
from alfax.domain.keys import ApiKey
from alfax.ledger import Ledger, SqliteKeyStore, load_or_create_operator, operator_path

RT = frozenset({Permission.READ, Permission.TRADE})


def test_create_lookup_revoke_persist(tmp_path):
    path = tmp_path / "k.db"
    ks = SqliteKeyStore(path)
    k = ks.create(7, RT, "bot")
    assert isinstance(k, ApiKey)
    assert len(k.api_key) == 64 and len(k.secret) == 64 and k.api_key.isalnum() and k.secret.isalnum()
    assert k.api_key != k.secret and k.enabled and k.label == "bot" and k.account_id == 7
    assert ks.lookup(k.api_key) is k  # cached
    assert ks.lookup("nope") is None and ks.lookup("") is None
    k2 = ks.create(7, frozenset({Permission.READ}))
    k3 = ks.create(8, RT)
    assert [x.api_key for x in ks.list(7)] == [k.api_key, k2.api_key]
    assert len(ks.list()) == 3
    assert ks.revoke(k.api_key) is True
    assert ks.revoke(k.api_key) is False and ks.revoke("missing") is False
    got = ks.lookup(k.api_key)
    assert got is not None and not got.enabled and not got.allows(Permission.READ)
    ks.close()

    ks2 = SqliteKeyStore(path)  # persisted
    assert ks2.lookup(k.api_key).enabled is False
    assert ks2.lookup(k2.api_key) == k2 and ks2.lookup(k2.api_key).permissions == frozenset({Permission.READ})
    assert ks2.lookup(k3.api_key).allows(Permission.TRADE)
    ks2.close()


def test_keys_share_the_ledger_db(tmp_path):
    path = tmp_path / "shared.db"
    led = Ledger(path)
    ks = SqliteKeyStore(path)
    k = ks.create(1, RT)
    from alfax.domain.commands import Transfer

    assert led.append(1, Transfer(1, 1)).result(10) == 1
    led.close()
    other = SqliteKeyStore(path)
    assert other.lookup(k.api_key) == k
    # a key created by another store instance is found on a cache miss
    k2 = other.create(2, RT)
    assert ks.lookup(k2.api_key) == k2


def test_operator_credentials(tmp_path):
    db = tmp_path / "alfax.db"
    p = operator_path(db)
    assert p == str(db) + ".operator.json"
    ks = SqliteKeyStore(db)
    op = load_or_create_operator(p, ks)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    data = json.load(open(p))
    assert data == {"apiKey": op.api_key, "secretKey": op.secret}
    assert op.allows(Permission.OPERATOR) and not op.allows(Permission.TRADE)
    assert ks.lookup(op.api_key).allows(Permission.OPERATOR)
    again = load_or_create_operator(p, SqliteKeyStore(db))  # second start: same credentials
    assert again.api_key == op.api_key and again.secret == op.secret
    assert len(ks.list(0)) == 1
    bare = load_or_create_operator(p)
    assert bare.api_key == op.api_key
