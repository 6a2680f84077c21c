"""DefaultPreemption (upstream's ``defaultpreemption`` package and the
preemption evaluator): ``default_preemption`` is the PostFilter plugin,
``candidates`` picks among the nodes where evicting victims makes room."""

from py_scheduler.plugins.defaultpreemption.default_preemption import NAME, SPEC

__all__ = ["NAME", "SPEC"]
