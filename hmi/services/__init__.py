"""Backend actors: alarm engine, historian, security and audit. No Qt."""
