"""Sharing rules and the split of an amount, on a small project of three owners worked out BY
HAND to the fen for the presets (arithmetic written out in each test); the rule's checks; the
masks of the public notice; hypothesis: for random amounts, party shares, owners and caps the
roster sums exactly, never pays a negative amount and never pays an owner above the cap.

(The identity and bank-card checks on published examples are in test_compensation_basics.py;
the roster in the database, its approval, exports and roles in test_rosters.py.)"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.compensation.allocation import FEN
from registry.compensation.masking import mask_id, mask_name
from registry.compensation.presets import PRESETS, preset_rule
from registry.compensation.rules import PARTIES, RuleSpec
from registry.compensation.split import OwnerFigures, split_amount
from registry.errors import Invalid

# the small project: three owners (ids 1, 2, 3) with their stands' figures
A = OwnerFigures(1, "张三", ("431123-001-01",), area_ha=Fraction("1.2"), trees=Fraction(600),
                 removals_tco2e=Fraction("6.0"), shares=Fraction(3))  # fmt: skip
B = OwnerFigures(2, "李四", ("431123-001-02",), area_ha=Fraction("0.5"), trees=Fraction(200),
                 removals_tco2e=Fraction("2.5"), shares=Fraction(3))  # fmt: skip
C = OwnerFigures(3, "王五", ("431123-001-03",), area_ha=Fraction("0.3"), trees=Fraction(200),
                 removals_tco2e=Fraction("1.5"), shares=Fraction(1))  # fmt: skip
OWNERS = [C, A, B]  # any order: lines come out by owner id


def _amounts(lines: list) -> dict[str, Decimal]:  # type: ignore[type-arg]
    return {line.payee: line.amount for line in lines}


def test_per_mu_preset_by_area_by_hand() -> None:
    # 公益林 per 亩: owners 9/10 by area, management 1/10. Amount 1,000.01 yuan = 100,001 fen.
    # Parties: owners 100,001 × 9/10 = 90,000.9 fen, management 100,001 × 1/10 = 10,000.1 fen →
    # 90,000 + 10,000 = 100,000; the 1 fen left goes to the largest remainder (owners' 0.9):
    # owners 90,001 fen, management 10,000 fen = 100.00 yuan.
    # Owners by area, 1.2 + 0.5 + 0.3 = 2.0 ha: 张三 90,001 × 0.6 = 54,000.6; 李四 × 0.25 =
    # 22,500.25; 王五 × 0.15 = 13,500.15 → 54,000 + 22,500 + 13,500 = 90,000, 1 fen left to the
    # largest remainder (张三's 0.6): 540.01, 225.00, 135.00 yuan.
    lines = split_amount(Decimal("1000.01"), preset_rule("per-mu"), OWNERS, "双牌县林业局")
    assert _amounts(lines) == {"张三": Decimal("540.01"), "李四": Decimal("225.00"),
                               "王五": Decimal("135.00"), "管护费 management": Decimal("100.00")}  # fmt: skip
    assert [line.owner_id for line in lines] == [1, 2, 3, None]
    assert lines[0].stands == ("431123-001-01",) and lines[0].figures["area_ha"] == "1.2000"
    assert sum(line.amount for line in lines) == Decimal("1000.01")


def test_sanming_preset_by_income_shares_with_a_tie_by_hand() -> None:
    # 三明 林票: village collective 3/10, owners 7/10 by shares (persons) 3 : 3 : 1.
    # Amount 100.01 yuan = 10,001 fen: collective 3,000.3, owners 7,000.7 → 3,000 + 7,000, the
    # 1 fen left to the owners (0.7 > 0.3): owners 7,001 fen.
    # By shares (7): 张三 7,001 × 3/7 = 3,000.43, 李四 the same, 王五 7,001 / 7 = 1,000.14 →
    # 3,000 + 3,000 + 1,000 = 7,000; 1 fen left; 张三 and 李四 tie (remainder 3/7 each) → the
    # lower owner id, 张三 (1), gets it: 30.01, 30.00, 10.00; collective 30.00.
    lines = split_amount(Decimal("100.01"), preset_rule("sanming", {"owner_shares": {"x": 1}}),
                         OWNERS, "dev")  # fmt: skip
    assert _amounts(lines) == {"张三": Decimal("30.01"), "李四": Decimal("30.00"),
                               "王五": Decimal("10.00"), "村集体 village collective": Decimal("30.00")}  # fmt: skip


def test_guizhou_preset_caps_a_household_by_hand() -> None:
    # 贵州 单株碳汇: owners 100 % by trees (600 : 200 : 200), cap 1,350 yuan per household.
    # 3,000.00 yuan: 张三 3,000 × 0.6 = 1,800 > 1,350 → capped at 1,350; the other 1,650 shared
    # again by 200 : 200 → 825.00 each (≤ 1,350): 1,350 + 825 + 825 = 3,000.
    lines = split_amount(Decimal("3000.00"), preset_rule("guizhou"), OWNERS, "dev")
    assert _amounts(lines) == {"张三": Decimal("1350.00"), "李四": Decimal("825.00"),
                               "王五": Decimal("825.00")}  # fmt: skip
    # 5,000.00 yuan: 张三 capped (3,000 > 1,350); the rest 3,650 by 200 : 200 = 1,825 each > 1,350
    # → both capped; nobody left: 5,000 − 3 × 1,350 = 950.00 to the village collective
    lines = split_amount(Decimal("5000.00"), preset_rule("guizhou"), OWNERS, "dev")
    assert _amounts(lines) == {"张三": Decimal("1350.00"), "李四": Decimal("1350.00"),
                               "王五": Decimal("1350.00"), "村集体 village collective": Decimal("950.00")}  # fmt: skip


def test_anji_preset_by_removals_by_hand() -> None:
    # 安吉: owners 4/5 by verified removals (6.0 : 2.5 : 1.5 t = 10 t), developer 1/5.
    # 99.99 yuan = 9,999 fen: owners 7,999.2, developer 1,999.8 → 7,999 + 1,999 = 9,998; 1 fen
    # left to the developer (0.8 > 0.2): owners 7,999, developer 2,000 = 20.00 yuan.
    # 张三 7,999 × 0.6 = 4,799.4; 李四 × 0.25 = 1,999.75; 王五 × 0.15 = 1,199.85 → 4,799 + 1,999 +
    # 1,199 = 7,997; 2 fen left: 王五 (0.85) then 李四 (0.75): 47.99, 20.00, 12.00.
    lines = split_amount(Decimal("99.99"), preset_rule("anji"), OWNERS, "双牌县林业局")
    assert _amounts(lines) == {"张三": Decimal("47.99"), "李四": Decimal("20.00"),
                               "王五": Decimal("12.00"), "双牌县林业局": Decimal("20.00")}  # fmt: skip


def test_every_preset_is_flagged_unverified_with_its_sources() -> None:
    for name in PRESETS:
        spec = preset_rule(
            name, {"owner_shares": {"张三": 1}} if name in ("sanming", "hunan-shares") else None
        )
        assert spec.unverified and spec.sources and spec.preset == name
        assert sum(spec.shares.values(), Fraction(0)) == 1


@pytest.mark.parametrize(
    "raw",
    [
        {"shares": {"owners": "1/3", "developer": "0.66"}, "basis": "area"},  # sums to 0.9933…
        {"shares": {"owners": "0.8", "developer": "0.3"}, "basis": "area"},  # 1.1
        {"shares": {"owners": "0.5", "landlord": "0.5"}, "basis": "area"},  # unknown party
        {"shares": {"owners": "1"}, "basis": "luck"},  # unknown basis
        {"shares": {"owners": "1"}, "basis": "shares"},  # no 股 table
        {"shares": {"owners": "-0.5", "developer": "1.5"}, "basis": "area"},
        {"shares": {"owners": "half"}, "basis": "area"},
        {"shares": {}, "basis": "area"},
        {"shares": {"owners": "1e999999999"}, "basis": "area"},  # no exponents (nor huge numbers)
        {"shares": {"owners": "1/0"}, "basis": "area"},
        {"shares": {"owners": True}, "basis": "area"},
        {"shares": {"owners": "1"}, "basis": "shares", "owner_shares": ["张三"]},
        {"shares": {"owners": "1"}, "basis": "area", "cap_per_owner": "NaN"},
        {"shares": {"owners": "1"}, "basis": "area", "preset": {"x": 1}},
        {"shares": {"owners": "1"}, "basis": "area", "sources": 5},
        {"shares": {"owners": "1"}, "basis": "area", "payees": {"landlord": "x"}},
        {"shares": {"owners": "1"}, "basis": "area", "payees": []},  # a list, even empty
        {"shares": {"owners": "1"}, "basis": "area", "payees": "村委会"},
        {"shares": {"owners": "1"}, "basis": "area", "cap_per_owner": "1350.005"},  # ½ fen
        {"shares": {"owners": "1"}, "basis": "area", "cap_per_owner": "0.001"},
        # verified (unverified: false) without a source, or from a preset: never 已核实
        {"shares": {"owners": "1"}, "basis": "area", "unverified": False},
        {"shares": {"owners": "1"}, "basis": "area", "unverified": False, "sources": ["  "]},
        {
            "shares": {"owners": "1"},
            "basis": "area",
            "unverified": False,
            "preset": "anji",
            "sources": ["某文件"],
        },
    ],
)
def test_a_rule_that_does_not_sum_to_exactly_one_or_is_unclear_is_refused(raw: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(Invalid) as refused:
        RuleSpec.build(raw)
    assert refused.value.message_zh and refused.value.message_en


def test_decimal_shares_are_read_exactly() -> None:
    # 0.1 + 0.2 + 0.7 is 1 exactly as decimals (not as binary floats: 0.1 + 0.2 ≠ 0.3)
    spec = RuleSpec.build({"shares": {"owners": 0.1, "developer": 0.2, "management": "0.7"},
                           "basis": "area"})  # fmt: skip
    assert spec.shares == {"owners": Fraction(1, 10), "developer": Fraction(1, 5),
                           "management": Fraction(7, 10)}  # fmt: skip
    assert RuleSpec.build(spec.to_json()) == spec  # stored and read back unchanged


@pytest.mark.parametrize(
    "amount", ["-1.00", "1.001", "NaN", "Infinity", "1E+13", "1000000000000.01"]
)
def test_an_amount_out_of_range_or_with_a_fraction_of_a_fen_is_refused(amount: str) -> None:
    with pytest.raises(Invalid):
        split_amount(Decimal(amount), preset_rule("per-mu"), OWNERS, "dev")


def test_nobody_to_share_the_owners_part_by_is_refused() -> None:
    nobody = [OwnerFigures(1, "张三", area_ha=Fraction(0))]
    with pytest.raises(Invalid):
        split_amount(Decimal("10.00"), preset_rule("per-mu"), nobody, "dev")
    with pytest.raises(Invalid):
        split_amount(Decimal("10.00"), preset_rule("per-mu"), [], "dev")


def test_masks_keep_the_first_character_and_the_ends_of_numbers() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳小明") == "欧***"
    assert mask_name("李") == "*"
    # 18 characters: the region code (6) and the last 4 kept, the birth date hidden
    assert mask_id("11010519491231002X") == "110105********002X"
    assert mask_id("N2431123000000001A") == "N24311********001A"


party_weights = st.lists(st.integers(min_value=0, max_value=1000), min_size=len(PARTIES),
                         max_size=len(PARTIES)).filter(lambda w: w[0] > 0)  # fmt: skip
owner_lists = st.lists(
    st.tuples(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**4)),
    min_size=1, max_size=25,
).filter(lambda os: any(w > 0 for w, _ in os))  # fmt: skip


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    fen=st.integers(min_value=0, max_value=10**10),
    weights=party_weights,
    owners=owner_lists,
    basis=st.sampled_from(["removals", "area", "trees", "shares"]),
    cap_fen=st.one_of(st.none(), st.integers(min_value=0, max_value=10**8)),
    near=st.one_of(st.none(), st.integers(min_value=-2, max_value=2)),
)
def test_a_roster_always_sums_exactly_and_pays_nobody_a_negative_amount(
    fen: int, weights: list[int], owners: list[tuple[int, int]], basis: str, cap_fen: int | None,
    near: int | None,
) -> None:  # fmt: skip
    total = sum(weights)
    if near is not None:  # a cap within 2 fen of an even split of the owners' part: fen edges
        cap_fen = max(0, fen * weights[PARTIES.index("owners")] // total // len(owners) + near)
    shares = {p: f"{w}/{total}" for p, w in zip(PARTIES, weights, strict=True) if w}
    raw = {"shares": shares, "basis": basis, "owner_shares": {"x": 1},
           "cap_per_owner": None if cap_fen is None else str(Decimal(cap_fen) * FEN)}  # fmt: skip
    spec = RuleSpec.build(raw)
    figures = [
        OwnerFigures(i + 1, f"户{i + 1}", area_ha=Fraction(w, 1000), removals_tco2e=Fraction(w, 7),
                     trees=Fraction(w), shares=Fraction(w))
        for i, (w, _) in enumerate(owners)
    ]  # fmt: skip
    amount = Decimal(fen) * FEN
    lines = split_amount(amount, spec, figures, "dev")
    assert sum(line.amount for line in lines) == amount
    for line in lines:
        assert line.amount >= 0 and line.amount == line.amount.quantize(FEN)
        if line.owner_id is not None and cap_fen is not None:
            assert line.amount <= Decimal(cap_fen) * FEN
    assert sorted(line.owner_id for line in lines if line.owner_id is not None) == list(
        range(1, len(owners) + 1)
    )


@pytest.mark.parametrize("raw", [[1, 2], "x", None, 5, []])
def test_a_rule_that_is_not_a_json_object_is_refused_in_both_languages(raw: object) -> None:
    with pytest.raises(Invalid) as refused:
        RuleSpec.build(raw)
    assert "JSON 对象" in refused.value.message_zh and "JSON object" in refused.value.message_en
    with pytest.raises(Invalid) as refused:
        preset_rule("anji", raw if raw is not None else [])
    assert "JSON 对象" in refused.value.message_zh and "JSON object" in refused.value.message_en


@pytest.mark.parametrize(
    "override", [{"preset": "per-mu"}, {"unverified": False}, {"sources": ["我的文件"]}]
)
def test_a_preset_cannot_be_relabelled_by_its_overrides(override: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(Invalid) as refused:
        preset_rule("anji", override)
    assert next(iter(override)) in refused.value.message_zh


def test_a_preset_with_changed_figures_stays_unverified_and_says_it_departs() -> None:
    same = preset_rule("anji", {"payees": {"developer": "某公司"}})  # no figure changed
    assert same.unverified and "departs" not in same.note
    changed = preset_rule("anji", {"shares": {"owners": "9/10", "developer": "1/10"},
                                   "cap_per_owner": "500"})  # fmt: skip
    assert changed.unverified and changed.preset == "anji"
    assert "已偏离预设" in changed.note and "shares, cap_per_owner" in changed.note
    assert changed.shares == {"owners": Fraction(9, 10), "developer": Fraction(1, 10)}
    # the note a bureau adds is kept after the preset's own
    noted = preset_rule("per-mu", {"note": "县局 2026 年决定"})
    assert noted.note.startswith("公益林") and noted.note.endswith("县局 2026 年决定")


def test_a_custom_rule_without_sources_is_unverified_and_says_so() -> None:
    bare = RuleSpec.build({"shares": {"owners": "1"}, "basis": "area"})
    assert bare.unverified and "no sources" in bare.note
    again = RuleSpec.build(bare.to_json())  # stored and read back: the note is not doubled
    assert again == bare and again.note.count("no sources") == 1
    cited = RuleSpec.build({"shares": {"owners": "1"}, "basis": "area", "unverified": False,
                            "sources": ["双牌县林业局 2026 年 3 号文"]})  # fmt: skip
    assert not cited.unverified and cited.note == ""


def test_a_cap_in_whole_fen_is_read_exactly() -> None:
    assert RuleSpec.build({"shares": {"owners": "1"}, "basis": "area",
                           "cap_per_owner": "1350.01"}).cap_per_owner == Decimal("1350.01")  # fmt: skip
    assert RuleSpec.build({"shares": {"owners": "1"}, "basis": "area",
                           "cap_per_owner": 1350.5}).cap_per_owner == Decimal("1350.5")  # fmt: skip
