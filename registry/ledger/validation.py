"""What the ledger accepts, checked before any SQL: bounds, character sets, dates, money.

Every refusal is bilingual and names the value. The bounds are part of the ledger's contract
(README, "Ledger input"):

- quantity: a whole number of credits (t CO2e), 1 ≤ q ≤ ``MAX_QUANTITY`` (10¹²; a serial's
  sequence has 9 digits, so no project-vintage ever holds more than 999,999,999);
- account code: ``ACCOUNT_CODE`` — ASCII letters, digits, ``-``, ``_`` and ``.``, 2–40
  characters, starting with a letter or digit (no look-alike letters from other scripts);
- idempotency key: 1–200 printable characters;
- text fields (beneficiary, purpose, reason, loan reference): non-empty where required, at most
  ``MAX_TEXT`` characters, valid Unicode (no undecodable bytes);
- money: ``Decimal`` yuan, finite, > 0, at most two decimals (fen), at most ``MAX_YUAN``;
- dates: a retirement date lies between ``EARLIEST_DATE`` (the first CCER rules, 2012) and
  tomorrow (UTC; a clerk east of Greenwich may already be on the next day).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from registry.errors import BadAmount, BadInput, BadQuantity, MissingField

__all__ = [
    "ACCOUNT_CODE",
    "EARLIEST_DATE",
    "MAX_QUANTITY",
    "MAX_TEXT",
    "MAX_YUAN",
    "check_account_code",
    "check_amount",
    "check_date",
    "check_key",
    "check_label_code",
    "check_quantity",
    "check_text",
]

MAX_QUANTITY = 10**12
MAX_TEXT = 500
MAX_KEY = 200
MAX_YUAN = Decimal("1000000000000")  # 10¹² yuan
EARLIEST_DATE = date(2012, 6, 13)  # 《温室气体自愿减排交易管理暂行办法》, the first CCER rules
ACCOUNT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,39}")


def check_quantity(quantity: object) -> int:
    """A whole number of credits within 1..MAX_QUANTITY."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise BadQuantity(
            f"数量 {quantity!r} 须为整数（吨）。",
            f"quantity {quantity!r} must be a whole number of tonnes.",
        )
    if not 1 <= quantity <= MAX_QUANTITY:
        raise BadQuantity(
            f"数量 {quantity} 须为正整数（吨），且不超过 {MAX_QUANTITY:,}。",
            f"quantity {quantity} must be a positive whole number of tonnes, at most {MAX_QUANTITY:,}.",
        )
    return quantity


def check_account_code(code: str) -> str:
    """An account code from the stated character set (see the module docstring)."""
    if not ACCOUNT_CODE.fullmatch(code or ""):
        raise BadInput(
            f"账户代码 {code!r} 无效：只能用英文字母、数字、-、_ 和 .，2–40 个字符，以字母或数字开头。",
            f"account code {code!r} is not valid: ASCII letters, digits, '-', '_' and '.' only, "
            "2–40 characters, starting with a letter or digit.",
        )
    return code


def check_label_code(code: str) -> str:
    """An eco-label's code (生态标签代码): the account codes' character set (ASCII, 2–40)."""
    if not isinstance(code, str) or not ACCOUNT_CODE.fullmatch(code):
        raise BadInput(
            f"生态标签代码 {code!r} 无效：只能用英文字母、数字、-、_ 和 .，2–40 个字符，以字母或数字开头。",
            f"eco-label code {code!r} is not valid: ASCII letters, digits, '-', '_' and '.' only, "
            "2–40 characters, starting with a letter or digit.",
        )
    return code


def check_key(key: str) -> str:
    """An idempotency key: 1–200 printable characters."""
    if not key or not key.strip() or len(key) > MAX_KEY or not key.isprintable():
        raise BadInput(
            f"幂等键 {key!r} 无效：须为 1–{MAX_KEY} 个可打印字符。",
            f"idempotency key {key!r} is not valid: 1–{MAX_KEY} printable characters.",
        )
    return key


def check_text(value: str, what_zh: str, what_en: str, *, required: bool = True) -> str:
    """Free text (a beneficiary, a purpose, a reason): valid Unicode, at most MAX_TEXT
    characters, and not blank when required."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadInput(
            f"{what_zh}含有无法识别的字节（编码错误），请用 UTF-8 输入。",
            f"the {what_en} holds bytes that are not text (an encoding error); enter it as UTF-8.",
        ) from exc
    if required and not value.strip():
        raise MissingField(f"须写明{what_zh}。", f"a {what_en} is required.")
    if len(value) > MAX_TEXT or not value.replace("\n", " ").isprintable():
        raise BadInput(
            f"{what_zh}须为不超过 {MAX_TEXT} 个可打印字符。",
            f"the {what_en} must be at most {MAX_TEXT} printable characters.",
        )
    return value


def check_amount(amount: Decimal | str) -> Decimal:
    """A loan amount: Decimal yuan, finite, positive, at most two decimals and MAX_YUAN."""
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise BadAmount(
            f"金额 {amount!r} 不是数字。", f"amount {amount!r} is not a number."
        ) from exc
    if not value.is_finite() or value <= 0 or value > MAX_YUAN:
        raise BadAmount(
            f"贷款金额 {amount!r} 须为正数且不超过 {MAX_YUAN:,} 元。",
            f"the loan amount {amount!r} must be positive and at most {MAX_YUAN:,} yuan.",
        )
    if value != value.quantize(Decimal("0.01")):
        raise BadAmount(
            f"贷款金额 {amount!r} 最多两位小数（分）。",
            f"the loan amount {amount!r} has more than two decimals (fen).",
        )
    return value.quantize(Decimal("0.01"))


def check_date(value: date, what_zh: str, what_en: str) -> date:
    """A date between EARLIEST_DATE and tomorrow (UTC)."""
    latest = datetime.now(UTC).date() + timedelta(days=1)
    if not EARLIEST_DATE <= value <= latest:
        raise BadInput(
            f"{what_zh} {value.isoformat()} 须在 {EARLIEST_DATE.isoformat()} 与 {latest.isoformat()} 之间。",
            f"the {what_en} {value.isoformat()} must lie within {EARLIEST_DATE.isoformat()}..{latest.isoformat()}.",
        )
    return value
