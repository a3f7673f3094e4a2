"""Serial numbers: ``CN-<county>-<project>-<vintage>-<9-digit sequence>``, and blocks of them
written ``<first serial>..<last sequence>``."""

from __future__ import annotations

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


def parse_serial(text_: str) -> Range:
    """A serial or a block written ``<first serial>..<last sequence>``."""
    value = text_.strip()
    head, _, tail = value.partition("..")
    prefix = f"CN-{COUNTY_CODE}-"
    try:
        if not head.startswith(prefix):
            raise ValueError
        rest = head[len(prefix) :]
        project_vintage, _, seq = rest.rpartition("-")
        project, _, vintage = project_vintage.rpartition("-")
        first = int(seq)
        last = int(tail) if tail else first
        if not project or len(seq) != 9 or last < first or first < 1:
            raise ValueError
        return Range(project, int(vintage), first, last)
    except ValueError as exc:
        raise BadSerial(
            f"无法识别的序列号 {value!r}，格式应为 CN-{COUNTY_CODE}-项目-年份-九位序号[..九位序号]。",
            f"not a serial {value!r}: expected CN-{COUNTY_CODE}-<project>-<vintage>-<9 digits>"
            "[..<9 digits>].",
        ) from exc
