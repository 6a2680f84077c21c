"""The only layer that talks to the API server: the lean JSON client, watches
that feed the cache and queue, the ``Cluster`` implementation (bind, evict,
status, events), leader election, the pending-pod sweep and the watches of the
objects plugins consult."""
