"""Typed results of the services: frozen dataclasses with ``to_dict`` for JSON (the API, the
CLI's ``--json``, what the ledger stores for a retried request) and ``from_dict`` to read one
back. A field's ``metadata`` may rename its key (``{"key": "from"}``), mark it transient (not
stored, not compared) or name the result type of its items (``{"of": Placement}``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self

__all__ = ["Result", "transient"]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.metadata.get("key", f.name): _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.metadata.get("transient")
        }
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Result:
    """Base of the typed results: ``to_dict`` for JSON, ``from_dict`` to read one back."""

    def to_dict(self) -> dict[str, Any]:
        out = _plain(self)
        assert isinstance(out, dict)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], **extra: Any) -> Self:
        values = {}
        for f in dataclasses.fields(cls):
            key = f.metadata.get("key", f.name)
            if f.metadata.get("transient") or key not in data:
                continue
            value = data[key]
            nested = f.metadata.get("of")
            if nested is not None:
                value = tuple(nested.from_dict(v) for v in value)
            elif isinstance(value, list):
                value = tuple(value)
            values[f.name] = value
        return cls(**values, **extra)


def transient() -> Any:
    """A field that is not stored or compared (e.g. ``replayed``)."""
    return field(default=False, compare=False, metadata={"transient": True})
