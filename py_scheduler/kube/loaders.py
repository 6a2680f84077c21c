"""kubernetes_asyncio's credential loaders, without the rest of the package.

The package's ``__init__`` imports its client first, and the client's
``__init__`` imports about 850 generated API and model modules: 39 MiB of a
100 MiB scheduler before it has cached a single node. py-scheduler talks
JSON through its own client (:mod:`.client`) and needs only the kubeconfig
and in-cluster loaders and their ``Configuration``.

So the package and its ``client`` subpackage are registered as modules whose
``__init__`` has not run yet; importing the loaders then runs only their own
modules and ``client.configuration``. Anything else asked of either package
(``client.CoreV1Api``, ``kubernetes_asyncio.watch``, an import of a
generated module) runs its real ``__init__`` on the spot, so other code
importing kubernetes_asyncio in the same process sees the whole package as
usual (``tests/unit/test_import_floor.py``). The kubeconfig loader names
``ApiClient`` only for helpers py-scheduler never calls; it gets a stand-in
that loads the real class when called.

If kubernetes_asyncio was imported before this module, nothing is changed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any, Final

PACKAGE = "kubernetes_asyncio"
CLIENT = f"{PACKAGE}.client"


_MATERIALIZE: dict[str, Callable[[], None]] = {}
# What the loaders import of the client: everything else needs its __init__ first.
_LIGHT: Final = frozenset({f"{CLIENT}.configuration", f"{CLIENT}.exceptions"})


def _deferred(spec: ModuleSpec) -> ModuleType:
    """The module of ``spec``, registered, its ``__init__`` run on first need."""
    module = importlib.util.module_from_spec(spec)

    def materialize() -> None:
        if module.__dict__.pop("__getattr__", None) is None:
            return  # done already
        assert spec.loader is not None
        spec.loader.exec_module(module)

    def getattr_(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        materialize()
        return getattr(module, name)

    module.__dict__["__getattr__"] = getattr_
    _MATERIALIZE[spec.name] = materialize
    sys.modules[spec.name] = module
    return module


class _Existing(Loader):
    """Hands back a module its package's ``__init__`` has just imported."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        pass


class _InitFirst(MetaPathFinder):
    """A submodule of the client other than the loaders' runs the client's
    ``__init__`` first, as it would have without the deferral: the generated
    modules import each other in the order that ``__init__`` sets."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if not name.startswith(f"{CLIENT}.") or name in _LIGHT:
            return None
        materialize = _MATERIALIZE.get(CLIENT)
        if materialize is None:
            return None
        del _MATERIALIZE[CLIENT]
        sys.meta_path.remove(self)
        materialize()
        if name not in sys.modules:
            return None
        # Out of sys.modules until the import system puts it back: found
        # there, it would be loaded again from its own spec.
        module = sys.modules.pop(name)
        found: ModuleSpec | None = module.__spec__
        origin: str | None = None if found is None else found.origin
        return ModuleSpec(name, _Existing(module), origin=origin)


def _api_client(*args: Any, **kwargs: Any) -> Any:
    client = sys.modules[CLIENT]
    if client.__dict__.get("ApiClient") is _api_client:
        _MATERIALIZE.pop(CLIENT, lambda: None)()
    return client.ApiClient(*args, **kwargs)


def _install() -> None:
    if PACKAGE in sys.modules:
        return
    root = importlib.util.find_spec(PACKAGE)
    if root is None or not root.submodule_search_locations:
        raise ImportError(f"{PACKAGE} is not installed")
    package = _deferred(root)
    client_dir = Path(next(iter(root.submodule_search_locations))) / "client"
    client_spec = importlib.util.spec_from_file_location(
        CLIENT, client_dir / "__init__.py", submodule_search_locations=[str(client_dir)]
    )
    if client_spec is None:
        raise ImportError(f"{CLIENT} is not installed")
    client = _deferred(client_spec)
    package.__dict__["client"] = client
    configuration = importlib.import_module(f"{CLIENT}.configuration")
    client.__dict__["Configuration"] = configuration.Configuration
    client.__dict__["ApiClient"] = _api_client
    sys.meta_path.insert(0, _InitFirst())


_install()

# By module name: a ``from kubernetes_asyncio import config`` would ask the
# package for the attribute first, which runs its ``__init__``.
config = importlib.import_module(f"{PACKAGE}.config")
Configuration = importlib.import_module(f"{CLIENT}.configuration").Configuration
ConfigException = importlib.import_module(f"{PACKAGE}.config.config_exception").ConfigException
