"""What every command shares: settings built once, the engine opened lazily (its schema
checked, never migrated behind the user's back), the acting user, the consoles, and one way to
run a service call and report a refusal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from registry.cli.exits import EXIT_FAILED, EXIT_REFUSED, EXIT_USAGE, exit_code
from registry.errors import DatabaseSetupError, RegistryError
from registry.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from registry.actors import Actor

__all__ = ["CliContext", "console", "ctx", "err_console", "refuse", "refuse_input"]

T = TypeVar("T")

# piped output (logs, CI) gets 120 columns so tables stay readable; a terminal keeps its width
console = Console() if sys.stdout.isatty() or "COLUMNS" in os.environ else Console(width=120)
err_console = Console(stderr=True)


class CliContext:
    """One per process: the root callback sets ``database_url``; commands ask for the rest."""

    def __init__(self) -> None:
        self.database_url: str | None = None
        self.user: str | None = None
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    def reset(self, database_url: str | None, user: str | None = None) -> None:
        """Start an invocation: forget the settings and close the engine of the last one; the
        consoles take the width the environment gives now (``COLUMNS``)."""
        if self._engine is not None:
            self._engine.dispose()
        self.database_url, self._settings, self._engine = database_url, None, None
        self.user = user
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit():
            console.width = err_console.width = int(columns)

    def settings(self) -> Settings:
        if self._settings is None:
            settings = Settings()
            if self.database_url:
                settings = settings.model_copy(update={"database_url": self.database_url})
            self._settings = settings
        return self._settings

    def engine(self) -> Engine:
        """The database, its schema checked: a brand-new, empty database is created; one
        whose schema is behind the code is refused with the command that upgrades it."""
        if self._engine is None:
            from sqlalchemy.exc import OperationalError

            from registry.db import ensure_schema, make_engine

            url = self.settings().database_url
            engine = make_engine(url)
            try:
                ensure_schema(engine)
            except DatabaseSetupError as exc:
                raise refuse(exc, hint="请先运行 / run first: tanhui db upgrade") from exc
            except OperationalError as exc:
                shown = engine.url.render_as_string(hide_password=True)
                raise refuse(DatabaseSetupError(
                    f"无法连接数据库 {shown}：{str(exc.orig).strip().splitlines()[0]}",
                    f"cannot connect to the database {shown}: {str(exc.orig).strip().splitlines()[0]}",
                )) from exc  # fmt: skip
            self._engine = engine
        return self._engine

    def acting(self, session: Session) -> Actor:
        """Who acts: the local user named by ``--as`` (or the settings' ``user``), its roles and
        organisation read from the database in the caller's transaction."""
        from registry.errors import Unauthenticated
        from registry.users import load_actor

        name = self.user or self.settings().user
        if not name:
            raise Unauthenticated(
                "请指明以哪个用户身份操作（--as 用户名，或环境变量 TANHUI_USER）。",
                "name the user who acts (--as USER, or TANHUI_USER).",
            )
        return load_actor(session, name)

    def actor(self) -> Actor:
        """The acting user, read in a transaction of its own, for the services that open their
        own transactions (an import); they check its roles themselves. A refusal exits."""
        try:
            with self.reading() as session:
                return self.acting(session)
        except RegistryError as exc:
            raise refuse(exc) from exc

    def run(
        self, work: Callable[[Session], T], report: Callable[[RegistryError], None] | None = None
    ) -> T:
        """Run one service call in its own transaction; a refusal exits with its code (after
        ``report`` printed its details, e.g. a refused batch's bad lines)."""
        from registry.db import database_refusal, session_scope

        try:
            with session_scope(self.engine()) as session:
                return work(session)
        except RegistryError as exc:
            if report is not None:
                report(exc)
            raise refuse(exc) from exc
        except Exception as exc:
            refusal = database_refusal(exc)
            if refusal is None:
                raise
            raise refuse(refusal) from exc

    def run_plain(self, work: Callable[[], T]) -> T:
        """Run a call that needs no transaction; a refusal exits with its code."""
        try:
            return work()
        except RegistryError as exc:
            raise refuse(exc) from exc

    def read(self, work: Callable[[Session], T]) -> T:
        """Run one view in a read-only transaction; a refusal exits with its code."""
        try:
            with self.reading() as session:
                return work(session)
        except RegistryError as exc:
            raise refuse(exc) from exc

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction (no write lock on SQLite), for views."""
        from registry.db import read_scope

        with read_scope(self.engine()) as session:
            yield session


ctx = CliContext()


def _hint(exc: Exception) -> str:
    """What to run next, for the refusals whose remedy is another command (the services' own
    messages never name commands)."""
    from registry.errors import GrowthCurvesMissing, StartMeasurementMissing

    hints: dict[type[Exception], str] = {
        GrowthCurvesMissing: "先运行 / run first: tanhui model fit-growth",
        StartMeasurementMissing: "先运行 / run first: tanhui project measure-start --project … "
        "--plots start.xlsx --date YYYY-MM-DD",
    }
    return next((h for kind, h in hints.items() if isinstance(exc, kind)), "")


def refuse(exc: RegistryError | Exception, hint: str = "") -> typer.Exit:
    """Print a refusal (zh-CN first, then English) and the exit code its category maps to; an
    input file's problems: bad usage (2) or unreadable (3)."""
    zh = getattr(exc, "message_zh", str(exc))
    en = getattr(exc, "message_en", str(exc))
    if isinstance(exc, RegistryError):
        code, label = exit_code(exc), ("拒绝", "Refused")
    else:
        from gis_data.errors import UsageError  # only on the way out: gis_data loads geopandas

        usage = isinstance(exc, UsageError)
        code, label = (
            (EXIT_USAGE, ("用法错误", "Bad usage")) if usage else (EXIT_FAILED, ("错误", "Error"))
        )
    err_console.print(f"[bold red]{label[0]}[/] {escape(zh)}\n[bold red]{label[1]}[/] {escape(en)}")
    hint = hint or _hint(exc)
    if hint:
        err_console.print(hint)
    return typer.Exit(code)


def refuse_input(exc: Exception) -> typer.Exit:
    """A refusal of the science (bad plots, stands out of range): the input is refused (1)."""
    zh = getattr(exc, "message_zh", str(exc))
    en = getattr(exc, "message_en", str(exc))
    err_console.print(f"[bold red]拒绝[/] {escape(zh)}\n[bold red]Refused[/] {escape(en)}")
    return typer.Exit(EXIT_REFUSED)
