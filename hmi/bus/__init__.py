"""The bus: actors, topics, codec, transports (in-memory, ZeroMQ), broker, RPC. No Qt."""
