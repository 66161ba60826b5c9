"""pytest plugin: one throw-away PostgreSQL 15 server per test session, one fresh database per test.

The server runs from the image's binaries (/usr/lib/postgresql/15/bin, not on PATH; override with
CVW_PG_BIN). `initdb` refuses to run as root, so as root the server runs as `nobody` (runuser/setpriv),
with its data and socket folders in a temp folder owned by that user. It listens on 127.0.0.1 only, on
a free port, with trust authentication (tests only). A superuser role `cvw` runs the pipeline. The
server is stopped (`pg_ctl stop -m fast`) and its folder removed at session end, also when tests fail.

Fixtures:
* `pg_server` (session): a PgServer with host/port/superuser and helpers (connect, create_database, env).
* `pg_settings` (function): a fresh database, CVW_PG_* and CVW_TARGET set (monkeypatch), and
  `cvw.settings.load(home=tmp_path, target="postgres")` with a copy of landing_small as landing.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import copy_landing_small

PG_BIN = Path(os.environ.get("CVW_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "cvw"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_unprivileged() -> tuple[list[str], int | None, int | None]:
    """Command prefix that drops root to `nobody` (empty when not root) and that user's uid/gid."""
    if os.geteuid() != 0:
        return [], None, None
    import pwd

    user = pwd.getpwnam("nobody")
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"], user.pw_uid, user.pw_gid
    return [
        "setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--",
    ], user.pw_uid, user.pw_gid


@dataclass
class PgServer:
    """A running test server. `dsn()`/`connect()` log in as the superuser `cvw` over TCP."""

    root: Path
    port: int
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    prefix: list[str] = field(default_factory=list)
    _stopped: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        dsn = f"host={self.host} port={self.port} dbname={dbname} user={user or self.user}"
        return dsn + (f" password={password}" if password else "")

    def connect(self, dbname: str = "postgres", user: str | None = None, password: str | None = None,
                autocommit: bool = True):
        import psycopg2

        con = psycopg2.connect(self.dsn(dbname, user, password))
        con.autocommit = autocommit
        return con

    def create_database(self, name: str | None = None) -> str:
        name = name or f"cvw_{uuid.uuid4().hex[:10]}"
        con = self.connect()
        try:
            with con.cursor() as cur:
                cur.execute(f'create database "{name}" owner {self.user}')
        finally:
            con.close()
        return name

    def drop_database(self, name: str) -> None:
        con = self.connect()
        try:
            with con.cursor() as cur:
                cur.execute(f'drop database if exists "{name}" with (force)')
        finally:
            con.close()

    def env(self, dbname: str) -> dict[str, str]:
        """The CVW_PG_* variables (as read by profiles.yml and cvw.engines.postgres) for `dbname`."""
        return {
            "CVW_TARGET": "postgres",
            "CVW_PG_HOST": self.host,
            "CVW_PG_PORT": str(self.port),
            "CVW_PG_USER": self.user,
            "CVW_PG_PASSWORD": "",
            "CVW_PG_DATABASE": dbname,
        }

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.prefix, *args], check=check, capture_output=True, text=True,
                              cwd=self.root, timeout=120)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run(str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w",
                          check=False)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_server(root: Path | None = None) -> PgServer:
    """initdb + pg_ctl start on a free loopback port, as an unprivileged user; create superuser `cvw`."""
    prefix, uid, gid = _as_unprivileged()
    root = root or Path(tempfile.mkdtemp(prefix="cvw_pg_"))
    server = PgServer(root=root, port=_free_port(), prefix=prefix)
    server.socket_dir.mkdir(parents=True, exist_ok=True)
    if uid is not None:
        for p in (root, server.socket_dir):
            os.chown(p, uid, gid)
        root.chmod(0o755)
    try:
        server._run(
            str(PG_BIN / "initdb"), "-D", str(server.data_dir), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )
        options = (
            f"-c listen_addresses={server.host} -k {server.socket_dir} -p {server.port} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100 "
            "-c timezone=UTC"
        )
        server._run(str(PG_BIN / "pg_ctl"), "start", "-D", str(server.data_dir), "-w", "-t", "60",
                    "-l", str(root / "server.log"), "-o", options)
        deadline = time.monotonic() + 30
        while True:
            ready = server._run(str(PG_BIN / "pg_isready"), "-h", server.host, "-p", str(server.port),
                                check=False)
            if ready.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not become ready: {ready.stdout}{ready.stderr}")
            time.sleep(0.2)
        import psycopg2

        con = psycopg2.connect(server.dsn("postgres", user="postgres"))
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f"create role {SUPERUSER} login superuser")
        con.close()
    except BaseException as exc:
        log = root / "server.log"
        detail = log.read_text()[-2000:] if log.exists() else ""
        if isinstance(exc, subprocess.CalledProcessError):
            detail = f"{exc.stdout}\n{exc.stderr}\n{detail}"
        server.stop()
        raise RuntimeError(f"could not start the test PostgreSQL server: {exc}\n{detail}") from exc
    return server


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL 15 server for the whole session; skipped only when the binaries are missing."""
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / b).exists()]
    if missing:
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN} ({', '.join(missing)}); "
                    "install postgresql-15 or set CVW_PG_BIN")
    server = start_server()
    atexit.register(server.stop)  # also on an interrupted session
    try:
        yield server
    finally:
        server.stop()


def pg_workspace(home: Path, server: PgServer, dbname: str):
    """Settings for target postgres in `home`, with a copy of landing_small as landing."""
    from cvw import settings

    copy_landing_small(home / "landing")
    return settings.load(home=home, landing_dir=home / "landing", target="postgres")


@pytest.fixture
def pg_settings(tmp_path, pg_server, monkeypatch):
    """A fresh database on the test server, CVW_PG_* set for it, and postgres settings in tmp_path."""
    from tests.helpers import TINY_VARS

    dbname = pg_server.create_database()
    for key, value in pg_server.env(dbname).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CVW_DBT_VARS", TINY_VARS)  # landing_small
    yield pg_workspace(tmp_path, pg_server, dbname)
    try:
        pg_server.drop_database(dbname)
    except Exception:  # noqa: BLE001 - the server goes away at session end anyway
        pass
