"""Eclipse Tahu's Sparkplug B payload definition, vendored.

``sparkplug_b.proto`` is Tahu's file as published (eclipse/tahu, commit 5736e40,
``sparkplug_b/sparkplug_b.proto``, EPL-2.0); ``sparkplug_b_pb2.py`` and its ``.pyi`` were
generated from it by protoc 7.35.1 (``python -m grpc_tools.protoc --python_out
--pyi_out``) and are not edited. They need the protobuf runtime 7.35.1 or newer below 8
(pinned in pyproject.toml). Vendored because the Python packages built on Tahu
(pysparkplug, mqtt-spb-wrapper) pin paho-mqtt below 2.
"""
