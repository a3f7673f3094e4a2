"""A registry behind the API: the verified project L1 (ledger fixtures), the accounts BUYER
(某电力公司) and BANK (永州某银行), the test users, and an API token for each user."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine

from registry.db import session_scope
from registry.users import issue_secret, load_actor
from tests.registry.ledger_fixtures import open_buyer_and_bank, verified_project
from tests.registry.user_fixtures import USERS, add_test_users

__all__ = ["api_registry", "read_tokens", "uvicorn_server"]

_BUILT: list[dict[str, str]] = []  # the tokens of each scenario built in this test session


def api_registry(engine: Engine, folder: Path) -> None:
    """The scenario: L1 verified, BUYER and BANK open, the users, one token per user (the
    database keeps their hashes; the secrets stay in this process, for the tests)."""
    verified_project(engine, folder)
    with session_scope(engine) as s:
        open_buyer_and_bank(s)
    add_test_users(engine)
    tokens = {}
    with session_scope(engine) as s:
        for username in USERS:
            _, tokens[username] = issue_secret(s, load_actor(s, username), "api_token", "t", None)
    _BUILT.append(tokens)


def read_tokens(engine: Engine) -> dict[str, str]:
    """The users' tokens of the scenario copied into ``engine`` (the table holds only their
    hashes: the scenario's tokens are found by them)."""
    import hashlib

    from sqlalchemy import text

    with engine.connect() as c:
        stored = {str(r[0]) for r in c.execute(text("SELECT secret_hash FROM api_token"))}
    for tokens in _BUILT:
        if all(hashlib.sha256(v.encode()).hexdigest() in stored for v in tokens.values()):
            return dict(tokens)  # a copy: a test may add its own users' tokens
    raise LookupError("no tokens of this scenario")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_server(db_url: str, workers: int = 1) -> Iterator[str]:
    """``tanhui serve`` on 127.0.0.1 in its own process (a real server); yields its base URL
    and stops it (bounded waits)."""
    port = _free_port()
    env = {**os.environ, "TANHUI_DATABASE_URL": db_url}
    tanhui = str(Path(sys.executable).parent / "tanhui")
    args = [tanhui, "serve", "--port", str(port)]
    if not db_url.startswith("sqlite"):
        args += ["--workers", str(workers)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                _, err = proc.communicate(timeout=5)
                raise RuntimeError(f"server did not start: {err.decode()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
