"""The plugin framework: extension points, statuses, cycle state, the
runtime that runs a profile's plugins, and the plugin registry types.

Layering: ``framework`` depends only on ``model`` and the ``cluster``
protocol; plugins depend on ``framework`` and ``model`` and nothing else.
"""
