"""Open a page of this project (run report, model docs, Data Docs) in a real headless Chromium with every
request that would leave the machine blocked, the way an air-gapped install sees it (PITFALLS 18).

Used by the tests and `scripts/screenshot.py`; needs the `playwright` Python package (a dev dependency: no
browser download) and the system Chromium (`make install` installs Debian's `chromium` when it is missing).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def chromium_path() -> str:
    """The system Chromium (CVW_CHROMIUM overrides); a clear error when there is none."""
    found = os.environ.get("CVW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise FileNotFoundError(
            "no Chromium on this machine: `make install` installs Debian's package as root (apt-get install -y "
            "chromium); or point CVW_CHROMIUM at a Chromium binary")
    return found


@dataclass
class PageCheck:
    url: str
    title: str = ""
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # requests that would have left the machine
    failed: list[str] = field(default_factory=list)  # local requests that did not load
    counts: dict[str, int] = field(default_factory=dict)  # CSS selector -> elements found
    screenshot: str | None = None

    @property
    def clean(self) -> bool:
        return not (self.console_errors or self.page_errors or self.blocked or self.failed)


def check_page(path: Path, selectors: tuple[str, ...] = (), screenshot: Path | None = None,
               wait_for: str | None = None, width: int = 1400, height: int = 900,
               full_page: bool = True, timeout_ms: int = 30_000) -> PageCheck:
    """Load `path` in headless Chromium offline; report console errors, blocked and failed requests and how
    many elements match each selector; optionally save a screenshot (of the whole page, or of the first
    `height` pixels when not `full_page`)."""
    from playwright.sync_api import sync_playwright

    url = Path(path).resolve().as_uri()
    result = PageCheck(url=url)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})

            def route(r):
                if r.request.url.startswith(LOCAL_SCHEMES):
                    r.continue_()
                else:
                    result.blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("console", lambda m: result.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: result.page_errors.append(str(e)))
            page.on("requestfailed", lambda r: None if r.url in result.blocked else result.failed.append(r.url))
            page.goto(url, wait_until="load", timeout=timeout_ms)
            if wait_for:
                page.wait_for_selector(wait_for, state="attached", timeout=timeout_ms)
            page.wait_for_load_state("networkidle", timeout=timeout_ms)
            result.title = page.title()
            result.counts = {s: page.locator(s).count() for s in selectors}
            if screenshot:
                Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=full_page)
                result.screenshot = str(screenshot)
        finally:
            browser.close()
    return result
