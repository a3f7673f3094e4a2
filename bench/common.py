"""What the benchmarks share: closed-loop client threads with latency percentiles, a real
``tanhui serve`` in its own process (its peak memory read from /proc), and the paths.

Not a test: nothing here asserts timings."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TANHUI = str(Path(sys.executable).parent / "tanhui")

__all__ = [
    "BENCH_USER",
    "ROOT",
    "TANHUI",
    "Result",
    "Server",
    "percentiles",
    "run_clients",
    "serve",
    "verdict",
    "with_user",
]

BENCH_USER = "bench"


@dataclass
class Result:
    ops_per_s: float
    p50_ms: float
    p99_ms: float
    refused: int


def percentiles(latencies: list[float], seconds: float, refused: int) -> Result:
    """Operations a second, median and 99th-percentile latency (ms) of one run."""
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else 0.0
    return Result(len(latencies) / seconds, statistics.median(latencies) * 1000 if latencies else 0.0,
                  p99 * 1000, refused)  # fmt: skip


def run_clients(
    clients: int, seconds: float, make: Callable[[int], Callable[[int], bool]]
) -> Result:
    """``clients`` threads, each calling its ``make(n)`` operation in a loop for ``seconds``
    (a closed loop: the next request as soon as the last one is answered); an operation returns
    False when refused (not timed)."""
    latencies: list[float] = []
    refused = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def run(n: int) -> None:
        operation = make(n)
        start.wait(timeout=120)
        end = time.perf_counter() + seconds
        mine, bad, i = [], 0, 0
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            if operation(i):
                mine.append(time.perf_counter() - t0)
            else:
                bad += 1
            i += 1
        with lock:
            latencies.extend(mine)
            refused[0] += bad

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 300)
    return percentiles(latencies, seconds, refused[0])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    pid: int

    def peak_rss_mb(self) -> float:
        """The server's peak resident memory so far (VmHWM), in MB: its process and, with
        several workers, each worker process's summed."""
        pids = [self.pid]
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        total = 0.0
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        return total


@contextmanager
def serve(env: dict[str, str], workers: int = 1) -> Iterator[Server]:
    """``tanhui serve`` on 127.0.0.1 with ``env`` added to this environment; stopped after.
    ``workers`` > 1 runs uvicorn itself with that many worker processes (``tanhui serve``
    gives a SpatiaLite registry one: an experiment for read-only loads)."""
    port = _free_port()
    command = [TANHUI, "serve", "--port", str(port)]
    if workers > 1:
        command = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--port",
                   str(port), "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                _, err = proc.communicate(timeout=5)
                raise RuntimeError(f"server did not start: {err.decode()[-2000:]}")
            time.sleep(0.2)
        yield Server(base, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def verdict(url: str) -> str:
    """After a run: the ledger's invariants and the audit chain of the database at ``url``."""
    from registry.audit import verify_chain
    from registry.db import make_engine, session_scope
    from registry.ledger import check_invariants

    engine = make_engine(url)
    with session_scope(engine) as s:
        problems = check_invariants(s)
        chain = verify_chain(s)
    engine.dispose()
    return f"{len(problems)} violations, audit chain {'OK' if chain.ok else 'BROKEN'} ({chain.n_events} events)"


def with_user(url: str, organisation: str) -> dict[str, str]:
    """Migrate the database at ``url``, add the bench's user (an admin of ``organisation`` who
    may import), and the environment that acts as it — none of this is timed."""
    from registry.db import make_engine, migrate, session_scope
    from registry.users import bootstrap_admin
    from registry.vocabulary import Role

    engine = make_engine(url)
    migrate(engine)
    with session_scope(engine) as session:
        bootstrap_admin(session, BENCH_USER, organisation, "bench-password-123",
                        roles=frozenset({Role.ADMIN, Role.BUREAU_STAFF}))  # fmt: skip
    engine.dispose()
    return {**os.environ, "TANHUI_DATABASE_URL": url, "TANHUI_USER": BENCH_USER}
