"""Named crash points, for the crash-safety tests (tests/test_crash_safety.py).

`CVW_FAILPOINT=<name>` makes the process kill itself with SIGKILL when it reaches `<name>`: no cleanup, no
`finally`, no flush, as when the OOM killer or a power cut stops a run. Unset (always, outside those tests),
`hit()` is one dictionary lookup. The names are listed in POINTS so a test cannot name a point that does
not exist.
"""

from __future__ import annotations

import logging
import os
import signal

POINTS = (
    "ingest.before_commit",  # every new file's rows, drift and manifest rows written, not yet committed
    "ingest.between_groups",  # one group of files written (uncommitted), the next not started
    "clv.after_fit",  # model fitted, scores not written
    "wallet.after_fit",  # wallet model fitted, its fit and scores not written
    "gate.between_tables",  # the gate has validated some tables
    "publish.after_history_files",  # D's history Parquet file written, no published file references it
    "publish.copying_tables",  # the new published file is copied, its history and log not yet added
    "publish.before_swap",  # the new published file is complete, not yet swapped in
    "publish.after_swap",  # swapped in; leftovers not yet cleaned
)


def hit(name: str) -> None:
    """SIGKILL this process if CVW_FAILPOINT names this point."""
    if name not in POINTS:
        raise ValueError(f"unknown failpoint {name!r}; known: {', '.join(POINTS)}")
    if os.environ.get("CVW_FAILPOINT") == name:
        logging.getLogger(__name__).warning("failpoint %s: killing this process (SIGKILL)", name)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
