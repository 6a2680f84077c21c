"""DynamicResources: dynamic resource allocation (``resource.k8s.io/v1``).

- :mod:`.plugin`: the extension points, PreFilter to PreBind;
- :mod:`.tracker`: allocations in flight and claims written ahead of the watch;
- :mod:`.writes`: the claim writes upstream makes from synchronous points;
- :mod:`.args`: ``filterTimeout`` and ``bindingTimeout``.

The allocation itself is pure and lives in :mod:`py_scheduler.model.dra`.
"""

from py_scheduler.plugins.dynamicresources.plugin import NAME, SPEC, DynamicResources

__all__ = ["NAME", "SPEC", "DynamicResources"]
