"""The ledger's fixed vocabularies."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AccountKind", "BlockState", "OperationKind", "PledgeStatus"]


class BlockState(StrEnum):
    """The state of a block of credits."""

    ACTIVE = "active"
    PLEDGED = "pledged"
    RETIRED = "retired"
    CANCELLED = "cancelled"


class AccountKind(StrEnum):
    """Holding accounts belong to organisations; the others are the registry's own."""

    ISSUANCE = "issuance"
    HOLDING = "holding"
    BUFFER = "buffer"
    RETIREMENT = "retirement"
    CANCELLATION = "cancellation"


class PledgeStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    ENFORCED = "enforced"


class OperationKind(StrEnum):
    """What a ledger operation did; the audit action is ``ledger.<kind>``."""

    ISSUE = "issue"
    TRANSFER = "transfer"
    RETIRE = "retire"
    CANCEL = "cancel"
    PLEDGE = "pledge"
    RELEASE = "release"
    ENFORCE = "enforce"
    LABEL = "label"  # attach or detach an eco-label (生态标签): the blocks are rewritten
    BATCH = "batch"  # many transfers and retirements at once (ledger/batch.py)
