"""Checks of who is paid and where to: the resident ID number's check digit (GB 11643-1999,
公民身份号码, ISO 7064 MOD 11-2) and a bank card number's Luhn check digit (ISO/IEC 7812-1).
Both catch a mistyped digit; neither proves the number belongs to anyone."""

from __future__ import annotations

import re

from registry.errors import Invalid

__all__ = ["check_bank_card", "check_resident_id", "luhn_valid"]

# GB 11643-1999 §8.2: weights 2^(17−i) mod 11 for positions 1…17, and the check character for
# the sum mod 11
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def check_resident_id(number: str) -> str:
    """The 18-character resident ID number, upper-cased, if its form and check character are
    right; otherwise :class:`Invalid` saying what is wrong (the number itself is not echoed:
    messages may be logged)."""
    value = number.strip().upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", value):
        raise Invalid(
            "身份证号码应为 18 位：17 位数字加 1 位校验码（数字或 X）。",
            "a resident ID number has 18 characters: 17 digits and a check character (digit or X).",
        )
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        raise Invalid(
            "身份证号码校验码不符（GB 11643）：请核对是否有输错的数字。",
            "the resident ID number's check character is wrong (GB 11643): a digit is mistyped.",
        )
    return value


def luhn_valid(digits: str) -> bool:
    """The Luhn check (ISO/IEC 7812-1 Annex B) of a string of ASCII digits: from the right,
    every second digit doubled (a two-digit product replaced by its digit sum), the total a
    multiple of 10."""
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def check_bank_card(number: str) -> str:
    """The bank card number (digits only, spaces and dashes removed; 12–19 digits) if its Luhn
    check digit is right; otherwise :class:`Invalid`."""
    digits = re.sub(r"[ \-]", "", number.strip())
    if not re.fullmatch(r"[0-9]{12,19}", digits):
        raise Invalid("银行卡号应为 12 至 19 位数字。", "a bank card number has 12 to 19 digits.")
    if not luhn_valid(digits):
        raise Invalid(
            "银行卡号校验位不符（Luhn）：请核对是否有输错的数字。",
            "the bank card number fails its Luhn check: a digit is mistyped.",
        )
    return digits
