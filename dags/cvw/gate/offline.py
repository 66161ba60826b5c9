"""Data Docs that open offline. GX renders its pages with Bootstrap, jQuery, Popper, bootstrap-table,
bootstrap-datepicker, Font Awesome and Vega loaded from public CDNs, and a logo from a cloud bucket whose URL
carries the data context id: without internet (an air-gapped install, this machine) the index shows no
validation result at all, and every view tells a third party who opened it.

`make install` vendors exactly those files from their npm packages (`scripts/vendor_web_assets.py`, pinned
in ASSETS) into `<venv>/share/cvw-web`; after each render the gate copies them into the site
(`static/vendor/`) and rewrites the pages it just rendered to load them by relative path, and the logo from
the site's own `static/images`. The site folder is then self-contained: it can be moved or served as is.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asset:
    package: str  # npm name
    version: str
    path: str  # inside the package; a folder ends with "/"
    urls: tuple[str, ...] = ()  # what GX's templates load it from


ASSETS: tuple[Asset, ...] = (
    Asset("bootstrap", "4.3.1", "dist/css/bootstrap.min.css",
          ("https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",)),
    Asset("bootstrap", "4.3.1", "dist/js/bootstrap.min.js",
          ("https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",)),
    Asset("jquery", "3.7.1", "dist/jquery.min.js", ("https://code.jquery.com/jquery-3.7.1.min.js",)),
    Asset("popper.js", "1.12.9", "dist/umd/popper.min.js",
          ("https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js",)),
    Asset("bootstrap-table", "1.19.1", "dist/bootstrap-table.min.css",
          ("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css",)),
    Asset("bootstrap-table", "1.19.1", "dist/bootstrap-table.min.js",
          ("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js",)),
    Asset("bootstrap-table", "1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
          ("https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
           "bootstrap-table-filter-control.min.js",)),
    # the pages ask for 1.19.0's stylesheet of the extension (minified or not): 1.19.1's serves both
    Asset("bootstrap-table", "1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
          ("https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
           "bootstrap-table-filter-control.min.css",
           "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
           "bootstrap-table-filter-control.css")),
    Asset("bootstrap-datepicker", "1.9.0", "dist/css/bootstrap-datepicker.min.css",
          ("https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",)),
    Asset("bootstrap-datepicker", "1.9.0", "dist/js/bootstrap-datepicker.min.js",
          ("https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",)),
    Asset("@fortawesome/fontawesome-free", "6.6.0", "css/all.min.css",
          ("https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",)),
    Asset("@fortawesome/fontawesome-free", "6.6.0", "webfonts/"),  # all.min.css loads ../webfonts/*
    Asset("@forevolve/bootstrap-dark", "1.1.0", "dist/css/bootstrap-prefers-dark.css",
          ("https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",)),
    # "@5" / "@6" on the CDN: the newest release of that major, pinned here
    Asset("vega", "5.33.1", "build/vega.min.js", ("https://cdn.jsdelivr.net/npm/vega@5",)),
    Asset("vega-lite", "5.23.0", "build/vega-lite.min.js", ("https://cdn.jsdelivr.net/npm/vega-lite@5",)),
    Asset("vega-embed", "6.29.0", "build/vega-embed.min.js", ("https://cdn.jsdelivr.net/npm/vega-embed@6",)),
)

# GX's logos from its bucket (the data context id in the query string) -> the site's own copy
LOGO = re.compile(r"https://great-expectations-web-assets\.s3[.\w-]*\.amazonaws\.com/[\w.-]+\.png(\?[^\"')\s]*)?")
LOCAL_LOGO = "static/images/logo-long.png"
# a tag that pins its CDN file by hash (subresource integrity) with a CORS request, which Chromium refuses for
# a page opened from disk: the pin is checked here against the vendored file, and dropped only when it holds
PINNED = re.compile(r'((?:src|href)="([^"]+)")\s+integrity="(sha256|sha384|sha512)-([^"]+)"\s+crossorigin="anonymous"')
VENDOR = "static/vendor"


class AssetsMissing(RuntimeError):
    """The vendored web assets are not installed."""


def assets_dir() -> Path:
    """Where `make install` put the vendored files (CVW_WEB_ASSETS overrides)."""
    return Path(os.environ.get("CVW_WEB_ASSETS") or Path(sys.prefix) / "share" / "cvw-web")


def vendored_path(asset: Asset) -> str:
    """The asset's path under a vendor folder: `<package>@<version>/<path>`."""
    return f"{asset.package}@{asset.version}/{asset.path}"


def _copy_vendor(site: Path) -> None:
    source = assets_dir()
    missing = [a for a in ASSETS if not (source / vendored_path(a)).exists()]
    if missing:
        raise AssetsMissing(
            f"the web assets Data Docs load are not installed in {source} (missing: "
            f"{', '.join(vendored_path(a) for a in missing)}): run `make install` (it vendors them from npm with "
            "scripts/vendor_web_assets.py)")
    for asset in ASSETS:
        src, dst = source / vendored_path(asset), site / VENDOR / vendored_path(asset)
        if asset.path.endswith("/"):
            shutil.copytree(src, dst, dirs_exist_ok=True)
        elif not dst.exists() or dst.stat().st_size != src.stat().st_size:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)


def localise(text: str, site: Path, folder: Path) -> str:
    """`text` (a page or stylesheet in `folder` of the site) with every CDN URL and logo made relative."""
    up = os.path.relpath(site, folder).replace(os.sep, "/")
    for asset in ASSETS:
        for url in asset.urls:
            text = text.replace(url, f"{up}/{VENDOR}/{vendored_path(asset)}")
    text = LOGO.sub(f"{up}/{LOCAL_LOGO}", text)

    def unpin(m: re.Match) -> str:
        local = folder / m.group(2)
        if m.group(2).startswith(("http:", "https:", "//")) or not local.is_file():
            return m.group(0)
        digest = base64.b64encode(hashlib.new(m.group(3), local.read_bytes()).digest()).decode()
        return m.group(1) if digest == m.group(4) else m.group(0)  # a mismatch stays pinned: the browser refuses

    return PINNED.sub(unpin, text)


def make_site_offline(site: Path, since: float | None = None) -> int:
    """Vendor the assets into the Data Docs site at `site` and rewrite its pages (those modified at or after
    `since`, a time.time(); all when None) and stylesheets to load only local files. Returns pages rewritten."""
    _copy_vendor(site)
    pages = [p for p in site.rglob("*.html") if since is None or p.stat().st_mtime >= since]
    pages += list((site / "static" / "styles").glob("*.css"))
    changed = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        local = localise(text, site, page.parent)
        if local != text:
            page.write_text(local, encoding="utf-8")
            changed += 1
    log.info("Data Docs made offline: %d page(s) rewritten to load %s", changed, site / VENDOR)
    return changed
