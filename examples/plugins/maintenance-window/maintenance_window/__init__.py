"""MaintenanceWindow: hold a namespace's pods at Permit while its
MaintenanceWindow custom resources say the window is closed.

An out-of-tree py-scheduler plugin: the entry point ``MaintenanceWindow`` in
the group ``py_scheduler.plugins`` names ``SPEC``. The CRD is in
``deploy/crd.yaml``.
"""

from maintenance_window.args import MaintenanceWindowArgs, decode_args
from maintenance_window.plugin import (
    NAME,
    SPEC,
    WINDOWS,
    MaintenanceWindow,
    Window,
    decode_window,
)

__all__ = [
    "NAME",
    "SPEC",
    "WINDOWS",
    "MaintenanceWindow",
    "MaintenanceWindowArgs",
    "Window",
    "decode_args",
    "decode_window",
]
