"""InterPodAffinity (upstream's ``interpodaffinity`` package): ``plugin`` runs
the extension points over ``filtering`` and ``scoring`` state; ``terms``
parses and matches affinity terms; ``args`` holds the arguments."""

from py_scheduler.plugins.interpodaffinity.plugin import NAME, SPEC

__all__ = ["NAME", "SPEC"]
