"""Placeholder: the PostgreSQL test-server fixture lands here (tests/engines/pg_server.py)."""
