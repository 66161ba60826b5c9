"""`make bi`: Superset on 127.0.0.1 with the "Customer value" dashboard on the published file.

Runs in Superset's own virtualenv (.venv-bi). Steps:
1. $CVW_HOME/bi holds Superset's metadata DB and a secret key generated on first start (mode 0600).
2. The metadata DB is migrated and initialised once per Superset version.
3. The admin `admin` gets CVW_BI_ADMIN_PASSWORD. When that is unset, a password is generated, stored in
   $CVW_HOME/bi/admin_password (0600) and printed.
4. Superset's third-party usage pixel is removed from its installed frontend (see remove_usage_pixel).
5. The server starts on CVW_BI_PORT (default 8088), on loopback only.
6. bi/customer_value.yml is applied (bi/provision.py: the published file registered read-only, the
   datasets, the charts and the dashboard). Re-applying it changes only what changed.
7. $CVW_HOME/bi/ready.json says where everything is.

The server then runs until Ctrl-C (or, with --no-serve, stops after provisioning).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from provision import Superset, provision  # noqa: E402 - bi/ is not a package

SUPERSET = Path(sys.executable).with_name("superset")

# Superset's frontend renders a usage-counting image from a third party (Scarf) in its menu on every page.
# Its opt-out (SCARF_ANALYTICS=false) is read when the frontend is built from source, not by the wheel's
# prebuilt bundle, so the component is made to render nothing in the installed bundle (once; idempotent).
PIXEL = re.compile(
    r'(let (\w+)=`https://apachesuperset\.gateway\.scarf\.sh/pixel/[^`]*`;)'
    r'return\(0,\w+\.Y\)\("img",\{referrerPolicy:"no-referrer-when-downgrade",src:\2,width:0,height:0,alt:""\}\)')

PATCHED = re.compile(r'let \w+=`https://apachesuperset\.gateway\.scarf\.sh/pixel/[^`]*`;return null')


def remove_usage_pixel() -> int:
    """Make the installed bundle's telemetry image render nothing; returns the number of files patched."""
    import superset

    patched = 0
    for js in (Path(superset.__file__).parent / "static" / "assets").glob("*.js"):
        text = js.read_text(encoding="utf-8")
        if "scarf.sh/pixel" not in text or PATCHED.search(text):
            continue
        new, n = PIXEL.subn(r"\1return null", text)
        if not n:
            raise SystemExit(f"bi: {js} renders Scarf's usage pixel in a form this script does not know; "
                             "update PIXEL in bi/launch.py for this Superset version")
        js.write_text(new, encoding="utf-8")
        patched += 1
    return patched


def _secret(path: Path, generate) -> str:
    if not path.exists():
        path.write_text(generate())
        path.chmod(0o600)
    return path.read_text().strip()


def _superset(env: dict, *args: str, quiet: bool = True) -> None:
    done = subprocess.run([str(SUPERSET), *args], env=env, capture_output=quiet, text=True)
    if done.returncode:
        raise SystemExit(f"bi: `superset {' '.join(args[:2])}` failed:\n{(done.stdout or '')[-2000:]}"
                         f"{(done.stderr or '')[-2000:]}")


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"bi: the Superset server exited with code {server.returncode} (see its log)")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"bi: Superset did not answer on {url} within {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--home", type=Path, default=os.environ.get("CVW_HOME"),
                   help="CVW_HOME: the published file is $CVW_PUBLISH_DIR (default $CVW_HOME/published)")
    p.add_argument("--port", type=int, default=int(os.environ.get("CVW_BI_PORT", "8088")),
                   help="port on 127.0.0.1 (CVW_BI_PORT, default 8088)")
    p.add_argument("--no-serve", action="store_true", help="stop the server after provisioning")
    args = p.parse_args(argv)
    if not args.home:
        raise SystemExit("bi: set CVW_HOME (or --home): the folder whose published/customer_value.duckdb to show")
    home = args.home.resolve()
    published = Path(os.environ.get("CVW_PUBLISH_DIR") or home / "published") / "customer_value.duckdb"
    if not published.exists():
        raise SystemExit(f"bi: nothing is published yet ({published}): run `make demo` or `cvw run --as-of D` first")
    bi = home / "bi"
    bi.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SUPERSET_CONFIG_PATH": str(HERE / "superset_config.py"), "CVW_BI_HOME": str(bi),
           "CVW_BI_SECRET_KEY": _secret(bi / "secret_key", lambda: secrets.token_urlsafe(48)),
           "FLASK_APP": "superset", "SCARF_ANALYTICS": "false", "SUPERSET_LOAD_EXAMPLES": "no"}
    given = os.environ.get("CVW_BI_ADMIN_PASSWORD")
    password = given or _secret(bi / "admin_password", lambda: secrets.token_urlsafe(12))
    started = time.monotonic()
    remove_usage_pixel()
    marker = bi / f".initialised-{_version()}"
    if not marker.exists():
        print("bi: creating Superset's metadata DB (once; about a minute)", flush=True)
        _superset(env, "db", "upgrade")
        _superset(env, "fab", "create-admin", "--username", "admin", "--firstname", "CVW", "--lastname", "Admin",
                  "--email", "admin@localhost", "--password", password)
        _superset(env, "init")
        marker.touch()
    _wal(bi / "superset.db")
    _superset(env, "fab", "reset-password", "--username", "admin", "--password", password)
    url = f"http://127.0.0.1:{args.port}"
    log = open(bi / "superset.log", "a")  # noqa: SIM115 - the server's log for its whole life
    # gunicorn (a Superset dependency), as Superset's own images serve it: two worker processes with threads
    # answer a dashboard's charts in parallel (Flask's development server answered 15 charts one by one)
    server = subprocess.Popen([str(SUPERSET.with_name("gunicorn")), "--bind", f"127.0.0.1:{args.port}",
                               "--workers", os.environ.get("CVW_BI_WORKERS", "2"), "--worker-class", "gthread",
                               "--threads", "8", "--timeout", "300", "--limit-request-line", "0",
                               "superset.app:create_app()"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_healthy(url, server)
        ids = provision(Superset(url, "admin", password), published)
        ready = {"url": url, "dashboard_url": f"{url}/superset/dashboard/customer-value/",
                 "card_url": f"{url}/superset/dashboard/customer-card/", **ids,
                 "published": str(published), "seconds_to_ready": round(time.monotonic() - started, 1),
                 "server_pid": server.pid}
        (bi / "ready.json").write_text(json.dumps(ready, indent=2))
        where = "from CVW_BI_ADMIN_PASSWORD" if given else f"{password} (kept in {bi / 'admin_password'})"
        print(f"bi: Superset is up in {ready['seconds_to_ready']} s: {ready['dashboard_url']}\n"
              f"    the customer card for inbound contacts: {ready['card_url']}\n"
              f"    user admin, password {where}\n    log {bi / 'superset.log'}; Ctrl-C stops it", flush=True)
        if not args.no_serve:
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        (bi / "ready.json").unlink(missing_ok=True)
    return 0


def _wal(db: Path) -> None:
    """Put Superset's SQLite metadata DB in WAL mode (it stays so; running it again changes nothing).

    In SQLite's default rollback journal a write locks readers out: every dashboard open writes its event log
    and filter state while its ~25 other requests read chart and dataset metadata, and at 1M customers those
    reads queued behind the writes (first chart query to last chart data, scripts/bench_bi.py, the two modes
    alternated in one run: mean 3.00 s before, 2.65 s after; README "Benchmarks"). In WAL, readers never wait
    for a writer."""
    import sqlite3

    with closing(sqlite3.connect(db)) as con:
        mode = con.execute("pragma journal_mode=wal").fetchone()[0]
    if mode != "wal":
        raise SystemExit(f"bi: could not put {db} in WAL mode (it is {mode!r})")


def _version() -> str:
    from importlib.metadata import version

    return version("apache_superset")


if __name__ == "__main__":
    sys.exit(main())
