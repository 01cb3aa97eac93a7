"""The in-process bus: publish/subscribe and RPC between the actors of one process, their
supervisor, clocks, the tag store binding and cached RPC verdicts. No sockets: a remote
transport is attached from :mod:`hmi.bus.net`.
"""
