"""Placeholder: the shared Spark session fixture lands here (tests/engines/spark_session.py)."""
