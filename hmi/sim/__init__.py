"""The simulated plant: a pure process model, a Modbus server actor, fault injection."""
