"""A node's connection to a broker: the ZeroMQ transport (session, link, resync, RPC,
publisher, receiver), CURVE keys and discovery. :func:`hmi.bus.net.connect.connect`
(``hmi.bus.connect``) makes a joined bus.
"""
