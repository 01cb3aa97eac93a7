"""The wire protocol, pure: frames and headers, control messages, commands and results,
sample batches, topic patterns and broker addresses. No sockets, no event loop; every
other part of the bus speaks through these (docs/bus-protocol.md).
"""
