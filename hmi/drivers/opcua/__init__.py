"""OPC UA client driver (asyncua): a protocol plug-in, the only importer of asyncua.

Project side: :mod:`.settings` (device fields, node ids); driver side: :mod:`.line`
(session, subscription, reconnect, writes), :mod:`.quality` (StatusCode to quality),
:mod:`.values` (tag types and variants), :mod:`.security` (certificates, user);
``hmi opcua browse``: :mod:`.browse`. Nothing here imports asyncua at import time except
the driver-side modules, which :mod:`.plugin` loads only when a device runs.
"""
