"""A real local Kubernetes control plane for tests, the demo and benchmarks.

Development tooling only: nothing in the scheduler's runtime imports this
package. See :mod:`py_scheduler.devcluster.controlplane`.
"""
