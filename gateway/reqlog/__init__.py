"""Request logs: one row per API request, written to SQLite by one thread, read by the admin API."""
