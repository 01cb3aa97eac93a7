"""Device drivers as actors; each protocol is a plug-in (:mod:`hmi.drivers.protocol`):
Modbus TCP/RTU (the only pymodbus user), OPC UA (:mod:`hmi.drivers.opcua`, the only asyncua
user), Sparkplug B (:mod:`hmi.drivers.sparkplug`)."""
