"""Why is a pod pending, and what would fix it.

``explain`` runs the scheduler's own cycle for one pod with an evaluator that
judges every node and records every plugin (:mod:`.offline`), turns what the
cycle left into an ``Explanation`` (:mod:`.diagnose`, :mod:`.report`), and
looks for the smallest changes that would let the pod be scheduled, each
verified by scheduling again on a changed copy of the snapshot
(:mod:`.suggest`). The running scheduler keeps each pending pod's last
diagnosis (:mod:`.store`) and, when asked, writes kube-scheduler-simulator's
result annotations (:mod:`.annotations`); :mod:`.capacity` counts how many
more pods of a shape fit. :mod:`.cli` is the command line and the kubectl
plugin.
"""
