"""Device drivers as actors (Modbus TCP/RTU); pymodbus is imported only here."""
