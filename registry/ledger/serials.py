"""Serial numbers: ``CN-<county>-<project>-<vintage>-<9-digit sequence>``, and blocks of them
written ``<first serial>..<last sequence>``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from registry.errors import BadSerial

__all__ = ["COUNTY_CODE", "Range", "format_block", "parse_serial", "serial"]

COUNTY_CODE = "431123"


@dataclass(frozen=True)
class Range:
    """Serials first..last (inclusive) of one project and vintage."""

    project: str
    vintage: int
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def serial(project: str, vintage: int, seq: int) -> str:
    return f"CN-{COUNTY_CODE}-{project}-{vintage}-{seq:09d}"


def format_block(project: str, vintage: int, first: int, last: int) -> str:
    """``CN-431123-P-2026-000000001..000000500`` (first serial..last sequence)."""
    return f"{serial(project, vintage, first)}..{last:09d}"


_SERIAL = re.compile(
    rf"CN-{COUNTY_CODE}-(?P<project>[A-Za-z0-9][A-Za-z0-9._-]*?)-(?P<vintage>[0-9]{{4}})-"
    r"(?P<first>[0-9]{9})(?:\.\.(?P<last>[0-9]{9}))?"
)


def parse_serial(text_: str) -> Range:
    """A serial or a block written ``<first serial>..<last sequence>``: ASCII digits only (no
    full-width digits, no underscores), a 4-digit vintage and 9-digit sequences, first ≤ last."""
    value = text_.strip()
    found = _SERIAL.fullmatch(value)
    if found is not None:
        first = int(found["first"])
        last = int(found["last"]) if found["last"] else first
        if 1 <= first <= last:
            return Range(found["project"], int(found["vintage"]), first, last)
    raise BadSerial(
        f"无法识别的序列号 {value!r}，格式应为 CN-{COUNTY_CODE}-项目-年份-九位序号[..九位序号]。",
        f"not a serial {value!r}: expected CN-{COUNTY_CODE}-<project>-<vintage>-<9 digits>"
        "[..<9 digits>].",
    )
