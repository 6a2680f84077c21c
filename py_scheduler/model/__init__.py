"""The scheduler's own compact types for pods and nodes, decoded from raw JSON.

Pure data and decoding; imports nothing else from the scheduler. Import the
modules (``from py_scheduler.model import pod``) or the names re-exported here.
"""

from py_scheduler.model.node import (
    HOSTNAME_LABEL,
    ZONE_LABEL,
    Node,
    NodeInfo,
    NodeName,
    decode_node,
)
from py_scheduler.model.pod import PodInfo, PodKey, PodUID, decode_pod
from py_scheduler.model.raw import DecodeError
from py_scheduler.model.resources import Resources

__all__ = [
    "HOSTNAME_LABEL",
    "ZONE_LABEL",
    "DecodeError",
    "Node",
    "NodeInfo",
    "NodeName",
    "PodInfo",
    "PodKey",
    "PodUID",
    "Resources",
    "decode_node",
    "decode_pod",
]
