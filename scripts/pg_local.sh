#!/usr/bin/env bash
# A local PostgreSQL 15 for the postgres engine (CVW_TARGET=postgres) and for Airflow's metadata DB.
#
#   eval "$(scripts/pg_local.sh start)"   # start (initialise on first use); prints the export lines
#   scripts/pg_local.sh env               # print the export lines again (CVW_PG_*, Airflow's DB URL)
#   scripts/pg_local.sh status | stop
#
# Data, socket, log and a generated password live in $CVW_HOME/postgres (CVW_HOME defaults to ./data).
# The server listens on 127.0.0.1 only, on a free port (or --port N; the port is remembered). TCP logins
# need a password (scram-sha-256); role `cvw` (LOGIN CREATEROLE, not a superuser) owns the databases
# `cvw` (the warehouse), `airflow` (Airflow's metadata DB) and `spark_metastore` (scripts/spark_cluster.sh). The postgres engine creates the NOLOGIN
# group role `cvw_reader` for BI on its first publish. As root the server runs as an unprivileged OS user
# ($CVW_PG_OS_USER, default nobody), because initdb refuses to run as root.
# Server binaries: $CVW_PG_BIN (default /usr/lib/postgresql/15/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN="${CVW_PG_BIN:-/usr/lib/postgresql/15/bin}"
: "${CVW_HOME:=$PWD/data}"
CVW_HOME="$(mkdir -p "$CVW_HOME" && cd "$CVW_HOME" && pwd)"
ROOT="$CVW_HOME/postgres"
DATA="$ROOT/data"
SOCK="$ROOT/sock"
LOG="$ROOT/server.log"
PORT_FILE="$ROOT/port"
PW_FILE="$ROOT/cvw.password"
OS_USER="${CVW_PG_OS_USER:-nobody}"

say() { echo "pg_local: $*" >&2; }
die() { say "$*"; exit 1; }

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

as_pg() {  # run a server binary as the unprivileged user when we are root
  if [ "$(id -u)" -eq 0 ]; then
    if command -v runuser > /dev/null; then
      runuser -u "$OS_USER" -- "$@"
    else
      setpriv --reuid="$(id -u "$OS_USER")" --regid="$(id -g "$OS_USER")" --clear-groups -- "$@"
    fi
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

psql_local() {  # superuser `postgres` over the Unix socket (local trust; only the server's OS user)
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$(cat "$PORT_FILE")" -U postgres -d postgres "$@"
}

running() {
  [ -f "$DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" status -D "$DATA" > /dev/null 2>&1
}

print_env() {
  [ -f "$PORT_FILE" ] && [ -f "$PW_FILE" ] || die "not initialised yet: run $0 start"
  local port pw
  port="$(cat "$PORT_FILE")"
  pw="$(cat "$PW_FILE")"
  cat <<EOF
export CVW_TARGET=postgres
export CVW_PG_HOST=127.0.0.1
export CVW_PG_PORT=$port
export CVW_PG_USER=cvw
export CVW_PG_PASSWORD=$pw
export CVW_PG_DATABASE=cvw
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://cvw:$pw@127.0.0.1:$port/airflow
EOF
}

ensure_roles_and_databases() {  # role cvw and its databases (also on an older, already running server)
  local pw
  pw="$(cat "$PW_FILE")"
  psql_local -v pw="$pw" <<'SQL'
select format('create role cvw login createrole password %L', :'pw')
where not exists (select from pg_roles where rolname = 'cvw') \gexec
select format('alter role cvw login createrole password %L', :'pw') \gexec
select 'create database cvw owner cvw' where not exists (select from pg_database where datname = 'cvw') \gexec
select 'create database airflow owner cvw' where not exists (select from pg_database where datname = 'airflow') \gexec
select 'create database spark_metastore owner cvw'
where not exists (select from pg_database where datname = 'spark_metastore') \gexec
SQL
  say "ready: role cvw, databases cvw, airflow and spark_metastore (the Spark cluster's Hive metastore)"
}

cmd_start() {
  local port=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="${2:?--port needs a number}"; shift 2 ;;
      --port=*) port="${1#--port=}"; shift ;;
      *) usage ;;
    esac
  done
  [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] || \
    die "PostgreSQL server binaries not found in $PG_BIN (apt-get install postgresql-15, or set CVW_PG_BIN)"
  mkdir -p "$ROOT" "$SOCK"
  chmod 700 "$ROOT" "$SOCK"
  if [ "$(id -u)" -eq 0 ]; then
    id "$OS_USER" > /dev/null 2>&1 || die "OS user $OS_USER does not exist (set CVW_PG_OS_USER)"
    chown "$OS_USER" "$ROOT" "$SOCK"
    as_pg test -x "$ROOT" || die "$OS_USER cannot reach $ROOT: make its parent folders traversable (chmod o+x)"
  fi
  if running; then
    say "already running on port $(cat "$PORT_FILE") (data: $DATA)"
    ensure_roles_and_databases
    print_env
    return
  fi
  if [ -n "$port" ]; then
    echo "$port" > "$PORT_FILE"
  elif [ ! -s "$PORT_FILE" ]; then
    free_port > "$PORT_FILE"
  fi
  port="$(cat "$PORT_FILE")"
  if [ ! -f "$DATA/PG_VERSION" ]; then
    say "initialising $DATA"
    umask 077
    [ -s "$PW_FILE" ] || python3 -c 'import secrets; print(secrets.token_hex(16))' > "$PW_FILE"
    chmod 600 "$PW_FILE"
    as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 > "$ROOT/initdb.log" 2>&1 || { cat "$ROOT/initdb.log" >&2; exit 1; }
  fi
  if [ "$(id -u)" -eq 0 ]; then chown "$OS_USER" "$ROOT"; touch "$LOG"; chown "$OS_USER" "$LOG"; fi
  say "starting on 127.0.0.1:$port (log: $LOG)"
  as_pg "$PG_BIN/pg_ctl" start -D "$DATA" -w -t 60 -l "$LOG" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $SOCK -c timezone=UTC" > /dev/null \
    || { tail -20 "$LOG" >&2; die "the server did not start (port $port taken? try --port N)"; }
  ensure_roles_and_databases
  print_env
}

cmd_stop() {
  if running; then
    as_pg "$PG_BIN/pg_ctl" stop -D "$DATA" -m fast -w > /dev/null
    say "stopped"
  else
    say "not running"
  fi
}

cmd_status() {
  if running; then
    say "running on 127.0.0.1:$(cat "$PORT_FILE") (data: $DATA)"
  else
    say "not running (data: $DATA)"
    exit 3
  fi
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) print_env ;;
  *) usage ;;
esac
