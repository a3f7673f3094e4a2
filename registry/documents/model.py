"""A document as the registry builds it, before any rendering: what the renderers (Word, HTML,
PDF) share. Figures are text already formatted by the builder (the builder decides precision and
units, with the source of every number); the renderers only lay them out.

Contract (issue #18):
- a builder returns a :class:`Document` whose blocks hold only the types below;
- every number in a :class:`Table` or :class:`Equation` is the registry's own value, formatted
  once by :func:`fmt`;
- a parameter whose source is not verified appears in a :class:`Note` of kind ``unverified``
  where it is used (RULES 3), and in the document's ``unverified`` list;
- :class:`Figure` holds PNG bytes (rendered by the builder with matplotlib, Agg backend) and its
  caption; renderers embed it at ``width_cm``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Block",
    "Document",
    "Equation",
    "Figure",
    "KeyFigure",
    "Note",
    "Paragraph",
    "Section",
    "Table",
    "fmt",
]


@dataclass(frozen=True)
class Paragraph:
    """Running text (zh-CN first; English may follow in the same paragraph or the next)."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table: a caption, header cells and rows of cells (text). ``numeric`` marks the columns
    to right-align; ``notes`` go under the table (sources, units)."""

    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Figure:
    """A picture (PNG bytes) with its caption, shown ``width_cm`` wide."""

    caption: str
    png: bytes
    width_cm: float = 15.0


@dataclass(frozen=True)
class Equation:
    """An equation as written in its methodology (``formula``, plain text with Unicode), its
    reference (e.g. "AR-CM-003-V01 式 (5)"), and the same equation with this document's numbers
    put in (``worked``) — so a reader can recompute it."""

    reference: str
    formula: str
    worked: str = ""
    where: tuple[str, ...] = ()  # "symbol: meaning (unit) = value, source"


@dataclass(frozen=True)
class Note:
    """A boxed note: ``unverified`` (a parameter's source is not verified — said where it is
    used), ``warning`` (a plausibility flag, an override) or ``info`` (e.g. "not found in the
    official template: structure from the 2023 guide's annex was not available")."""

    kind: Literal["unverified", "warning", "info"]
    text: str


Block = Paragraph | Table | Figure | Equation | Note


@dataclass(frozen=True)
class Section:
    """A numbered section (``number`` like "3.2"), its heading, blocks, and subsections."""

    number: str
    heading: str
    blocks: tuple[Block, ...] = ()
    subsections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class KeyFigure:
    """A figure the tests and the verifier check against the registry: a stable ``key`` (e.g.
    ``exante_total_tco2e``), its label, the registry's value (unformatted) and how it is shown."""

    key: str
    label: str
    value: float | int | str
    shown: str


@dataclass(frozen=True)
class Document:
    """A whole document: kind (``pdd``, ``monitoring_report``), title, subtitle, the project
    code (and monitoring period number), the registry's data-as-of time, the sections, the key
    figures, and every unverified parameter it uses (name: why)."""

    kind: str
    title: str
    subtitle: str
    project: str
    sections: tuple[Section, ...]
    as_of: str
    period: int | None = None
    key_figures: tuple[KeyFigure, ...] = ()
    unverified: tuple[str, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)  # e.g. methodology, developer, status

    def walk(self) -> list[Section]:
        """Every section, depth first, in reading order."""
        out: list[Section] = []

        def visit(s: Section) -> None:
            out.append(s)
            for sub in s.subsections:
                visit(sub)

        for s in self.sections:
            visit(s)
        return out


def fmt(value: float | int | None, digits: int = 0, unit: str = "") -> str:
    """A number as documents show it: thousands separators, ``digits`` decimals, an optional
    unit after a thin space; "—" for None."""
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}" if unit else text
