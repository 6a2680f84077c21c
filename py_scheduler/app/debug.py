"""``/debug/pods/NAMESPACE/NAME``: a pending pod's last diagnosis, as JSON.

The schema is ``explain``'s (docs/explain.md); ``py-scheduler explain
--scheduler-url`` reads it. The routes join the server's application, so
they sit behind whatever guards ``/metrics`` there. A pod the scheduler no
longer holds as pending (bound, deleted, or of another scheduler) is 404.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from aiohttp import web

from py_scheduler.explain.store import DiagnosisStore

# Whether a pod with this UID is still pending in the scheduler.
IsPending = Callable[[str], bool]


def routes(store: DiagnosisStore, pending: IsPending) -> list[web.RouteDef]:
    async def pod(request: web.Request) -> web.Response:
        key = f"{request.match_info['namespace']}/{request.match_info['name']}"
        found = store.get(key)
        if found is not None and not pending(found[0]):
            store.drop(key)
            found = None
        if found is None:
            body = {"error": f"no diagnosis of pod {key}: it is not pending in this scheduler"}
            return web.Response(
                status=404, body=orjson.dumps(body), content_type="application/json"
            )
        return web.Response(body=found[1], content_type="application/json")

    return [web.get("/debug/pods/{namespace}/{name}", pod)]
