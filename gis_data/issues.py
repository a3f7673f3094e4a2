"""Validation findings: one value per problem, collected into one report per file.

Batch validation never raises per record: it returns :class:`InventoryIssue` values so that a
file with 500 bad 小班 gives one report, not 500 exceptions.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

__all__ = ["InventoryIssue", "IssueReport", "Severity"]


class Severity(StrEnum):
    ERROR = "error"  # the import is refused
    WARNING = "warning"  # imported, but someone should look
    REPAIRED = "repaired"  # changed by --fix-geometry; listed so every repair is on record


SEVERITY_ZH = {Severity.ERROR: "错误", Severity.WARNING: "警告", Severity.REPAIRED: "已修复"}


@dataclass(frozen=True, slots=True)
class InventoryIssue:
    """One finding about one record (or about the whole file when ``record`` is ``None``).

    ``record`` is the 0-based feature index in the file; ``key`` the 小班 key
    (county-林班-小班) when it could be read; ``field`` the canonical field name, with the
    file's own column name in ``source_field``.
    """

    severity: Severity
    source: str
    code: str
    problem_zh: str
    problem_en: str
    action_zh: str
    action_en: str
    record: int | None = None
    key: str | None = None
    field: str | None = None
    source_field: str | None = None
    value: str | None = None

    def describe(self) -> str:
        where = f"{self.source}"
        if self.record is not None:
            where += f" 记录/record {self.record}"
        if self.key:
            where += f" 小班 {self.key}"
        if self.field:
            where += f" 字段/field {self.source_field or self.field}"
        return (
            f"[{SEVERITY_ZH[self.severity]}/{self.severity.value}] {where}: "
            f"{self.problem_zh}（{self.action_zh}） / {self.problem_en} ({self.action_en})"
        )


@dataclass
class IssueReport:
    """All findings for one inventory file."""

    source: str
    issues: list[InventoryIssue] = field(default_factory=list)

    def add(self, issue: InventoryIssue) -> None:
        self.issues.append(issue)

    def extend(self, issues: Iterable[InventoryIssue]) -> None:
        self.issues.extend(issues)

    def __iter__(self) -> Iterator[InventoryIssue]:
        return iter(self.issues)

    def __len__(self) -> int:
        return len(self.issues)

    @property
    def errors(self) -> list[InventoryIssue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[InventoryIssue]:
        return [i for i in self.issues if i.severity is Severity.WARNING]

    @property
    def repairs(self) -> list[InventoryIssue]:
        return [i for i in self.issues if i.severity is Severity.REPAIRED]

    @property
    def has_errors(self) -> bool:
        return any(i.severity is Severity.ERROR for i in self.issues)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Severity}
        for issue in self.issues:
            out[issue.severity.value] += 1
        return out

    COLUMNS = (
        "severity", "source", "record", "key", "field", "source_field", "value", "code",
        "problem_zh", "problem_en", "action_zh", "action_en",
    )  # fmt: skip

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(self.COLUMNS), extrasaction="ignore")
        writer.writeheader()
        for issue in self.issues:
            writer.writerow(asdict(issue))
        return buffer.getvalue()

    def to_json(self) -> str:
        payload = {
            "source": self.source,
            "counts": self.counts(),
            "issues": [asdict(i) for i in self.issues],
        }
        return json.dumps(payload, ensure_ascii=False, indent=2)

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write ``<stem>.report.csv`` (UTF-8 with BOM, opens in Excel) and ``.report.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        csv_path = directory / f"{stem}.report.csv"
        json_path = directory / f"{stem}.report.json"
        csv_path.write_text(self.to_csv(), encoding="utf-8-sig")
        json_path.write_text(self.to_json(), encoding="utf-8")
        return csv_path, json_path
