import pytest

from alfax.api.params import Params, parse_into, parse_params
from alfax.domain.enums import Side
from alfax.domain.errors import Err, VenueError


def test_split_parser_raw_and_encoded():
    d = {}
    parse_into(b"symbol=BTCUSDT&side=BUY&x=a%20b&y=1+2&empty=&flag", d)
    assert d == {"symbol": "BTCUSDT", "side": "BUY", "x": "a b", "y": "1 2", "empty": "", "flag": ""}


def test_percent_encoded_batch_json_is_decoded():
    d = {}
    parse_into(b"batchOrders=%5B%7B%22symbol%22%3A+%22BTCUSDT%22%7D%5D", d)
    assert d["batchOrders"] == '[{"symbol": "BTCUSDT"}]'


def test_query_wins_over_body():
    d = parse_params(b"symbol=ETHUSDT&a=1", b"symbol=BTCUSDT&b=2")
    assert d == {"symbol": "ETHUSDT", "a": "1", "b": "2"}


@pytest.mark.parametrize("v,expected", [("true", True), ("True", True), ("TRUE", True), ("false", False),
                                        ("False", False), ("FALSE", False)])
def test_booleans_any_case(v, expected):
    assert Params({"reduceOnly": v}).bool("reduceOnly") is expected


def test_bad_boolean_is_1130():
    with pytest.raises(VenueError) as e:
        Params({"reduceOnly": "yes"}).bool("reduceOnly")
    assert e.value.code == -1130 and "reduceOnly" in e.value.msg


def test_mandatory_message():
    with pytest.raises(VenueError) as e:
        Params({}).req("symbol")
    assert e.value.code == -1102
    assert e.value.msg == "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
    with pytest.raises(VenueError):
        Params({"symbol": ""}).req("symbol")


def test_money_precision_and_malformed():
    p = Params({"q": "0.0100", "bad": "1e", "prec": "0.0105", "neg": "-1", "huge": "9" * 60, "nan": "NaN"})
    assert p.money("q", 3) == 10
    with pytest.raises(VenueError) as e:
        p.money("prec", 3)
    assert e.value.code == -1111
    for name in ("bad", "neg", "huge", "nan"):
        with pytest.raises(VenueError) as e:
            p.money(name, 3)
        assert e.value.code == -1130 and name in e.value.msg


def test_ints():
    p = Params({"a": "12", "b": "x", "c": str(10**30)})
    assert p.int("a") == 12
    assert p.int("missing", 7) == 7
    with pytest.raises(VenueError) as e:
        p.int("b")
    assert e.value.code == -1130
    with pytest.raises(VenueError):
        p.int("c")
    with pytest.raises(VenueError) as e:
        p.req_int("missing")
    assert e.value.code == -1102


def test_enum():
    p = Params({"side": "buy", "bad": "UP"})
    assert p.enum("side", Side, Err.INVALID_SIDE, required=True) is Side.BUY
    with pytest.raises(VenueError) as e:
        p.enum("bad", Side, Err.INVALID_SIDE, required=True)
    assert e.value.code == -1117
