"""HMI widgets, one per module; each binds to tags through hmi.qt, never the bus."""
