"""The registry's fixed vocabularies that several layers share (the CLI reads them without
loading the database models)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["OrganisationKind", "PeriodStatus", "ProjectStatus", "Role"]


class ProjectStatus(StrEnum):
    DRAFT = "draft"  # 草稿
    SUBMITTED = "submitted"  # 已提交审定
    VALIDATED = "validated"  # 已审定
    REGISTERED = "registered"  # 已登记
    MONITORED = "monitored"  # 已提交监测报告
    VERIFIED = "verified"  # 已核证
    ISSUED = "issued"  # 已签发


class Role(StrEnum):
    ADMIN = "admin"  # 局管理员
    BUREAU_STAFF = "bureau_staff"  # 林业局工作人员
    VERIFIER = "verifier"  # 审定/核证机构
    BUYER = "buyer"  # 买方
    FOREST_OWNER = "forest_owner"  # 林权权利人
    BANK = "bank"  # 银行


class PeriodStatus(StrEnum):
    """A monitoring period: submitted with its plots, then verified or rejected by the verifier."""

    SUBMITTED = "submitted"  # 已提交
    VERIFIED = "verified"  # 已核证
    REJECTED = "rejected"  # 已退回


class OrganisationKind(StrEnum):
    """What an organisation that holds ledger accounts is."""

    REGISTRY = "registry"  # 登记簿
    BUREAU = "bureau"  # 林业局
    DEVELOPER = "developer"  # 项目业主
    BUYER = "buyer"  # 买方
    BANK = "bank"  # 银行
    FOREST_OWNER = "forest_owner"  # 林权权利人
    VERIFIER = "verifier"  # 审定核证机构 (granted by a registry admin, migration 0012)
    OTHER = "other"  # 其他
