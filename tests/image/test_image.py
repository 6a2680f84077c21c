"""The built OCI image (``make image``) run as a cluster would run it.

The image's layers are unpacked in order and it is started from its own config
(entrypoint, user, environment, working directory), with the Deployment's arguments, in
private mount and PID namespaces: the root mounted read-only, /tmp an empty tmpfs, the
chart's ConfigMap at /etc/py-scheduler and a ServiceAccount token of the chart's account
where the kubelet puts it, the downward API's values in its environment and expanded in
its arguments. The scheduler finds the API server through in-cluster configuration, as
in a pod.

We test these aspects:
- the image's config: numeric non-root user matching the chart's runAsUser, exec-form
  entrypoint, the OCI labels, and the same values as the Dockerfile's final stage;
- the entrypoint, as uid 65532 on a read-only root, takes the chart release's lease, binds
  a pod through the chart's RBAC, serves /readyz and (to the chart's metrics reader)
  /metrics on its secure port with a self-signed certificate, and exits 0 on SIGTERM as
  PID 1 of its namespace;
- nothing it does needs a writable root filesystem.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane import launcher, releases
from py_scheduler.kube.client import KubeClient
from tests.integration.kube import create_node, create_pod, eventually, read_pod, unique

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "py-scheduler"
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Own mount and PID namespaces; the entrypoint dies with unshare.
UNSHARE = ("unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private")


def _version() -> str:
    match = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert match
    return match.group(1)


def _archive() -> Path:
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return ROOT / "dist" / f"py-scheduler_{_version()}_{arch}.oci.tar"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(unpacked root filesystem, image config) of the built image."""
    archive = _archive()
    if not archive.exists():
        message = f"{archive} missing; run `make image`"
        if os.environ.get("PY_SCHEDULER_REQUIRE_CONTROLPLANE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    if os.geteuid() != 0:
        pytest.fail("the image test needs root (ownership of the unpacked files, mounts, chroot)")
    work = tmp_path_factory.mktemp("image")
    layout, rootfs = work / "layout", work / "rootfs"
    layout.mkdir()
    rootfs.mkdir()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(layout)], check=True)
    index = json.loads((layout / "index.json").read_text())
    manifest = _blob(layout, index["manifests"][0]["digest"])
    config = _blob(layout, manifest["config"]["digest"])
    # The layers in order, as a runtime applies them (the image has no whiteouts to honour).
    for layer in manifest["layers"]:
        assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        algorithm, _, value = layer["digest"].partition(":")
        blob = layout / "blobs" / algorithm / value
        listing = subprocess.run(
            ["tar", "-tzf", str(blob)], capture_output=True, text=True, check=True
        ).stdout
        assert "/.wh." not in listing
        subprocess.run(["tar", "--numeric-owner", "-xzf", str(blob), "-C", str(rootfs)], check=True)
    yield rootfs, config
    shutil.rmtree(work, ignore_errors=True)


def _blob(layout: Path, digest: str) -> dict[str, Any]:
    algorithm, _, value = digest.partition(":")
    data: dict[str, Any] = json.loads((layout / "blobs" / algorithm / value).read_text())
    return data


def test_image_config(image: tuple[Path, dict[str, Any]]) -> None:
    rootfs, config = image
    settings = config["config"]
    assert settings["User"] == "65532:65532"
    assert settings["Entrypoint"] == ["/opt/venv/bin/python", "-m", "py_scheduler"]
    assert settings["Cmd"] == ["run"]
    labels = settings["Labels"]
    assert labels["org.opencontainers.image.version"] == _version()
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"].startswith("https://github.com/")
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", labels["org.opencontainers.image.revision"])
    # The Dockerfile's final stage declares the same.
    dockerfile = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    final = dockerfile.split("\nFROM ")[-1]
    assert f"USER {settings['User']}" in final
    assert f"ENTRYPOINT {json.dumps(settings['Entrypoint'])}" in final
    assert f"CMD {json.dumps(settings['Cmd'])}" in final
    for variable in settings["Env"]:
        assert variable in final, f"Dockerfile lacks ENV {variable}"
    for label in labels:
        assert label in final, f"Dockerfile lacks LABEL {label}"
    # What the image leaves out.
    for absent in ("usr/bin/dpkg", "bin/sh", "usr/bin/apt-get", "opt/venv/bin/pip"):
        assert not (rootfs / absent).exists(), absent
    assert not list((rootfs / "opt/venv/lib/python3.11/site-packages/numpy").rglob("tests"))
    passwd = (rootfs / "etc" / "passwd").read_text()
    assert "nonroot:x:65532:65532:" in passwd
    assert "Package: python3.11\n" in (rootfs / "var/lib/dpkg/status").read_text()


async def test_image_schedules_read_only_as_its_user(
    image: tuple[Path, dict[str, Any]],
    api: KubeClient,
    control_plane: launcher.LocalControlPlane,
    tmp_path: Path,
) -> None:
    rootfs, config = image
    ns, release = unique("img"), unique("psch")
    profile, port = unique("py-scheduler-image"), launcher.free_port()
    helm = releases.default_bin_dir() / "helm"
    installed = await asyncio.to_thread(
        subprocess.run,
        [
            str(helm),
            "install",
            release,
            str(CHART),
            "--namespace",
            ns,
            "--create-namespace",
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "--set",
            f"config.profiles[0].schedulerName={profile}",
            "--set",
            f"port={port}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HELM_CACHE_HOME": str(tmp_path / "helm")},
    )
    assert installed.returncode == 0, installed.stderr

    # What the kubelet would give the pod: the Deployment's container, its ConfigMap as
    # files, a token of its ServiceAccount with the cluster's CA and the namespace.
    selector = {"labelSelector": f"app.kubernetes.io/instance={release}"}
    (deployment,) = (await api.get(f"/apis/apps/v1/namespaces/{ns}/deployments", selector))["items"]
    pod_spec = deployment["spec"]["template"]["spec"]
    (container,) = pod_spec["containers"]
    assert pod_spec["securityContext"]["runAsUser"] == 65532
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    account = pod_spec["serviceAccountName"]
    config_map = next(v["configMap"]["name"] for v in pod_spec["volumes"] if v["name"] == "config")
    data = (await api.get(f"/api/v1/namespaces/{ns}/configmaps/{config_map}"))["data"]
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    for name, text in data.items():
        (config_dir / name).write_text(text)
    token = await api.post(
        f"/api/v1/namespaces/{ns}/serviceaccounts/{account}/token",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        },
    )
    root_ca = await eventually(
        lambda: api.get(f"/api/v1/namespaces/{ns}/configmaps", {}),
        lambda maps: any(m["metadata"]["name"] == "kube-root-ca.crt" for m in maps["items"]),
        what="kube-root-ca.crt published by the controller manager",
    )
    token_dir = tmp_path / "serviceaccount"
    token_dir.mkdir()
    (token_dir / "token").write_text(token["status"]["token"])
    (token_dir / "namespace").write_text(ns)
    (token_dir / "ca.crt").write_text(
        next(m for m in root_ca["items"] if m["metadata"]["name"] == "kube-root-ca.crt")["data"][
            "ca.crt"
        ]
    )
    mounts = {
        str(config_dir): next(
            m["mountPath"] for m in container["volumeMounts"] if m["name"] == "config"
        ),
        str(token_dir): TOKEN_DIR,
    }
    pod_name = f"{release}-image-0"
    downward = {"metadata.name": pod_name, "metadata.namespace": ns, "status.podIP": "127.0.0.1"}
    assert {e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]} == set(downward)
    env = {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(control_plane.apiserver_port),
        **{e["name"]: downward[e["valueFrom"]["fieldRef"]["fieldPath"]] for e in container["env"]},
    }
    log = control_plane.logs / f"image-{release}.log"
    running = _run(rootfs, config["config"], _expand(container["args"], env), env, mounts, log)
    base = f"https://127.0.0.1:{port}"
    try:
        await eventually(
            lambda: asyncio.to_thread(_get, f"{base}/readyz"),
            lambda body: body == "ok",
            within=60,
            what=f"/readyz of the image's scheduler (log: {log})",
        )
        group, node = unique("grp"), unique("node")
        await create_node(api, node, labels={"test-group": group})
        pod_ns = unique("img-pods")
        await api.post("/api/v1/namespaces", {"metadata": {"name": pod_ns}})
        await create_pod(
            api, "web", pod_ns, scheduler_name=profile, node_selector={"test-group": group}
        )
        bound = await eventually(
            lambda: read_pod(api, "web", pod_ns),
            lambda p: "nodeName" in p["spec"],
            within=60,
            what=f"the pod bound by the image's scheduler (log: {log})",
        )
        assert bound["spec"]["nodeName"] == node
        leases = await api.get(f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases")
        assert [lease["spec"]["holderIdentity"] for lease in leases["items"]] == [pod_name]
        reader = await eventually(
            lambda: api.get(f"/api/v1/namespaces/{ns}/secrets", selector),
            lambda found: any(
                s["type"] == "kubernetes.io/service-account-token" and "token" in s.get("data", {})
                for s in found["items"]
            ),
            what="the metrics reader's token, filled in by the controller manager",
        )
        token64 = next(
            s["data"]["token"]
            for s in reader["items"]
            if s["type"] == "kubernetes.io/service-account-token"
        )
        metrics = await asyncio.to_thread(
            _get, f"{base}/metrics", base64.b64decode(token64).decode()
        )
        assert re.search(r'scheduler_schedule_attempts_total\{[^}]*result="scheduled"', metrics)
        user = _status_field(running, "Uid")
        assert user.split()[:2] == ["65532", "65532"], f"runs as {user}"
        assert _status_field(running, "NSpid").split()[-1] == "1", "python is not PID 1"
        assert _status_field(running, "CapEff") == "0000000000000000"
    finally:
        code = _stop(running)
    text = log.read_text()
    assert "Read-only file system" not in text, f"wrote to the root filesystem; see {log}"
    assert ": 403 " not in text, f"RBAC refused something; see {log}"
    assert code == 0, f"exit {code}; see {log}"


def _expand(args: list[str], env: dict[str, str]) -> list[str]:
    """``$(NAME)`` replaced by the container's variable, as the kubelet does
    (``$$`` keeps a literal ``$``; an unknown name stays as written)."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return [re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", one, arg) for arg in args]


def _get(url: str, token: str = "") -> str:
    """The body, or "" while the server does not answer yet. The self-signed
    certificate is not verified, as the chart's monitors do by default."""
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=2, context=insecure) as resp:
            body: str = resp.read().decode()
            return body
    except OSError:
        return ""


def _run(
    rootfs: Path,
    settings: dict[str, Any],
    args: list[str],
    env: dict[str, str],
    mounts: dict[str, str],
    log: Path,
) -> subprocess.Popen[bytes]:
    """Start the image's entrypoint as a container runtime would, without one.

    In new mount and PID namespaces: the root bind-mounted read-only, /proc, /dev, a
    tmpfs /tmp, read-only binds for ``mounts``; then chroot to the image's user and
    working directory with only the image's environment plus ``env``."""
    for target in mounts.values():
        # Mount points are made before the root turns read-only, as runc does.
        (rootfs / target.lstrip("/")).mkdir(parents=True, exist_ok=True)
    user = settings["User"]
    environment = [*settings["Env"], *(f"{k}={v}" for k, v in env.items())]
    argv = [*settings["Entrypoint"], *args]
    root = shlex.quote(str(rootfs))
    lines = [
        "set -eu",
        f"mount --bind {root} {root}",
        f"mount -t proc proc {root}/proc",
        f"mount --rbind /dev {root}/dev",
        f"mount -t tmpfs -o mode=1777,size=64m tmpfs {root}/tmp",
    ]
    for source, target in mounts.items():
        where = shlex.quote(f"{rootfs}{target}")
        lines.append(f"mount --bind {shlex.quote(source)} {where}")
        lines.append(f"mount -o remount,bind,ro {where}")
    lines += [
        f"mount -o remount,bind,ro {root}",
        "exec env -i "
        + " ".join(shlex.quote(e) for e in environment)
        + f" setpriv --no-new-privs chroot --userspec={user} --groups= {root} "
        + " ".join(shlex.quote(a) for a in argv),
    ]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*UNSHARE, "sh", "-c", "\n".join(lines)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=settings.get("WorkingDir") or "/",
        )


def _entrypoint_pid(running: subprocess.Popen[bytes]) -> int:
    """The entrypoint's PID as the host sees it: unshare's forked child."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{running.pid}/task/{running.pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise AssertionError("unshare started no child")


def _status_field(running: subprocess.Popen[bytes], field: str) -> str:
    status = Path(f"/proc/{_entrypoint_pid(running)}/status").read_text()
    match = re.search(rf"^{field}:\s*(.*)$", status, re.M)
    assert match, field
    return match.group(1).strip()


def _stop(running: subprocess.Popen[bytes]) -> int:
    if running.poll() is None:
        # SIGTERM to PID 1 of the namespace: delivered because the scheduler handles it.
        os.kill(_entrypoint_pid(running), signal.SIGTERM)
    try:
        return running.wait(timeout=30)
    except subprocess.TimeoutExpired:
        running.kill()
        running.wait()
        pytest.fail("the image's scheduler did not stop within 30 s of SIGTERM")


def test_run_refuses_a_write_to_the_root(
    image: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The harness really mounts the root read-only and really drops to the user."""
    rootfs, config = image
    settings = {**config["config"], "Entrypoint": ["/opt/venv/bin/python", "-c"]}
    log = tmp_path / "probe.log"
    probe = (
        "import os\n"
        "print('uid', os.getuid(), os.getgid())\n"
        "open('/tmp/ok', 'w').write('x')\n"
        "try:\n"
        "    open('/opt/venv/x', 'w')\n"
        "except OSError as e:\n"
        "    print('refused', e.errno)\n"
    )
    running = _run(rootfs, settings, [probe], {}, {}, log)
    assert running.wait(timeout=30) == 0, log.read_text()
    out = log.read_text()
    assert "uid 65532 65532" in out
    assert "refused 30" in out  # EROFS
