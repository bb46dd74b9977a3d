"""The state layer: workspace paths, the project, TaskCards, the task store, lifecycle, queues, audit.

Everything under ``state/``, ``tasks/`` and ``ops/audit`` is read and written here, and nowhere
else. Nothing in this package imports the governance, workflow, review or model layers
(``tests/test_layers.py`` checks): who may make a change is passed in by the governance layer.
"""
