"""Dynamic resource allocation (``resource.k8s.io/v1``), the pure half.

- :mod:`~py_scheduler.model.dra.objects`: ResourceClaims, DeviceClasses,
  ResourceSlices and ResourceClaimTemplates decoded from raw JSON;
- :mod:`~py_scheduler.model.dra.cel`: the Kubernetes CEL environment for
  device selectors, compiled once per expression;
- :mod:`~py_scheduler.model.dra.pools`: the resource pools a node can use;
- :mod:`~py_scheduler.model.dra.allocator`: the structured-parameters
  allocator (upstream ``dynamic-resource-allocation/structured``);
- :mod:`~py_scheduler.model.dra.allocated`: which devices claims hold.

The ``DynamicResources`` plugin (``plugins/dynamicresources``) drives them
through the scheduling cycle.
"""
