"""Customer value warehouse: ingest, dbt build, quality gate and publish, without Airflow."""

import sys as _sys

__version__ = "0.1.0"

# pyspark.sql.connect (which Great Expectations imports) takes a `__main__` without __file__ and __spec__ for
# a doctest run and exits the process when grpc is missing: that is every `python -c`, embedded interpreter
# and pytest-xdist worker. Give such a `__main__` a file so importing GX never ends the process: an empty
# module, because multiprocessing's spawn runs `__main__.__file__` in its children.
_main = _sys.modules.get("__main__")
if _main is not None and getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    from pathlib import Path as _Path

    _main.__file__ = str(_Path(__file__).with_name("_main_stand_in.py"))
