"""NodeResourcesFit and NodeResourcesBalancedAllocation (upstream's
``noderesources`` package).

- ``fit``: the filter (does the pod fit the node's free resources), the
  arguments and the plugin, which scores with one of the strategies below.
- ``least_allocated``, ``most_allocated``, ``requested_to_capacity_ratio``:
  one module per scoring strategy, each with its per-node form and its array
  form over node columns side by side.
- ``balanced_allocation``: the NodeResourcesBalancedAllocation plugin, both forms.
- ``resource_allocation``: what the scorers share (the configured resources,
  the pod's requests per resource, a node's allocatable and requested amounts,
  per node and as arrays, and the weighted average).

Array forms compute, for many nodes at once, exactly what the per-node form
computes for one: the same integer divisions (all operands are non-negative,
so floor is Go's truncation) and the same float operations in the same order.
"""
