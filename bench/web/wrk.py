"""The same rows measured with wrk (C, one process, epoll) instead of Python client threads: on
a 2-core machine 50 httpx threads spend a core of their own, so their latencies include their
own queueing under the GIL. wrk's ``--latency`` percentiles are read off its report.

Debian's ``wrk`` (installed by ``make bench``); a Lua script cycles through the row's URLs
(with a Range header where the row has one)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.common import Result

__all__ = ["WRK", "measure_wrk"]

WRK = shutil.which("wrk")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _lua(urls: list[str]) -> str:
    lines = []
    for url in urls:
        path, _, rng = url.partition("|")
        header = f'{{["Range"] = "{rng}"}}' if rng else "{}"
        lines.append(f'  {{"{path}", {header}}},')
    return (
        "local targets = {\n" + "\n".join(lines) + "\n}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  local t = targets[(i % #targets) + 1]\n"
        '  return wrk.format("GET", t[1], t[2])\n'
        "end\n"
    )


def _ms(value: str) -> float:
    found = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", value.strip())
    if not found:
        raise ValueError(f"wrk latency {value!r}")
    return float(found[1]) * _UNITS[found[2]]


def measure_wrk(base: str, urls: list[str], clients: int, seconds: float) -> Result:
    """One wrk run: ``clients`` connections on one thread (the server has the other core)."""
    assert WRK is not None
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "targets.lua"
        script.write_text(_lua(urls[:2000]))
        done = subprocess.run(
            [WRK, "-t1", f"-c{clients}", f"-d{seconds:.0f}s", "--latency", "-s", str(script),
             base + urls[0].partition("|")[0]],
            capture_output=True, text=True, check=True, timeout=seconds + 120,
        )  # fmt: skip
    out = done.stdout
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    rate = re.search(r"^Requests/sec:\s+([0-9.]+)", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if not (p50 and p99 and rate):
        raise RuntimeError(f"wrk said:\n{out}\n{done.stderr}")
    return Result(float(rate[1]), _ms(p50[1]), _ms(p99[1]), int(bad[1]) if bad else 0)
