"""Sub-commands of ``hmi``: one module each, discovered at start-up.

A module here defines ``register(commands)``, which adds its parser to the
``argparse`` sub-parsers and sets ``handler=callable(args) -> int``. Modules import their
heavy dependencies (Qt, zmq, pymodbus) inside the handler so ``hmi --help`` stays fast.
"""
