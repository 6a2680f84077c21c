"""What the running scheduler maps before it meets a cluster: libraries only
some clusters need (the CEL library for device selectors, cryptography for a
self-signed certificate) are loaded on first use, not at import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from py_scheduler.app import tls


def _loaded_after_import(modules: list[str]) -> list[str]:
    # A fresh interpreter: this one may have loaded them for other tests.
    probe = (
        "import sys, py_scheduler.app.main; "
        f"print(','.join(m for m in {modules!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return [m for m in out.stdout.strip().split(",") if m]


def test_the_app_imports_without_the_cel_library_or_cryptography() -> None:
    assert _loaded_after_import(["cel_expr_python.cel", "cryptography"]) == []


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0"])
def test_a_self_signed_certificate_is_still_made(address: str) -> None:
    cert, key = tls.self_signed(address)
    assert cert.startswith(b"-----BEGIN CERTIFICATE-----")
    assert key.startswith(b"-----BEGIN PRIVATE KEY-----")
