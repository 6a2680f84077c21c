"""PodTopologySpread (upstream's ``podtopologyspread`` package): ``plugin`` runs
the extension points over ``filtering`` and ``scoring`` state; ``common``
compiles a pod's constraints; ``args`` holds the arguments and their defaults."""

from py_scheduler.plugins.podtopologyspread.common import NAME
from py_scheduler.plugins.podtopologyspread.plugin import SPEC

__all__ = ["NAME", "SPEC"]
