"""Gang scheduling: a pod group's pods are bound all together or not at all.

``GangScheduling`` (:mod:`.plugin`) holds, checks, releases and admits the
members of a group; ``GangSort`` (:mod:`.sort`) keeps each group's pods
together in the active queue. Both are in the default profile. Groups come
from scheduler-plugins' PodGroup CRD or upstream's Workload API
(:mod:`.groups`); docs/gang-scheduling.md describes the behaviour.
"""

from py_scheduler.plugins.gangscheduling.plugin import NAME, SPEC, GangScheduling
from py_scheduler.plugins.gangscheduling.sort import NAME as SORT_NAME
from py_scheduler.plugins.gangscheduling.sort import SPEC as SORT_SPEC
from py_scheduler.plugins.gangscheduling.sort import GangSort

__all__ = ["NAME", "SORT_NAME", "SORT_SPEC", "SPEC", "GangScheduling", "GangSort"]
