"""Users and sign-in: accounts of people (and machines) of organisations, holding roles.

- Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106); a user without a
  password (``password_hash`` NULL) acts only on the command line of the registry's machine.
- Sign-in is throttled in the database (``login_failure``), across every worker of the server
  since they share it: after ``max_failures`` failed attempts for one username from one client
  address within ``window``, that address's attempts for the user are refused until the window
  has passed — a stranger cannot lock the user out everywhere; after ``max_failures_per_user``
  from all addresses together (a guesser spread over many), every attempt for the user is.
  Refused attempts are not counted, so one address adds at most ``max_failures`` to the
  ceiling.
- API tokens and cookie sessions are random secrets shown once; the database keeps only their
  SHA-256 (a 256-bit random secret needs no slow hash) and a revocation time.
- Every change (user added, roles set, disabled, password reset, token made or revoked) is an
  audit event naming who did it; no event ever carries a password, a hash or a secret.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.db import DriverSQL
from registry.errors import (
    Invalid,
    LoginThrottled,
    Unauthenticated,
    UnknownUser,
    UserError,
)
from registry.organisations import EFFECTIVE_KIND, ensure_organisation, find_organisation
from registry.vocabulary import Role

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "Throttle",
    "UserView",
    "actor_for_secret",
    "add_user",
    "authenticate",
    "bootstrap_admin",
    "count_users",
    "disable_user",
    "issue_secret",
    "list_users",
    "load_actor",
    "parse_roles",
    "reset_password",
    "revoke_secret",
    "set_roles",
]

MIN_PASSWORD_LENGTH = 12
USERNAME = re.compile(r"[A-Za-z0-9_.\-]{2,64}")
ADMIN_ONLY = (Role.ADMIN,)
SECRET_TABLES = ("api_token", "web_session")


@dataclass(frozen=True)
class Throttle:
    """At most ``max_failures`` failed sign-ins per username and client address within
    ``window``, and ``max_failures_per_user`` per username from every address together."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    max_failures_per_user: int = 50


@dataclass(frozen=True)
class UserView:
    """What may be shown of a user (never a hash)."""

    id: int
    username: str
    display_name: str
    organisation: str
    organisation_kind: str
    roles: tuple[str, ...]
    disabled: bool
    has_password: bool
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "username": self.username, "display_name": self.display_name,
            "organisation": self.organisation, "organisation_kind": self.organisation_kind,
            "roles": list(self.roles), "disabled": self.disabled,
            "has_password": self.has_password, "created_at": self.created_at,
        }  # fmt: skip


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_roles(text: str | list[str] | tuple[str, ...]) -> frozenset[Role]:
    """Roles from ``"admin,bureau_staff"`` (or a list); an unknown role is refused."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [r.strip() for r in items if r.strip()]
    known = {r.value for r in Role}
    wrong = [r for r in names if r not in known]
    if wrong or not names:
        raise Invalid(
            f"角色 {', '.join(wrong) or '（空）'} 无效，可选：{', '.join(sorted(known))}。",
            f"unknown role(s) {', '.join(wrong) or '(none)'}; choose from {', '.join(sorted(known))}.",
        )
    return frozenset(Role(r) for r in names)


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH or not password.strip():
        raise Invalid(
            f"密码至少 {MIN_PASSWORD_LENGTH} 个字符。",
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters.",
        )
    if len(password) > 1024:
        raise Invalid(
            "密码过长（最多 1024 个字符）。", "password too long (1024 characters at most)."
        )
    return _hasher().hash(password)


def count_users(session: Session) -> int:
    row = DriverSQL(session).first("SELECT COUNT(*) FROM app_user")
    return int(row[0]) if row else 0


_USER_SQL = (
    f"SELECT u.id, u.username, u.display_name, o.name, {EFFECTIVE_KIND}, u.roles, u.disabled, "
    "u.password_hash IS NOT NULL, u.created_at FROM app_user u JOIN organisation o ON o.id = u.organisation_id"
)


def _view(row: tuple[Any, ...]) -> UserView:
    created = row[8]
    return UserView(int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]),
                    tuple(str(row[5]).split(",")), bool(row[6]), bool(row[7]),
                    created.isoformat() if isinstance(created, datetime) else str(created))  # fmt: skip


def _user(db: DriverSQL, username: str) -> UserView:
    row = db.first(_USER_SQL + " WHERE u.username = :u", {"u": username})
    if row is None:
        raise UnknownUser(f"没有用户 {username!r}。", f"no user {username!r}.")
    return _view(row)


def add_user(
    session: Session, actor: Actor | None, username: str, organisation: str,
    roles: frozenset[Role], password: str | None = None, display_name: str | None = None,
) -> UserView:  # fmt: skip
    """Add a user of a registered organisation. Only a registry admin adds users — except the
    very first user, added on the command line (``actor`` None), who must be an admin with a
    password (there is never a default password)."""
    db = DriverSQL(session)
    first = count_users(session) == 0
    if actor is None:
        if not first:
            raise Unauthenticated(
                "已有用户：请以管理员身份添加用户。", "users exist: add users as an admin."
            )
        if Role.ADMIN not in roles or password is None:
            raise UserError(
                "第一个用户须为带密码的管理员（admin）。",
                "the first user must be an admin (role admin) with a password.",
            )
    else:
        require_any_role(actor, ADMIN_ONLY, "添加用户 / add users")
    if not USERNAME.fullmatch(username):
        raise Invalid(
            f"用户名 {username!r} 无效：2–64 个字母、数字或 _.-。",
            f"username {username!r} is not valid: 2–64 letters, digits or _.-",
        )
    org = find_organisation(session, organisation)
    hashed = None if password is None else _check_password(password)
    inserted = db.rows(
        "INSERT INTO app_user (username, display_name, organisation_id, roles, password_hash, disabled, created_at) "
        "VALUES (:u, :d, :o, :r, :p, :f, :t) ON CONFLICT (username) DO NOTHING RETURNING id",
        {"u": username, "d": (display_name or username).strip(), "o": org.id,
         "r": ",".join(sorted(r.value for r in roles)), "p": hashed, "f": False, "t": _now()},
    )  # fmt: skip
    if not inserted:
        raise UserError(f"用户名 {username} 已存在。", f"username {username} is taken.")
    by = actor.label if actor is not None else f"{username}@{org.name}"
    append_event(session, actor=by, action="user.added", entity_type="user", entity_id=username,
                 payload={"organisation": org.name, "roles": sorted(r.value for r in roles),
                          "password": hashed is not None})  # fmt: skip
    return _user(db, username)


def bootstrap_admin(
    session: Session, username: str, organisation: str, password: str,
    credit_code: str | None = None, display_name: str | None = None,
    roles: frozenset[Role] = frozenset({Role.ADMIN}),
) -> UserView:  # fmt: skip
    """The registry's first user: an admin with a password, of the bureau that runs the
    registry (registered here, kind ``bureau``, if new). Refused once any user exists."""
    if count_users(session) > 0:
        raise Unauthenticated(
            "已有用户：请以管理员身份添加用户。", "users exist: add users as an admin."
        )
    if Role.ADMIN not in roles:
        raise UserError(
            "第一个用户须为带密码的管理员（admin）。",
            "the first user must be an admin (role admin) with a password.",
        )
    by = f"{username}@{organisation.strip()}"
    ensure_organisation(session, by, organisation, None, credit_code, default_kind="bureau")
    return add_user(session, None, username, organisation, roles, password, display_name)


def list_users(
    session: Session, actor: Actor, organisation: str | None = None, limit: int = 100,
    offset: int = 0,
) -> tuple[list[UserView], int]:  # fmt: skip
    """Users by id; an admin sees every user, anyone else the users of its own organisation."""
    if not actor.has(Role.ADMIN):
        organisation = actor.organisation
    db = DriverSQL(session)
    where = "" if organisation is None else " WHERE o.name = :o"
    total = db.first(
        "SELECT COUNT(*) FROM app_user u JOIN organisation o ON o.id = u.organisation_id" + where,
        {"o": organisation},
    )
    rows = db.rows(_USER_SQL + where + " ORDER BY u.id LIMIT :l OFFSET :f",
                   {"o": organisation, "l": limit, "f": offset})  # fmt: skip
    return [_view(r) for r in rows], int(total[0]) if total else 0


def _change(session: Session, actor: Actor, username: str, what: str, sql: str,
            params: dict[str, Any], payload: dict[str, Any],
            revoke: bool = False) -> UserView:  # fmt: skip
    """An admin's change of one user (``sql`` with ``:i`` its id), recorded in the audit log;
    ``revoke``: every live session and API token of the user ends with it (their counts are in
    the event)."""
    require_any_role(actor, ADMIN_ONLY, what)
    db = DriverSQL(session)
    user = _user(db, username)
    db.rows(sql, {**params, "i": user.id})
    if revoke:
        payload |= _revoke_all(db, user.id)
    append_event(session, actor=actor.label, action=f"user.{payload.pop('action')}",
                 entity_type="user", entity_id=username, payload=payload)  # fmt: skip
    return _user(db, username)


def _revoke_all(db: DriverSQL, user_id: int) -> dict[str, int]:
    """End every live session and API token of a user; how many of each."""
    counts = {}
    for table in SECRET_TABLES:
        ended = db.rows(f"UPDATE {table} SET revoked_at = :t WHERE user_id = :i AND revoked_at "
                        "IS NULL RETURNING id", {"t": _now(), "i": user_id})  # fmt: skip
        counts[f"{table}s_revoked"] = len(ended)
    return counts


def _not_last_admin(session: Session, username: str) -> None:
    row = DriverSQL(session).first(
        "SELECT COUNT(*) FROM app_user WHERE NOT disabled AND username <> :u AND "
        "(',' || roles || ',') LIKE '%,admin,%'",
        {"u": username},
    )
    if row is None or int(row[0]) == 0:
        raise UserError(
            f"{username} 是最后一个有效的管理员，不能停用或去掉其管理员角色。",
            f"{username} is the last active admin: it cannot be disabled or lose the admin role.",
        )


def set_roles(session: Session, actor: Actor, username: str, roles: frozenset[Role]) -> UserView:
    """An admin sets a user's roles (all of them at once)."""
    if Role.ADMIN not in roles:
        _not_last_admin(session, username)
    text = ",".join(sorted(r.value for r in roles))
    return _change(session, actor, username, "设置角色 / set roles",
                   "UPDATE app_user SET roles = :r WHERE id = :i", {"r": text},
                   {"action": "roles_set", "roles": text.split(",")})  # fmt: skip


def disable_user(session: Session, actor: Actor, username: str) -> UserView:
    """An admin disables a user: sign-in and the CLI refuse it, and its sessions and API tokens
    are revoked (they stay revoked should the user ever be enabled again)."""
    _not_last_admin(session, username)
    return _change(session, actor, username, "停用用户 / disable users",
                   "UPDATE app_user SET disabled = :d WHERE id = :i", {"d": True},
                   {"action": "disabled"}, revoke=True)  # fmt: skip


def reset_password(session: Session, actor: Actor, username: str, password: str) -> UserView:
    """An admin sets a new password; every session and API token of the user is revoked (a
    reset is what one does when a secret may have leaked: the old secrets must not outlive
    it)."""
    hashed = _check_password(password)
    return _change(session, actor, username, "重设密码 / reset passwords",
                   "UPDATE app_user SET password_hash = :p WHERE id = :i", {"p": hashed},
                   {"action": "password_reset"}, revoke=True)  # fmt: skip


def load_actor(session: Session, username: str) -> Actor:
    """The actor for a user: its roles and organisation from the database; a disabled or
    unknown user is refused."""
    db = DriverSQL(session)
    row = db.first(
        f"SELECT u.id, u.roles, u.disabled, o.name, {EFFECTIVE_KIND} FROM app_user u "
        "JOIN organisation o ON o.id = u.organisation_id WHERE u.username = :u",
        {"u": username},
    )
    if row is None:
        raise UnknownUser(f"没有用户 {username!r}。", f"no user {username!r}.")
    if bool(row[2]):
        raise Unauthenticated(f"用户 {username} 已停用。", f"user {username} is disabled.")
    return Actor(username, parse_roles(str(row[1])), str(row[3]), str(row[4]), int(row[0]))


_REFUSED = (
    "用户名或密码错误，或用户已停用。",
    "wrong username or password, or the user is disabled.",
)


def _check_throttle(db: DriverSQL, username: str, client: str, throttle: Throttle) -> None:
    """Refuse a sign-in when the user's failures within the window reach either limit."""
    row = db.first(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN client = :c THEN 1 ELSE 0 END), 0) "
        "FROM login_failure WHERE username = :u AND at > :s",
        {"u": username, "c": client, "s": _now() - throttle.window},
    )
    everywhere, here = (int(row[0]), int(row[1])) if row is not None else (0, 0)
    minutes = int(throttle.window.total_seconds() // 60)
    if here >= throttle.max_failures:
        raise LoginThrottled(
            f"用户 {username} 从此地址登录失败次数过多，请 {minutes} 分钟后再试。",
            f"too many failed sign-ins for {username} from this address; try again in "
            f"{minutes} minutes.",
        )
    if everywhere >= throttle.max_failures_per_user:
        raise LoginThrottled(
            f"用户 {username} 从多个地址登录失败次数过多，请 {minutes} 分钟后再试。",
            f"too many failed sign-ins for {username} from many addresses; try again in "
            f"{minutes} minutes.",
        )


def authenticate(
    session: Session, username: str, password: str, throttle: Throttle, client: str = ""
) -> Actor:
    """Check a password; ``client`` is the address the attempt came from. Failures are
    recorded (in the caller's transaction, which the caller commits even on refusal); too many
    for the user from this address, or from all addresses together, refuse the attempt (see
    :class:`Throttle`; a refused attempt is not counted)."""
    db = DriverSQL(session)
    username, client = username[:64], client[:64]
    _check_throttle(db, username, client, throttle)
    row = db.first(
        "SELECT password_hash, disabled FROM app_user WHERE username = :u", {"u": username}
    )
    ok = False
    if row is not None and row[0] is not None:
        try:
            ok = _hasher().verify(str(row[0]), password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher().hash(password or "x")  # the same time whether the user exists or not
    if not ok or row is None or bool(row[1]):
        db.rows("INSERT INTO login_failure (username, client, at) VALUES (:u, :c, :t)",
                {"u": username, "c": client, "t": _now()})  # fmt: skip
        raise Unauthenticated(*_REFUSED)
    return load_actor(session, username)


def issue_secret(
    session: Session, actor: Actor, table: str, name: str, lifetime: timedelta | None,
    for_user: str | None = None,
) -> tuple[int, str]:  # fmt: skip
    """A new API token (``api_token``) or session (``web_session``) for ``actor`` (or, by an
    admin, for ``for_user``): its id and the secret, shown once — only its SHA-256 is kept."""
    assert table in SECRET_TABLES
    db = DriverSQL(session)
    owner = actor
    if for_user is not None and for_user != actor.name:
        require_any_role(actor, ADMIN_ONLY, "为他人创建令牌 / make tokens for other users")
        owner = load_actor(session, for_user)
    assert owner.user_id is not None
    secret = ("th_" if table == "api_token" else "ts_") + secrets.token_urlsafe(32)
    now = _now()
    row = db.first(
        f"INSERT INTO {table} (user_id, name, secret_hash, created_at, expires_at) "
        "VALUES (:u, :n, :h, :t, :e) RETURNING id",
        {"u": owner.user_id, "n": name[:200], "h": _digest(secret), "t": now,
         "e": None if lifetime is None else now + lifetime},
    )  # fmt: skip
    assert row is not None
    if table == "api_token":  # sessions are sign-ins, not changes of the registry
        append_event(session, actor=actor.label, action="user.token_created", entity_type="user",
                     entity_id=owner.name, payload={"token_id": int(row[0]), "name": name[:200]})  # fmt: skip
    return int(row[0]), secret


def actor_for_secret(session: Session, table: str, secret: str) -> Actor:
    """The actor a token or session secret stands for; revoked, expired, unknown or a disabled
    user's secrets are refused alike."""
    assert table in SECRET_TABLES
    row = DriverSQL(session).first(
        f"SELECT u.username, s.revoked_at, s.expires_at FROM {table} s "
        "JOIN app_user u ON u.id = s.user_id WHERE s.secret_hash = :h",
        {"h": _digest(secret)},
    )
    if row is None or row[1] is not None:
        raise Unauthenticated(
            "令牌或会话无效或已撤销。", "the token or session is invalid or revoked."
        )
    expires = row[2]
    if expires is not None:
        if isinstance(expires, str):
            expires = datetime.fromisoformat(expires)
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires < _now():
            raise Unauthenticated("会话已过期。", "the session has expired.")
    return load_actor(session, str(row[0]))


def revoke_secret(session: Session, actor: Actor, table: str, secret_id: int | None = None,
                  secret: str | None = None) -> None:  # fmt: skip
    """Revoke a token or session by its id (its owner or an admin) or by the secret itself."""
    assert table in SECRET_TABLES
    db = DriverSQL(session)
    where, params = ("id = :i", {"i": secret_id}) if secret is None else (
        "secret_hash = :h", {"h": _digest(secret)})  # fmt: skip
    out_of_range = secret is None and not (isinstance(secret_id, int) and 1 <= secret_id < 2**31)
    row = (
        None if out_of_range else db.first(f"SELECT id, user_id FROM {table} WHERE {where}", params)
    )
    if row is None:  # an id no integer column holds is no token either (never a driver error)
        raise UnknownUser("没有这个令牌。", "no such token.")
    if int(row[1]) != actor.user_id:
        require_any_role(actor, ADMIN_ONLY, "撤销他人的令牌 / revoke other users' tokens")
    db.rows(f"UPDATE {table} SET revoked_at = :t WHERE id = :i AND revoked_at IS NULL",
            {"t": _now(), "i": int(row[0])})  # fmt: skip
    if table == "api_token":
        append_event(session, actor=actor.label, action="user.token_revoked", entity_type="api_token",
                     entity_id=str(row[0]), payload={})  # fmt: skip
