"""Challenge products: the shipped defaults load, rules JSON has the SDK's ChallengeRules shape, versions pin the
rules, and bad documents fail with the product and field named."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from alfax.domain.challenge import TotalMode
from alfax.domain.money import parse_fixed
from alfax.domain.products import FUNDED, ProductError, load_products

DOC = json.loads((resources.files("alfax") / "data" / "products.json").read_text())
SYMBOLS = {"BTCUSDT", "ETHUSDT"}


def test_shipped_defaults_load_with_three_products():
    products = load_products(DOC, SYMBOLS)
    assert set(products) == {"10k-2step", "10k-1step", "100k-2step"}
    two = products["10k-2step"]
    assert two.account_size == parse_fixed("10000", 8) and [s.name for s in two.stages] == ["STAGE_1", "STAGE_2"]
    assert two.next_stage("STAGE_1") == "STAGE_2" and two.next_stage("STAGE_2") == FUNDED
    assert two.stage("STAGE_1").max_daily_loss == 5_000_000 and two.stage(FUNDED).max_total_loss == 10_000_000
    assert two.total_mode is TotalMode.STATIC and two.rollover_minute == 0 and two.best_day_fraction is None
    one = products["10k-1step"]
    assert one.total_mode is TotalMode.TRAILING_EOD and one.best_day_fraction == 50_000_000
    assert one.leverage_cap("ETHUSDT") == 2 and one.leverage_cap("BTCUSDT") == 3 and one.leverage_cap("XRPUSDT") == 3


def test_rules_json_is_the_sdk_challenge_rules_shape_with_fractions_as_strings():
    r = load_products(DOC)["10k-2step"].rules_json()
    assert {"productId", "accountSize", "currency", "stages", "maxLeverage", "symbolsWhitelist", "commissionBps",
            "newsTradingForbidden", "payoutSplitBps"} <= set(r)
    assert r["accountSize"] == "10000" and r["commissionBps"] == "5" and r["payoutSplitBps"] == 8000
    assert r["stages"][0] == {"name": "STAGE_1", "profitTarget": "0.08", "maxDailyDrawdown": "0.05",
                              "maxTotalDrawdown": "0.1", "minTradingDays": 4, "maxDays": None}
    assert r["dayRolloverUtc"] == "00:00" and len(r["rulesVersion"]) == 16


def test_rules_version_changes_with_any_rule_and_only_then():
    base = load_products(DOC)["10k-2step"].rules_version
    assert load_products(copy.deepcopy(DOC))["10k-2step"].rules_version == base
    changed = copy.deepcopy(DOC)
    changed["products"][0]["stages"][0]["profitTarget"] = "0.09"
    assert load_products(changed)["10k-2step"].rules_version != base


def test_news_windows_and_rollover_time():
    doc = copy.deepcopy(DOC)
    p0 = doc["products"][0]
    p0["newsWindows"] = [{"start": "2026-12-10T13:28:00+00:00", "end": "2026-12-10T13:32:00+00:00"}]
    p0["dayRolloverUtc"] = "00:30"
    p = load_products(doc)["10k-2step"]
    start = 1_796_909_280_000  # 2026-12-10 13:28 UTC
    assert p.in_news_window(start) and p.in_news_window(start + 239_999) and not p.in_news_window(start + 240_000)
    assert p.rollover_minute == 30


@pytest.mark.parametrize("path,value,message", [
    (("stages", 0, "profitTarget"), 0.08, "stages[0].profitTarget must be a decimal string"),
    (("stages", 0, "maxDailyDrawdown"), "1.5", "stages[0].maxDailyDrawdown must be a fraction between 0 and 1"),
    (("stages", 1, "name"), "STAGE_9", "stages must be named STAGE_1, STAGE_2 in order"),
    (("accountSize",), "0", "accountSize must be positive"),
    (("accountSize",), "-1", "accountSize is not a valid amount"),
    (("maxLeverage",), 0, "maxLeverage must be an integer in 1..125"),
    (("symbolLeverage", "BTCUSDT"), 50, "symbolLeverage.BTCUSDT must be an integer in 1..5"),
    (("symbolsWhitelist",), ["BTCUSDT", "DOGEUSDT"], "symbols not listed on this venue: DOGEUSDT"),
    (("dayRolloverUtc",), "24:00", "dayRolloverUtc must be 'HH:MM' (UTC)"),
    (("totalMode",), "intraday", "'intraday' is not a valid TotalMode"),
    (("newsWindows",), [{"start": "2026-12-10T13:32:00+00:00", "end": "2026-12-10T13:28:00+00:00"}],
     "news window ends before it starts"),
    (("newsWindows",), [{"start": "2026-12-10T13:28:00", "end": "2026-12-10T13:32:00"}], "with a UTC offset"),
])
def test_bad_documents_name_the_product_and_field(path, value, message):
    doc = copy.deepcopy(DOC)
    node = doc["products"][0]
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    with pytest.raises(ProductError) as e:
        load_products(doc, SYMBOLS)
    assert str(e.value).startswith("10k-2step: ") and message in str(e.value)


def test_duplicate_products_and_empty_documents_are_refused():
    doc = copy.deepcopy(DOC)
    doc["products"].append(copy.deepcopy(doc["products"][0]))
    with pytest.raises(ProductError, match="duplicate productId '10k-2step'"):
        load_products(doc)
    with pytest.raises(ProductError, match="non-empty 'products' list"):
        load_products({"products": []})
