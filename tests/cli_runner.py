"""Run the ``tanhui`` command line in-process (Typer's runner), as a user would type it.

A command that lets an exception escape is a bug: the runner re-raises it, so the test fails
with the traceback instead of passing over it. One smoke test (``test_cli.py``) runs the real
``tanhui`` executable in its own process, for the entry point and its last-resort handler.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from contextlib import chdir
from pathlib import Path

from typer.testing import CliRunner

from registry.cli import app

__all__ = ["run_cli"]


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``tanhui *args`` with ``env`` added to the environment, in ``cwd``, ``input`` on stdin;
    the result looks like a finished process (returncode, stdout, stderr)."""
    with chdir(cwd or Path.cwd()):
        result = CliRunner().invoke(
            app, list(args), env={"COLUMNS": "200", **(env or {})}, input=input
        )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(
        ["tanhui", *args], result.exit_code, result.stdout, result.stderr
    )
