"""Masks for the public notice (公示) of a payment roster: villagers recognise their line,
nobody reads a full name or number from it.

- Names: the first character kept, every other character replaced by ``*`` (张三 → 张*,
  欧阳小明 → 欧***); a one-character name becomes ``*``. Applied to every payee that is an
  owner (households, collectives and companies alike: one rule, no judgement per name).
- ID numbers and credit codes (18 characters): the first 6 (the region code) and the last 4
  kept, the 8 between masked (431123********123X): the birth date and most of the sequence are
  never shown; other lengths: all but the last 4 masked.
- Bank card numbers and phones never appear in a notice at all."""

from __future__ import annotations

__all__ = ["mask_id", "mask_name"]


def mask_name(name: str) -> str:
    """The first character and ``*`` for each other character."""
    text = name.strip()
    if len(text) <= 1:
        return "*"
    return text[0] + "*" * (len(text) - 1)


def mask_id(number: str) -> str:
    """First 6 and last 4 characters of an 18-character number kept, the rest masked."""
    text = number.strip()
    if len(text) == 18:
        return text[:6] + "*" * 8 + text[-4:]
    if len(text) <= 4:
        return "*" * len(text)
    return "*" * (len(text) - 4) + text[-4:]
