"""A tiny faust app for the bus smoke test: raw bytes in, the shared codec decodes."""
