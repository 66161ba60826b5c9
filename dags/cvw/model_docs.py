"""`cvw docs`: dbt's model docs as one static file next to the run reports, made to open offline."""

from __future__ import annotations

import logging
import os
import time
from datetime import date
from pathlib import Path

from cvw.settings import Settings

log = logging.getLogger(__name__)


def docs_path(settings: Settings) -> Path:
    """Where `cvw docs` writes dbt's static docs site (one file)."""
    return settings.reports_dir / "docs" / "index.html"


# dbt-docs' static page, opened from disk, asks Chromium for two URLs that are never there: its menu icons'
# `<use xlink:href="{{ getIcon(...) }}">` before AngularJS fills them in (ng-attr- sets it only once filled),
# and an unrendered webpack placeholder as the favicon. Rewritten after each render.
DOCS_REWRITES = (
    ('<use xlink:href="{{ getIcon(', '<use ng-attr-xlink:href="{{ getIcon('),
    ("<link rel=\"shortcut icon\" href=\"${require('./assets/favicons/favicon.ico')}\"/>", ""),
)


def offline_docs(page: str) -> str:
    """dbt's static docs page with the rewrites above, so it opens with no failed request."""
    for old, new in DOCS_REWRITES:
        page = page.replace(old, new)
    return page


def write_docs(settings: Settings, as_of: date) -> dict:
    """dbt's docs site as one static file (`dbt docs generate --static`), copied to reports/docs/index.html;
    the models compile for `as_of` (the current published date, in `cvw docs`), the catalog is read from the
    current build. Returns {path, seconds}."""
    from cvw.dbt import run_dbt

    started = time.monotonic()
    result = run_dbt(settings, ["docs", "generate", "--static"], as_of=as_of)
    built = settings.home / "dbt" / "target" / "static_index.html"
    path = docs_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(offline_docs(built.read_text(encoding="utf-8")), encoding="utf-8")
    os.replace(tmp, path)
    seconds = round(time.monotonic() - started, 3)
    log.info("model docs: %s (dbt %.1f s)", path, result.seconds)
    return {"path": str(path), "seconds": seconds}
