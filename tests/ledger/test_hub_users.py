"""SqliteHubUsers: the signal hub's email + password logins (scrypt, per-user salt) on the shared SQLite file."""

from __future__ import annotations

import hashlib
import sqlite3
import threading

import pytest

from alfax.ledger import Ledger, SqliteSignalLog
from alfax.ledger import hub_users as hu
from alfax.ledger.hub_users import HubUserExists, SqliteHubUsers


@pytest.fixture
def users(tmp_path):
    u = SqliteHubUsers(tmp_path / "hub.db")
    yield u
    u.close()


def test_add_verify_case_insensitive_email(users):
    users.add("Alice@Example.com", "correct horse", 3, now_ms=1_000)
    assert users.verify("alice@example.com", "correct horse") == 3
    assert users.verify("  ALICE@EXAMPLE.COM ", "correct horse") == 3
    assert users.verify("alice@example.com", "Correct horse") is None
    assert users.verify("alice@example.com", "") is None
    assert users.verify("bob@example.com", "correct horse") is None
    assert users.verify("not an email", "x") is None
    assert users.list() == [{"email": "Alice@Example.com", "accountId": 3, "createdMs": 1_000}]
    with pytest.raises(HubUserExists):
        users.add("ALICE@example.COM", "other", 4)
    assert isinstance(HubUserExists("x"), ValueError)
    assert users.verify("alice@example.com", "other") is None  # the failed add changed nothing


def test_passwords_are_salted_scrypt_hashes_never_plain(tmp_path):
    db = tmp_path / "hub.db"
    users = SqliteHubUsers(db)
    users.add("a@x.io", "same-password", 1)
    users.add("b@x.io", "same-password", 2)
    users.close()
    with sqlite3.connect(db) as raw:
        rows = dict(raw.execute(f"SELECT email, password_hash FROM {hu.TABLE}").fetchall())
        dump = "\n".join(raw.iterdump())
    assert "same-password" not in dump
    a, b = rows["a@x.io"], rows["b@x.io"]
    assert a != b  # per-user salt
    algo, n, r, p, salt, digest = a.split("$")
    assert (algo, int(n), int(r), int(p)) == ("scrypt", hu.SCRYPT_N, hu.SCRYPT_R, hu.SCRYPT_P)
    assert len(bytes.fromhex(salt)) == hu.SALT_BYTES
    assert bytes.fromhex(digest) == hashlib.scrypt(b"same-password", salt=bytes.fromhex(salt), n=int(n), r=int(r),
                                                   p=int(p), dklen=hu.HASH_BYTES)


def test_unknown_email_costs_the_same_single_scrypt(users, monkeypatch):
    users.add("a@x.io", "pw-1", 1)
    calls = []
    real = hashlib.scrypt

    def counting(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(hu.hashlib, "scrypt", counting)
    for email, password, expected in (("a@x.io", "pw-1", 1), ("a@x.io", "wrong", None),
                                      ("nobody@x.io", "pw-1", None), ("bad email", "pw-1", None)):
        calls.clear()
        assert users.verify(email, password) == expected
        assert len(calls) == 1, (email, password)


def test_set_password_remove_and_list(users):
    users.add("b@x.io", "old", 2, now_ms=20)
    users.add("a@x.io", "pw", 1, now_ms=10)
    assert users.set_password("B@X.IO", "new") is True
    assert users.verify("b@x.io", "old") is None and users.verify("b@x.io", "new") == 2
    assert users.set_password("nobody@x.io", "x") is False
    assert [u["email"] for u in users.list()] == ["a@x.io", "b@x.io"]
    assert users.remove("A@x.io") is True and users.remove("a@x.io") is False
    assert users.verify("a@x.io", "pw") is None
    assert users.list() == [{"email": "b@x.io", "accountId": 2, "createdMs": 20}]
    users.add("a@x.io", "again", 5)  # the email is free again
    assert users.verify("a@x.io", "again") == 5


@pytest.mark.parametrize("email,password,account", [
    ("", "pw", 1), ("no-at-sign", "pw", 1), ("a b@x.io", "pw", 1), ("a@x.io" + "x" * 300, "pw", 1),
    ("a@x.io", "", 1), ("a@x.io", "x" * (hu.MAX_PASSWORD + 1), 1), ("a@x.io", "pw", -1), ("a@x.io", "pw", True),
])
def test_invalid_input_is_refused(users, email, password, account):
    with pytest.raises(ValueError):
        users.add(email, password, account)
    assert users.list() == []


def test_survives_reopen_and_shares_the_file_with_the_ledger(tmp_path):
    db = str(tmp_path / "alfax.db")
    ledger = Ledger(db)
    log = SqliteSignalLog(db)
    users = SqliteHubUsers(db)
    try:
        users.add("a@x.io", "pw", 1)
        log.append("14", {"side": "buy"}, 1)
        users.close()
        users = SqliteHubUsers(db)
        assert users.verify("a@x.io", "pw") == 1 and log.head("14")[1] == 1
    finally:
        users.close()
        log.close()
        ledger.close()


def test_concurrent_adds_of_one_email_keep_exactly_one(tmp_path):
    db = tmp_path / "hub.db"
    stores = [SqliteHubUsers(db) for _ in range(4)]  # separate connections, as separate processes would have
    outcomes: list[str] = []
    barrier = threading.Barrier(len(stores))

    def add(i: int) -> None:
        barrier.wait()
        try:
            stores[i].add("same@x.io", f"pw{i}", i)
            outcomes.append("ok")
        except HubUserExists:
            outcomes.append("exists")

    threads = [threading.Thread(target=add, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert sorted(outcomes) == ["exists"] * 3 + ["ok"]
        (row,) = stores[0].list()
        assert stores[0].verify("same@x.io", f"pw{row['accountId']}") == row["accountId"]
    finally:
        for s in stores:
            s.close()
