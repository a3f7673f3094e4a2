"""Recalculate a workbook with LibreOffice headless (the Debian package libreoffice-calc-nogui,
installed by ``make setup-test``), the way a verifier's spreadsheet application would.

LibreOffice's default for .xlsx files is "never recalculate on load" (it shows the cached values;
openpyxl writes none). A throw-away user profile sets ``OOXMLRecalcMode`` to 0 ("always
recalculate"), so every formula is computed by LibreOffice when it loads the file; converting
the file to .xlsx writes the computed values, which openpyxl then reads (``data_only=True``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

__all__ = ["recalculate"]

PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def recalculate(path: Path, out_dir: Path, timeout_s: float = 300) -> Path:
    """``path`` (.xlsx) opened, recalculated and saved by LibreOffice into ``out_dir``."""
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is not installed: run the tests with `make test`"
    profile = out_dir / "lo-profile"
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(PROFILE, encoding="utf-8")
    target = out_dir / "recalculated"
    target.mkdir(exist_ok=True)
    done = subprocess.run(
        [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
         "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(target), str(path)],
        capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    result = target / path.name
    assert done.returncode == 0 and result.exists(), (done.stdout, done.stderr)
    return result
