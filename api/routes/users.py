"""Users and their roles (admins change them; everyone sees its organisation's users)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.deps import CallerDep, PageDep
from api.schemas import Page, PasswordReset, RolesUpdate, UserCreate, UserPublic
from registry.users import (
    add_user,
    disable_user,
    list_users,
    parse_roles,
    reset_password,
    set_roles,
)

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users 用户"])


@router.get("", response_model=Page[UserPublic])
def users(
    caller: CallerDep, page: PageDep, organisation: str | None = Query(None, max_length=200)
) -> dict[str, Any]:
    """用户列表（按 id） / users by id: an admin sees all, others their organisation's."""
    views, total = caller.read(lambda s, a: list_users(s, a, organisation, page.limit, page.offset))
    return {"items": [v.to_dict() for v in views], "total": total, "limit": page.limit,
            "offset": page.offset}  # fmt: skip


@router.post("", response_model=UserPublic, status_code=201)
def create(body: UserCreate, caller: CallerDep) -> dict[str, Any]:
    """添加用户（管理员） / add a user (admin)."""
    return caller.write(lambda s, a: add_user(
        s, a, body.username, body.organisation, parse_roles(list(body.roles)), body.password,
        body.display_name)).to_dict()  # fmt: skip


@router.put("/{username}/roles", response_model=UserPublic)
def roles(username: str, body: RolesUpdate, caller: CallerDep) -> dict[str, Any]:
    """设置角色（管理员） / set a user's roles (admin)."""
    return caller.write(
        lambda s, a: set_roles(s, a, username, parse_roles(list(body.roles)))
    ).to_dict()


@router.post("/{username}/disable", response_model=UserPublic)
def disable(username: str, caller: CallerDep) -> dict[str, Any]:
    """停用用户（管理员；撤销其会话与 API 令牌） / disable a user (admin; its sessions and API
    tokens are revoked)."""
    return caller.write(lambda s, a: disable_user(s, a, username)).to_dict()


@router.post("/{username}/password", response_model=UserPublic)
def password(username: str, body: PasswordReset, caller: CallerDep) -> dict[str, Any]:
    """重设密码（管理员；撤销其会话与 API 令牌） / reset a password (admin; the user's sessions
    and API tokens are revoked)."""
    return caller.write(lambda s, a: reset_password(s, a, username, body.password)).to_dict()
