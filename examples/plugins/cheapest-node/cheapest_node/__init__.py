"""CheapestNode: prefer the nodes with the lowest price per hour.

An out-of-tree py-scheduler plugin: the entry point ``CheapestNode`` in the
group ``py_scheduler.plugins`` names ``SPEC``.
"""

from cheapest_node.args import CheapestNodeArgs, decode_args
from cheapest_node.plugin import NAME, SPEC, CheapestNode, read_price

__all__ = ["NAME", "SPEC", "CheapestNode", "CheapestNodeArgs", "decode_args", "read_price"]
