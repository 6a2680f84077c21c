"""py-scheduler as it is shipped: its own environment with the runtime lock only.

The development environment also holds the test tools, the example plugins
(discovered at start-up like any installed plugin) and packages that change
what the runtime imports (structlog's tracebacks load rich when it is
installed: 3 MiB); the image has none of them, and its bytecode is compiled
(the Dockerfile's ``compileall``). So the benchmark runs py-scheduler with an
interpreter from a virtual environment built from ``requirements.lock`` alone,
kept under ``~/.cache/py-scheduler`` and rebuilt only when the lock changes,
the package itself on ``PYTHONPATH`` from this checkout, its bytecode
compiled before the first run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
LOCK: Final = ROOT / "requirements.lock"


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "py-scheduler"


@cache
def python() -> Path:
    """The runtime environment's interpreter, built on first use (once a session)."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:12]
    venv = _cache() / f"bench-runtime-py{sys.version_info[0]}{sys.version_info[1]}-{digest}"
    interpreter = venv / "bin" / "python"
    done = venv / ".installed"
    if not done.exists():
        print(f"building the runtime environment {venv} from {LOCK.name}", flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(interpreter), "-m", "pip", "install", "--quiet", "--require-hashes"]
        subprocess.run([*pip, "-r", str(LOCK)], check=True)
        done.touch()
    # Compiled where the source is (__pycache__ is ignored by git); only what changed.
    subprocess.run(
        [str(interpreter), "-m", "compileall", "-q", str(ROOT / "py_scheduler")], check=True
    )
    return interpreter


def environment(base: dict[str, str]) -> dict[str, str]:
    """``base`` with this checkout's package first on the path."""
    path = base.get("PYTHONPATH")
    return {**base, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}
