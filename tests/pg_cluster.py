"""A throw-away PostgreSQL 15 + PostGIS cluster on a free loopback port (tests and benchmarks).

initdb/pg_ctl from /usr/lib/postgresql/15/bin, run as the unprivileged ``postgres`` user when
we are root (PostgreSQL refuses to run as root). ``stop()`` removes every file it made.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgisCluster:
    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError("PostgreSQL 15 is not installed: run `make test` (it installs it)")
        self.root = Path(tempfile.mkdtemp(prefix="tanhui-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.log = self.root / "server.log"
        self.sockets.mkdir()
        self.run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            for p in (self.root, self.sockets):
                os.chown(p, user.pw_uid, user.pw_gid)
            self.run_as = {"user": user.pw_uid, "group": user.pw_gid}
        self.port = free_port()
        self.admin_url = f"postgresql://tanhui@127.0.0.1:{self.port}/postgres"

    def start(self) -> PostgisCluster:
        subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "tanhui", "--auth=trust",
             "-E", "UTF8", "--no-locale"],
            check=True, capture_output=True, **self.run_as,
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        subprocess.run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log),
             "-w", "start"],
            check=True, capture_output=True, **self.run_as,
        )  # fmt: skip
        return self

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://tanhui@127.0.0.1:{self.port}/{dbname}"

    def libpq(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user=tanhui"

    def create_database(self, name: str, template: str | None = None) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(f"CREATE DATABASE {name}{suffix}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        subprocess.run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True, **self.run_as,
        )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)
