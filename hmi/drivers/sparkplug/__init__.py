"""MQTT Sparkplug B, both ways: the plant's tags published as an edge node
(:mod:`~hmi.drivers.sparkplug.edge_actor`), and edge nodes of others ingested as tags
(:mod:`~hmi.drivers.sparkplug.ingest`). paho-mqtt and protobuf are imported only here.
"""
