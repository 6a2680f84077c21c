"""Read-only access for ``explain``: list what the scheduler watches, read one
pod, and ask a running scheduler for its diagnosis of a pod.

``list_cluster`` returns the objects as the API lists them, ``kind`` and
``apiVersion`` filled in, in pages; a kind the server does not serve (no DRA
API, say) or the caller may not list is left out with a note, never an
error. Only GETs: nothing here writes.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import orjson

from py_scheduler.cluster import ClusterError, Forbidden, NotFound, Unavailable
from py_scheduler.kube import loaders
from py_scheduler.kube.client import CredentialsError, KubeClient, Settings, load_configuration
from py_scheduler.model.dra.objects import GROUP as DRA_GROUP
from py_scheduler.model.dra.objects import VERSION as DRA_VERSION

if TYPE_CHECKING:
    from kubernetes_asyncio.client.configuration import Configuration

PAGE: Final = 500
# Pods the scheduler no longer counts, as its own watch leaves them out.
LIVE_PODS: Final = "status.phase!=Succeeded,status.phase!=Failed"


@dataclass(frozen=True, slots=True)
class Kind:
    kind: str
    api_version: str
    plural: str
    required: bool = False  # a failure to list it is an error, not a note

    @property
    def path(self) -> str:
        prefix = "/api" if "/" not in self.api_version else "/apis"
        return f"{prefix}/{self.api_version}/{self.plural}"


KINDS: Final = (
    Kind("Node", "v1", "nodes", required=True),
    Kind("Pod", "v1", "pods", required=True),
    Kind("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets"),
    Kind("Namespace", "v1", "namespaces"),
    Kind("Service", "v1", "services"),
    Kind("ReplicationController", "v1", "replicationcontrollers"),
    Kind("ReplicaSet", "apps/v1", "replicasets"),
    Kind("StatefulSet", "apps/v1", "statefulsets"),
    Kind("PersistentVolumeClaim", "v1", "persistentvolumeclaims"),
    Kind("PersistentVolume", "v1", "persistentvolumes"),
    Kind("StorageClass", "storage.k8s.io/v1", "storageclasses"),
    Kind("CSINode", "storage.k8s.io/v1", "csinodes"),
    Kind("CSIDriver", "storage.k8s.io/v1", "csidrivers"),
    Kind("CSIStorageCapacity", "storage.k8s.io/v1", "csistoragecapacities"),
    Kind("ResourceClaim", f"{DRA_GROUP}/{DRA_VERSION}", "resourceclaims"),
    Kind("ResourceClaimTemplate", f"{DRA_GROUP}/{DRA_VERSION}", "resourceclaimtemplates"),
    Kind("DeviceClass", f"{DRA_GROUP}/{DRA_VERSION}", "deviceclasses"),
    Kind("ResourceSlice", f"{DRA_GROUP}/{DRA_VERSION}", "resourceslices"),
)


async def configuration(kubeconfig: str | None, context: str | None) -> Configuration:
    """Credentials as kubectl takes them: a kubeconfig file and context, else
    $KUBECONFIG / ~/.kube/config, else in-cluster. Raises
    :class:`~py_scheduler.kube.client.CredentialsError` with a one-line reason."""
    if kubeconfig and not _is_file(kubeconfig):
        raise CredentialsError(f"cannot load credentials: {kubeconfig}: no such file")
    try:
        if context is None:
            return await load_configuration(kubeconfig)
        out: Configuration = loaders.Configuration()
        await loaders.config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=out
        )
    except (CredentialsError, loaders.ConfigException, OSError, ValueError, TypeError) as exc:
        raise CredentialsError(f"cannot load credentials: {exc}") from None
    return out


def _is_file(path: str) -> bool:
    return Path(path).is_file()


async def read_pod(kube: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    """The pod as the API holds it; NotFound when there is none."""
    pod = await kube.get(f"/api/v1/namespaces/{namespace}/pods/{name}")
    return {"apiVersion": "v1", "kind": "Pod", **pod}


async def list_cluster(kube: KubeClient) -> tuple[list[dict[str, Any]], list[str]]:
    """Every object the scheduler watches, and notes on kinds left out."""
    docs: list[dict[str, Any]] = []
    notes: list[str] = []
    for kind in KINDS:
        params = {"limit": str(PAGE)}
        if kind.kind == "Pod":
            params["fieldSelector"] = LIVE_PODS
        try:
            while True:
                page = await kube.get(kind.path, params=params)
                for item in page.get("items") or ():
                    docs.append({"apiVersion": kind.api_version, "kind": kind.kind, **item})
                token = (page.get("metadata") or {}).get("continue")
                if not token:
                    break
                params = {**params, "continue": token}
        except (NotFound, Forbidden) as exc:
            if kind.required:
                raise
            notes.append(f"{kind.plural} not listed: {exc}")
    return docs, notes


async def fetch_diagnosis(
    kube: KubeClient | None, base: str, namespace: str, name: str, *, verify: bool = True
) -> Mapping[str, Any] | None:
    """A running scheduler's last diagnosis of the pod (``/debug/pods/NS/NAME``),
    over HTTPS with the caller's bearer token, as a scrape of ``/metrics`` is
    (the secure port reviews it: TokenReview, SubjectAccessReview); None when
    it holds none (the pod is not pending there)."""
    headers = {"Accept": "application/json"}
    token = None
    if kube is not None:
        token = await kube.configuration.get_api_key_with_prefix("BearerToken")
        if token:
            headers["Authorization"] = token
    context: ssl.SSLContext | bool = ssl.create_default_context() if verify else False
    url = f"{base.rstrip('/')}/debug/pods/{namespace}/{name}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.get(url, headers=headers, ssl=context) as resp,
        ):
            body = await resp.read()
            if resp.status == 404:
                return None
            if resp.status in (401, 403):
                why = f"GET {url}: {resp.status} {body[:200].decode(errors='replace')}"
                if not token:
                    # Client certificates do not authenticate to the secure port.
                    why += " (the kubeconfig's user has no bearer token to send)"
                raise Forbidden(why)
            if resp.status != 200:
                raise ClusterError(
                    f"GET {url}: {resp.status} {body[:200].decode(errors='replace')}",
                    status=resp.status,
                )
    except aiohttp.ClientSSLError as exc:
        raise Unavailable(
            f"GET {url}: {exc} (a self-signed serving certificate: --insecure-skip-tls-verify)"
        ) from exc
    except aiohttp.ClientError as exc:
        raise Unavailable(f"GET {url}: {exc}") from exc
    except TimeoutError:
        raise Unavailable(f"GET {url}: timed out") from None
    decoded = orjson.loads(body)
    if not isinstance(decoded, dict):
        raise ClusterError(f"GET {url}: not a diagnosis: {body[:100]!r}")
    return decoded


def client(configuration: Configuration) -> KubeClient:
    """A client for a command-line user: short timeouts, its own user agent."""
    return KubeClient(configuration, Settings(timeout=30.0, user_agent="py-scheduler/explain"))
