"""Request and response bodies, split Base (shared fields) / Create (what a client sends) /
Public (what the API returns — never a password, a hash or a stored secret)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AccountCreate",
    "CancelCreate",
    "Grant",
    "IssueCreate",
    "Login",
    "LoginPublic",
    "OrganisationCreate",
    "OrganisationPublic",
    "Page",
    "PasswordReset",
    "PledgeCreate",
    "ProjectAction",
    "ProjectCreate",
    "RetireCreate",
    "RolesUpdate",
    "StandSelection",
    "TokenCreate",
    "TokenPublic",
    "TransferCreate",
    "UserCreate",
    "UserPublic",
    "VerifyCreate",
]

T = TypeVar("T")
RoleName = Literal["admin", "bureau_staff", "verifier", "buyer", "forest_owner", "bank"]
KindName = Literal["bureau", "developer", "buyer", "bank", "forest_owner", "verifier", "other"]
Text = Field(min_length=1, max_length=500)


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C0 controls but tab and newlines


def _printable(value: Any) -> Any:
    if isinstance(value, str) and CONTROL.search(value):
        raise ValueError("text must not contain control characters (e.g. NUL)")
    if isinstance(value, list | tuple):
        for item in value:
            _printable(item)
    return value


class Strict(BaseModel):
    """A request body: no unknown fields, and no control characters in any text (they have no
    place in a name, and PostgreSQL cannot store NUL) — a 422 on both engines alike."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        return _printable(value)


class Page(BaseModel, Generic[T]):
    """A page of a list: ``items`` in a stable order, ``total`` rows in all."""

    items: list[T]
    total: int
    limit: int
    offset: int


# -- sign-in and users ---------------------------------------------------------------------


class Login(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserBase(Strict):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    display_name: str | None = Field(default=None, max_length=200)
    organisation: str = Field(min_length=1, max_length=200)
    roles: list[RoleName] = Field(min_length=1, max_length=6)


class UserCreate(UserBase):
    password: str | None = Field(default=None, min_length=12, max_length=1024)


class UserPublic(BaseModel):
    id: int
    username: str
    display_name: str
    organisation: str
    organisation_kind: str
    roles: list[str]
    disabled: bool
    has_password: bool
    created_at: str


class LoginPublic(BaseModel):
    user: UserPublic
    csrf_token: str
    expires_in_s: int


class RolesUpdate(Strict):
    roles: list[RoleName] = Field(min_length=1, max_length=6)


class PasswordReset(Strict):
    password: str = Field(min_length=12, max_length=1024)


class TokenCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    for_user: str | None = Field(default=None, max_length=64)


class TokenPublic(BaseModel):
    id: int
    token: str = Field(description="只显示这一次 / shown this once; stored only as its SHA-256")


# -- organisations -------------------------------------------------------------------------


class OrganisationBase(Strict):
    name: str = Field(min_length=1, max_length=200)
    credit_code: str | None = Field(default=None, max_length=18)


class OrganisationCreate(OrganisationBase):
    kind: KindName | None = None


class OrganisationPublic(BaseModel):
    id: int
    name: str
    kind: str
    credit_code: str | None


class Grant(Strict):
    kind: KindName


# -- credits -------------------------------------------------------------------------------


class AccountCreate(Strict):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    holder: str = Field(min_length=1, max_length=200)
    holder_kind: KindName | None = None
    credit_code: str | None = Field(default=None, max_length=18)


class Selection(Strict):
    """Which credits: a quantity (oldest serials first) or serials, optionally of one project."""

    quantity: int | None = Field(default=None, ge=1, le=10**12)
    serials: str | None = Field(default=None, max_length=2000)
    project: str | None = Field(default=None, max_length=100)


class IssueCreate(Strict):
    project: str = Field(min_length=1, max_length=100)
    buffer_pct: float | None = Field(default=None, ge=0, lt=100)


class TransferCreate(Selection):
    from_account: str = Field(min_length=1, max_length=64)
    to_account: str = Field(min_length=1, max_length=64)


class RetireCreate(Selection):
    account: str = Field(min_length=1, max_length=64)
    beneficiary: str = Text
    purpose: str = Field(default="", max_length=500)
    retired_on: date | None = None


class BatchCreate(Strict):
    """Many moves at once (registry.ledger.batch): the CSV's text, header
    kind,from,to,quantity,serials,project,beneficiary,purpose."""

    csv: str = Field(min_length=1, max_length=20_000_000)
    retired_on: date | None = None


class CancelCreate(Selection):
    account: str = Field(min_length=1, max_length=64)
    reason: str = Text


class PledgeCreate(Selection):
    account: str = Field(min_length=1, max_length=64)
    bank_account: str = Field(min_length=1, max_length=64)
    loan_ref: str = Field(min_length=1, max_length=200)
    amount_yuan: str = Field(min_length=1, max_length=30, pattern=r"^[0-9]+(\.[0-9]{1,2})?$")


# -- projects and stands -------------------------------------------------------------------


class ProjectBase(Strict):
    code: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
    name: str = Field(min_length=1, max_length=200)
    methodology: Literal["CCER-14-001-V01", "AR-CM-003-V01", "AR-CM-005-V01"]
    developer: str = Field(min_length=1, max_length=200)
    start_date: date
    crediting_years: int = Field(default=30, ge=20, le=40)
    planted_group: str | None = Field(default=None, max_length=100)


class ProjectCreate(ProjectBase):
    pass


class StandSelection(Strict):
    selection: str = Field(
        min_length=1, max_length=5000,
        description="all | township=…,species_group=… | key=a|b (no files over HTTP)",
    )  # fmt: skip


class ProjectAction(Strict):
    comment: str = Field(default="", max_length=2000)


class VerifyCreate(Strict):
    quantity: float = Field(ge=0, le=1e12)
    comment: str = Field(default="", max_length=2000)
    override_reason: str = Field(default="", max_length=2000)


def public(obj: Any) -> dict[str, Any]:
    """A service's typed result as a JSON-ready dict."""
    if hasattr(obj, "to_dict"):
        value: dict[str, Any] = obj.to_dict()
        return value
    return dict(obj)
