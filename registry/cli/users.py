"""``tanhui users …`` and ``tanhui org …``: people, their roles and organisations' kinds.

The first admin is made here (``users add`` before any user exists): an admin with a password
typed twice (or read from stdin) — never a default one. After that, only an admin adds users,
sets roles, disables users, resets passwords, and grants organisations their kinds.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from registry.cli.context import console, ctx, err_console
from registry.cli.exits import EXIT_USAGE
from registry.cli.output import print_table

__all__ = ["org_app", "users_app"]

users_app = typer.Typer(help="用户与角色 / users and roles.", no_args_is_help=True)
org_app = typer.Typer(help="机构与机构类型 / organisations and their kinds.", no_args_is_help=True)

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="从标准输入读取密码（一行） / read the password from stdin"
    ),
]


def _password(from_stdin: bool, required: bool) -> str | None:
    """A password from stdin (one line) or typed twice at a prompt; never a default."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            err_console.print(
                "[bold red]用法错误[/] 标准输入没有密码。\n[bold red]Bad usage[/] no password on stdin."
            )
            raise typer.Exit(EXIT_USAGE)
        return line
    if not required:
        return None
    value: str = typer.prompt("密码 password", hide_input=True, confirmation_prompt=True)
    return value


@users_app.command("add")
def add_cmd(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    organisation: Annotated[
        str, typer.Option(help="所属机构（已登记；第一个管理员：林业局） / organisation")
    ],
    role: Annotated[list[str], typer.Option("--role", help="角色，可多次 / role (repeat)")],
    display_name: Annotated[str | None, typer.Option(help="显示名 / display name")] = None,
    password_stdin: PasswordStdin = False,
    no_password: Annotated[
        bool, typer.Option(help="不设密码：只能在本机命令行操作 / no password: command line only")
    ] = False,
) -> None:
    """添加用户（第一个用户：管理员，无需 --as） / add a user (the first: an admin)."""
    from registry.users import add_user, bootstrap_admin, count_users, parse_roles

    roles = ctx.run_plain(lambda: parse_roles(role))
    with ctx.reading() as session:
        first = count_users(session) == 0
    password = _password(password_stdin, required=first or not no_password)
    if first:
        assert password is not None
        view = ctx.run(lambda s: bootstrap_admin(s, username, organisation, password, None,
                                                 display_name, roles))  # fmt: skip
    else:
        view = ctx.run(lambda s: add_user(s, ctx.acting(s), username, organisation, roles,
                                          password, display_name))  # fmt: skip
    console.print(f"[green]用户 {escape(view.username)} 已添加[/] user added: "
                  f"{escape(view.organisation)}, roles {', '.join(view.roles)}")  # fmt: skip


@users_app.command("list")
def list_cmd(
    organisation: Annotated[
        str | None, typer.Option(help="只列该机构 / only this organisation")
    ] = None,
) -> None:
    """列出用户 / list users (an admin: all; others: their organisation's)."""
    from registry.users import list_users

    views, total = ctx.run(lambda s: list_users(s, ctx.acting(s), organisation, limit=10_000))
    print_table(f"用户 users ({total})", [v.to_dict() for v in views],
                ("username", "display_name", "organisation", "roles", "disabled", "has_password"))  # fmt: skip


@users_app.command("set-role")
def set_role_cmd(
    username: Annotated[str, typer.Argument()],
    role: Annotated[
        list[str], typer.Option("--role", help="新的全部角色，可多次 / every role (repeat)")
    ],
) -> None:
    """设置用户的角色（全部替换） / set a user's roles (admin)."""
    from registry.users import parse_roles, set_roles

    roles = ctx.run_plain(lambda: parse_roles(role))
    view = ctx.run(lambda s: set_roles(s, ctx.acting(s), username, roles))
    console.print(f"[green]{escape(view.username)}[/]: {', '.join(view.roles)}")


@users_app.command("disable")
def disable_cmd(username: Annotated[str, typer.Argument()]) -> None:
    """停用用户 / disable a user (admin): sign-in, tokens and the CLI refuse it."""
    from registry.users import disable_user

    ctx.run(lambda s: disable_user(s, ctx.acting(s), username))
    console.print(f"[green]{escape(username)} 已停用[/] disabled")


@users_app.command("reset-password")
def reset_password_cmd(
    username: Annotated[str, typer.Argument()], password_stdin: PasswordStdin = False
) -> None:
    """重设密码（撤销其全部会话与 API 令牌） / set a new password (admin); the user's sessions
    and API tokens are revoked."""
    from registry.users import reset_password

    password = _password(password_stdin, required=True)
    assert password is not None
    ctx.run(lambda s: reset_password(s, ctx.acting(s), username, password))
    console.print(
        f"[green]{escape(username)} 密码已重设，会话与令牌已撤销[/] password reset; "
        "sessions and tokens revoked"
    )


@users_app.command("token")
def token_cmd(
    name: Annotated[str, typer.Option(help="令牌用途 / what the token is for")],
    user: Annotated[
        str | None, typer.Option("--for", help="为该用户（管理员） / for this user")
    ] = None,
) -> None:
    """创建 API 令牌（只显示一次） / make an API token (shown once, stored hashed)."""
    from registry.users import issue_secret

    token_id, secret = ctx.run(
        lambda s: issue_secret(s, ctx.acting(s), "api_token", name, None, user)
    )
    err_console.print(f"令牌 token {token_id}（只显示这一次 shown this once）:")
    print(secret)


@users_app.command("revoke-token")
def revoke_token_cmd(token_id: Annotated[int, typer.Argument()]) -> None:
    """撤销 API 令牌 / revoke an API token (its owner or an admin)."""
    from registry.users import revoke_secret

    ctx.run(lambda s: revoke_secret(s, ctx.acting(s), "api_token", token_id))
    console.print(f"[green]令牌 {token_id} 已撤销[/] token revoked")


@org_app.command("add")
def org_add_cmd(
    name: Annotated[str, typer.Argument()],
    kind: Annotated[
        str | None, typer.Option(help="机构类型（仅管理员） / kind (admin only)")
    ] = None,
    credit_code: Annotated[str | None, typer.Option(help="统一社会信用代码")] = None,
) -> None:
    """登记机构 / register an organisation (bureau staff or admin; a kind only by an admin)."""
    from registry.organisations import register_organisation

    org = ctx.run(lambda s: register_organisation(s, ctx.acting(s), name, kind, credit_code))
    console.print(f"[green]{escape(org.name)}[/] ({org.kind})")


@org_app.command("grant")
def org_grant_cmd(
    name: Annotated[str, typer.Argument()],
    kind: Annotated[
        str, typer.Option(help="bureau/developer/buyer/bank/forest_owner/verifier/other")
    ],
) -> None:
    """授予机构类型（管理员） / grant an organisation its kind (admin)."""
    from registry.organisations import grant_kind

    org = ctx.run(lambda s: grant_kind(s, ctx.acting(s), name, kind))
    console.print(f"[green]{escape(org.name)} → {org.kind}[/]")


@org_app.command("list")
def org_list_cmd() -> None:
    """列出机构 / list organisations with their kinds."""
    from registry.organisations import list_organisations

    with ctx.reading() as session:
        orgs, total = list_organisations(session, limit=10_000)
    print_table(f"机构 organisations ({total})",
                [{"name": o.name, "kind": o.kind, "credit_code": o.credit_code} for o in orgs],
                ("name", "kind", "credit_code"))  # fmt: skip
