"""The plugin kit: test a plugin with the scheduler's own code, offline.

Public, as ``py_scheduler.framework`` is: a plugin's tests import these
two and nothing else from py_scheduler.

- ``node``, ``pod`` (decoded objects from keywords), ``node_object``,
  ``pod_object`` (the API dicts), ``objects`` (nodes, pods and other objects
  from YAML or dicts);
- ``PluginKit``: the default profile plus the plugin under test over those
  objects; ``decide`` gives a ``Decision`` (each node's Filter status, the
  plugin's scores, the totals, the chosen node, Permit's answer), and
  ``permit`` holds a pod at Permit as the scheduler would (``advance``
  moves the clock of its timeouts), and ``simulate`` runs pods one after the
  other as ``py-scheduler simulate``.
"""

from py_scheduler.config import ConfigError
from py_scheduler.simulation.run import Result
from py_scheduler.testing.kit import Decision, Held, PluginKit
from py_scheduler.testing.objects import (
    ObjectError,
    Objects,
    node,
    node_object,
    objects,
    pod,
    pod_object,
)

__all__ = [
    "ConfigError",
    "Decision",
    "Held",
    "ObjectError",
    "Objects",
    "PluginKit",
    "Result",
    "node",
    "node_object",
    "objects",
    "pod",
    "pod_object",
]
