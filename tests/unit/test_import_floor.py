"""What the running scheduler maps before it meets a cluster: libraries only
some clusters need (the CEL library for device selectors, cryptography for a
self-signed certificate) are loaded on first use, not at import, and of
kubernetes_asyncio only the credential loaders are."""

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


def test_of_kubernetes_asyncio_only_the_credential_loaders_are_imported() -> None:
    heavy = ["kubernetes_asyncio.client.api_client", "kubernetes_asyncio.client.models"]
    assert _loaded_after_import([*heavy, "kubernetes_asyncio.config.kube_config"]) == [
        "kubernetes_asyncio.config.kube_config"
    ]


def _run(probe: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return out.stdout.split()


@pytest.mark.parametrize(
    ("probe", "printed"),
    [
        # Asked of the package: its __init__ runs then.
        (
            "import asyncio, kubernetes_asyncio as k\n"
            "from kubernetes_asyncio import client\n"
            "async def main():\n"
            "    api = client.ApiClient(configuration=client.Configuration())\n"
            "    print(client.CoreV1Api.__name__, k.watch.__name__, k.__version__,\n"
            "          type(api) is client.ApiClient)\n"
            "    await api.close()\n"
            "asyncio.run(main())",
            ["CoreV1Api", "kubernetes_asyncio.watch", "36.1.0", "True"],
        ),
        # A generated module imported directly: loaded once, in __init__'s order.
        (
            "import sys, kubernetes_asyncio.client.api_client as a\n"
            "from kubernetes_asyncio import client\n"
            "from kubernetes_asyncio.client.models import V1Pod\n"
            "print(a.ApiClient is client.ApiClient, client.V1Pod is V1Pod,\n"
            "      sys.modules['kubernetes_asyncio.client.api_client'] is a)",
            ["True", "True", "True"],
        ),
        # The stand-in ApiClient the kubeconfig loader holds makes the real one.
        (
            "import asyncio\n"
            "from kubernetes_asyncio.config import kube_config\n"
            "from kubernetes_asyncio import client\n"
            "async def main():\n"
            "    api = kube_config.ApiClient(configuration=client.Configuration())\n"
            "    print(type(api) is client.ApiClient)\n"
            "    await api.close()\n"
            "asyncio.run(main())",
            ["True"],
        ),
    ],
)
def test_the_rest_of_kubernetes_asyncio_loads_when_asked_for(
    probe: str, printed: list[str]
) -> None:
    assert _run("import py_scheduler.kube.client\n" + probe) == printed


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0"])
def test_a_self_signed_certificate_is_still_made(address: str) -> None:
    cert, key = tls.self_signed(address)
    assert cert.startswith(b"-----BEGIN CERTIFICATE-----")
    assert key.startswith(b"-----BEGIN PRIVATE KEY-----")


def test_the_serving_certificate_is_made_without_mapping_cryptography() -> None:
    probe = (
        "import ssl, sys\n"
        "from py_scheduler.app import tls\n"
        "context = tls.server_context(None, None, '127.0.0.1')\n"
        "print(isinstance(context, ssl.SSLContext), 'cryptography' in sys.modules)"
    )
    assert _run(probe) == ["True", "False"]


def test_the_child_hands_over_a_certificate_and_its_key() -> None:
    cert, key = tls.self_signed_by_child("127.0.0.1")
    assert cert.startswith(b"-----BEGIN CERTIFICATE-----")
    assert cert.rstrip().endswith(b"-----END CERTIFICATE-----")
    assert key.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert key.rstrip().endswith(b"-----END PRIVATE KEY-----")


def test_a_child_that_fails_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(tls.TlsError, match=r"cannot make a self-signed certificate \(exit 1\)"):
        tls.server_context(None, None, "127.0.0.1")
