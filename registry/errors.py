"""The registry's one exception tree. Only the shells map it: the CLI to exit codes, ``api/`` to
HTTP status codes, each in one table keyed by :class:`Category`.

Every error is bilingual (zh-CN first) and names the record and the value that is wrong. A
service raises the most specific class; a shell looks only at the class's ``category``:

- ``not_found``: the thing named does not exist (an account, a project, a certificate).
- ``forbidden``: the acting user may not do this (role, organisation).
- ``conflict``: the request is well formed but the registry's state refuses it (not enough
  credits, a state transition that does not apply, an idempotency key reused, double counting).
- ``invalid``: the request itself is wrong (a malformed serial, a quantity ≤ 0, a bad file).
- ``failure``: the registry could not run (database set-up, a broken audit chain).
- ``unauthenticated``: no valid sign-in (a wrong password, a revoked token, a disabled user).
- ``throttled``: too many failed sign-ins for this user; wait and try again.

Messages never name a command of the CLI: they say what is wrong and what to supply, in the
service's own terms; the shells add how to supply it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

__all__ = [
    "AccountMismatch",
    "AuditChainBroken",
    "BadAmount",
    "BadInput",
    "BadQuantity",
    "BadSerial",
    "BatchRefused",
    "BufferRule",
    "Category",
    "Conflict",
    "CreditCodeError",
    "DatabaseSetupError",
    "DoubleCounting",
    "Failure",
    "FlaggedPeriod",
    "Forbidden",
    "GrowthCurvesMissing",
    "IdempotencyKeyReused",
    "ImportRejected",
    "InsufficientCredits",
    "Invalid",
    "InvalidTransition",
    "LedgerError",
    "LedgerTampered",
    "LoginThrottled",
    "MissingField",
    "NotEligible",
    "NotFound",
    "NothingToIssue",
    "OrganisationError",
    "PermissionDenied",
    "PledgeClosed",
    "PledgeeNotBank",
    "ProjectError",
    "ProjectNotFound",
    "PurchaseClosed",
    "RegistryError",
    "ReservedAccount",
    "SameAccount",
    "SelectionError",
    "SerialsNotHeld",
    "StartMeasurementMissing",
    "Unauthenticated",
    "UnknownAccount",
    "UnknownCertificate",
    "UnknownOrganisation",
    "UnknownPledge",
    "UnknownProject",
    "UnknownPurchaseRequest",
    "UnknownUser",
    "UnreadableFile",
    "UserError",
    "WrongAccountKind",
]


class Category(StrEnum):
    """What kind of refusal an error is; the shells map categories, never classes."""

    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    INVALID = "invalid"
    FAILURE = "failure"
    UNAUTHENTICATED = "unauthenticated"
    THROTTLED = "throttled"


class RegistryError(Exception):
    """Base of every registry error; messages are bilingual (zh-CN first)."""

    category: ClassVar[Category] = Category.INVALID

    def __init__(self, message_zh: str, message_en: str) -> None:
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{message_zh}\n{message_en}")


class NotFound(RegistryError):
    category = Category.NOT_FOUND


class Forbidden(RegistryError):
    category = Category.FORBIDDEN


class Conflict(RegistryError):
    category = Category.CONFLICT


class Invalid(RegistryError):
    category = Category.INVALID


class Failure(RegistryError):
    category = Category.FAILURE


class Unauthenticated(RegistryError):
    """No valid sign-in: unknown user, wrong password, a revoked or expired token or session,
    a disabled user — deliberately one message for all, so it reveals nothing."""

    category = Category.UNAUTHENTICATED


class LoginThrottled(RegistryError):
    """Too many failed sign-ins for this user in the throttle window."""

    category = Category.THROTTLED


class UnknownUser(NotFound):
    """No user has this name."""


class UserError(Conflict):
    """A user could not be added or changed (a taken name, the last admin)."""


class DatabaseSetupError(Failure):
    """The database cannot be opened or prepared (driver, extension, migration)."""


class ImportRejected(Invalid):
    """An inventory import was refused; nothing was written. ``report`` says why."""

    def __init__(self, message_zh: str, message_en: str, report: object) -> None:
        super().__init__(message_zh, message_en)
        self.report = report


class UnreadableFile(Invalid):
    """A file that cannot be read as what it claims to be (a broken GeoPackage, no layer)."""


class AuditChainBroken(Failure):
    """The audit log's hash chain does not verify."""


# -- organisations ---------------------------------------------------------------------------


class OrganisationError(RegistryError):
    """An organisation could not be registered or does not fit; nothing changed."""

    category = Category.CONFLICT


class UnknownOrganisation(OrganisationError, NotFound):
    """No organisation has this name."""

    category = Category.NOT_FOUND


class CreditCodeError(OrganisationError):
    """Not a valid unified social credit code."""

    category = Category.INVALID


class GrowthCurvesMissing(Conflict):
    """The carbon model needs growth curves fitted to the registered stands first."""


class SelectionError(Invalid):
    """A stand selection (filters, a key list, a polygon file) cannot be understood or selects
    nothing."""


# -- projects' refusals (nothing changed) -----------------------------------------------------


class ProjectError(RegistryError):
    """A project operation was refused; nothing changed."""


class ProjectNotFound(ProjectError, NotFound):
    """No project has this code."""


class PermissionDenied(ProjectError, Forbidden):
    """The actor's role may not take this action."""


class BatchRefused(Invalid):
    """A batch of ledger moves refused as a whole: ``report["lines"]`` names every bad line
    (``line``, ``message_zh``, ``message_en``); nothing was written."""

    def __init__(self, message_zh: str, message_en: str, problems: list[dict[str, Any]]) -> None:
        super().__init__(message_zh, message_en)
        self.problems = problems
        self.report = {"lines": problems}


class InvalidTransition(ProjectError, Conflict):
    """The action is not possible from the project's current state."""


class DoubleCounting(ProjectError, Conflict):
    """A stand (or part of its area) already belongs to another active project."""

    def __init__(self, message_zh: str, message_en: str, conflicts: list[dict[str, Any]]) -> None:
        super().__init__(message_zh, message_en)
        self.conflicts = conflicts


class StartMeasurementMissing(ProjectError, Conflict):
    """Monitoring needs the permanent plots measured at the start of the crediting period."""


class FlaggedPeriod(ProjectError, Conflict):
    """A flagged monitoring period may only be verified with an explicit override and reason."""


class NotEligible(ProjectError, Invalid):
    """Some stands fail the methodology's eligibility rules; ``report`` has one row per stand
    and rule (a pandas DataFrame)."""

    def __init__(self, message_zh: str, message_en: str, report: Any) -> None:
        super().__init__(message_zh, message_en)
        self.report = report


# -- the ledger's refusals (nothing moved) ------------------------------------------------------


class LedgerError(RegistryError):
    """A ledger operation was refused; nothing moved. Subclasses say which refusal."""


class UnknownAccount(LedgerError, NotFound):
    """No ledger account has this code."""


class UnknownProject(LedgerError, NotFound):
    """No project has this code."""


class UnknownPledge(LedgerError, NotFound):
    """No pledge has this id."""


class UnknownCertificate(LedgerError, NotFound):
    """No retirement certificate has this id."""


class WrongAccountKind(LedgerError, Invalid):
    """The account exists but is of a kind the operation cannot use."""


class AccountMismatch(LedgerError, Conflict):
    """An account or holder exists with other details than the ones given."""


class IdempotencyKeyReused(LedgerError, Conflict):
    """The idempotency key was used before for a different request."""


class InsufficientCredits(LedgerError, Conflict):
    """The account holds fewer credits in the needed state than asked for."""


class SerialsNotHeld(LedgerError, Conflict):
    """Some of the serials asked for are not held by the account in the needed state."""


class NothingToIssue(LedgerError, Conflict):
    """The project has no verified monitoring period waiting for issuance."""


class PledgeClosed(LedgerError, Conflict):
    """The pledge was released or enforced already."""


class BadSerial(LedgerError, Invalid):
    """Text that is not a serial or a block of serials."""


class BadQuantity(LedgerError, Invalid):
    """A quantity of credits or a buffer share outside what the operation accepts."""


class BadAmount(LedgerError, Invalid):
    """A loan amount that is not a positive sum of yuan."""


class MissingField(LedgerError, Invalid):
    """A required field (beneficiary, reason) is empty."""


class SameAccount(LedgerError, Invalid):
    """Source and destination are one account (a transfer to itself, a pledge to oneself)."""


class PledgeeNotBank(LedgerError, Invalid):
    """Credits are pledged to banks only."""


class BadInput(LedgerError, Invalid):
    """A value outside what the ledger accepts (a code's characters, a date, a key, text)."""


class ReservedAccount(LedgerError, Forbidden):
    """The registry's own account codes (and the issuance's ``HOLD-`` codes) are reserved."""


class BufferRule(LedgerError, Forbidden):
    """The buffer pool moves only by a reversal's cancellation; its share never goes below the
    registry's minimum."""


class NothingToLabel(LedgerError, Conflict):
    """No live credit in the scope lacks the label (to attach) or carries it (to detach)."""


class LedgerTampered(LedgerError, Failure):
    """The tables disagree with the audit log that recorded them (a row changed behind the
    ledger's back)."""


# -- buyers' purchase requests (registry/purchases.py) ------------------------------------------


class UnknownPurchaseRequest(NotFound):
    """No purchase request has this id."""


class PurchaseClosed(Conflict):
    """The purchase request was confirmed, rejected or cancelled already."""


# --- issue #17 part A: valuation (price scenarios, project value, loans) ---


class ValuationError(RegistryError):
    """A price scenario, a project's valuation or a bank's loan-to-value view refused."""


class UnknownPriceScenario(ValuationError, NotFound):
    """No price is recorded under the name given."""


class BadValuationInput(ValuationError, Invalid):
    """A price, rate, growth, premium or threshold that cannot be used (negative, ≤ −100 % …)."""


# -- issue #17 part B: benefit sharing, owner identities and payment rosters ----------------------
# (registry/compensation/owners.py, rosters.py)


class IdentityFileRejected(Invalid):
    """An owner-identity file was refused; nothing was written. ``rows`` lists each bad row:
    (row number as the spreadsheet shows it, reason zh, reason en)."""

    def __init__(self, message_zh: str, message_en: str, rows: list[tuple[int, str, str]]) -> None:
        super().__init__(message_zh, message_en)
        self.rows = rows


class UnknownRoster(NotFound):
    """No payment roster has this id."""


class RosterClosed(Conflict):
    """The roster is approved or paid already (it never changes), or not in the state the
    action needs."""


class IdentityMissing(Conflict):
    """A roster pays owners who have no checked identity and bank card on record."""


class RosterNotApproved(Conflict):
    """A bank payment file was asked for a roster that is not approved (or paid)."""


class RosterChanged(Conflict):
    """The roster's lines differ from the digest the approver read (it changed since)."""


# -- part C of #17: eco-labels (registry/labels) --------------------------------------------------


class LabelError(RegistryError):
    """An eco-label (生态标签) request was refused."""


class UnknownLabel(LabelError, NotFound):
    """No catalogue entry (or no polygon layer) has this code or name."""


class LabelConflict(LabelError, Conflict):
    """The label cannot be attached or changed in the registry's state: revoked, already in the
    catalogue, not qualifying, its validity shorter than the verification period."""


class BadLabelInput(LabelError, Invalid):
    """A catalogue entry, its criteria or a layer file is wrong (which record and why)."""


# -- part B of #18: the monitoring report and the verifier's workbook (registry/documents) -------


class PeriodNotFound(ProjectError, NotFound):
    """The project has no monitoring period with this number."""


# -- part C of #18: project documents (registry/documents: store, PDF) ----------------------------


class DocumentNotFound(NotFound):
    """No stored project document has this number (or the viewer may not see it)."""


class BadDocumentRequest(Invalid):
    """A document was asked for in a kind or format that does not exist, or without its period."""


# -- #18 review fixes (registry/documents/store.py, tanhui docs) --------------------------------


class DocumentTampered(Failure):
    """A stored document's bytes no longer have the SHA-256 recorded for them: never served."""


class OutputNotWritable(Invalid):
    """The folder asked for the generated files cannot be created or written."""
