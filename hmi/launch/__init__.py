"""The launcher: starts the processes of a launch file, watches and restarts them
(``hmi launch``; docs/deployment.md).
"""
