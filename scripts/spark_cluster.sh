#!/usr/bin/env bash
# A Spark standalone cluster on this machine for CVW_TARGET=spark_cluster (all on 127.0.0.1).
#
#   eval "$(scripts/spark_cluster.sh start)"   # start what is not running; prints the export lines
#   scripts/spark_cluster.sh env                # print the export lines again
#   scripts/spark_cluster.sh status | stop
#
# What runs: a master, $CVW_SPARK_WORKERS (2) workers with $CVW_SPARK_WORKER_CORES (2) cores and
# $CVW_SPARK_WORKER_MEMORY (4g) each, and the Spark Thrift server (HiveThriftServer2; dbt-spark's `thrift`
# method and BI tools connect to it) running its queries on the cluster. The Hive metastore is the database
# `spark_metastore` on the project's local PostgreSQL (scripts/pg_local.sh; started if it is not running,
# JDBC driver from Debian's libpostgresql-jdbc-java), so the Thrift server, the pipeline's own Spark
# application and any number of readers share one catalog. Tables are Parquet under
# $CVW_HOME/spark/cluster/warehouse; conf, logs, pids, ports, work dirs and passwords are beside it.
# Logins (Thrift server, hive.server2.authentication=CUSTOM, spark/guard/PasswordFileAuthenticator.java):
# `cvw` (the pipeline) and `cvw_bi` (read-only, `analytics` only: spark/guard/ReaderGuard.java), passwords
# generated on first start. Every application takes at most $CVW_SPARK_APP_CORES (2) cores, one executor of
# $CVW_SPARK_EXECUTOR_MEMORY (2g) per worker, so the Thrift server and one pipeline run fit side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

: "${CVW_HOME:=$PWD/data}"
CVW_HOME="$(mkdir -p "$CVW_HOME" && cd "$CVW_HOME" && pwd)"
export CVW_HOME
ROOT="$CVW_HOME/spark/cluster"
CONF="$ROOT/conf"
PY="${CVW_PYTHON:-$REPO/.venv/bin/python}"
JDBC_JAR="${CVW_PG_JDBC_JAR:-/usr/share/java/postgresql.jar}"
WORKERS="${CVW_SPARK_WORKERS:-2}"
WORKER_CORES="${CVW_SPARK_WORKER_CORES:-2}"
WORKER_MEMORY="${CVW_SPARK_WORKER_MEMORY:-4g}"
APP_CORES="${CVW_SPARK_APP_CORES:-2}"
EXECUTOR_MEMORY="${CVW_SPARK_EXECUTOR_MEMORY:-2g}"
READER="${CVW_SPARK_BI_USER:-cvw_bi}"
START_TIMEOUT="${CVW_SPARK_START_TIMEOUT:-180}"

say() { echo "spark_cluster: $*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

spark_home() {
  [ -x "$PY" ] || die "no Python at $PY: run 'make install' first (or set CVW_PYTHON)"
  "$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_of() {  # a remembered port (chosen free on first start)
  local file="$ROOT/ports/$1"
  [ -s "$file" ] || free_port > "$file"
  cat "$file"
}

listening() { python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$1" 2>/dev/null; }

alive() {  # pid file -> the process is running
  local pidfile="$ROOT/pids/$1.pid"
  [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

wait_for() {  # what, test command...
  local what="$1" waited=0
  shift
  until "$@"; do
    sleep 1
    waited=$((waited + 1))
    [ "$waited" -lt "$START_TIMEOUT" ] || die "$what did not come up in ${START_TIMEOUT}s (logs: $ROOT/logs)"
  done
}

password() {  # the generated password of a login
  local file="$ROOT/passwords/$1"
  [ -s "$file" ] || { umask 077; python3 -c 'import secrets; print(secrets.token_hex(16))' > "$file"; }
  cat "$file"
}

write_users() {  # user:salt:sha256(salt + password), read by PasswordFileAuthenticator at every login
  local file="$ROOT/passwords/users" user salt
  umask 077
  : > "$file.tmp"
  for user in cvw "$READER"; do
    salt="$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
    printf '%s:%s:%s\n' "$user" "$salt" \
      "$(printf '%s%s' "$salt" "$(password "$user")" | sha256sum | cut -d' ' -f1)" >> "$file.tmp"
  done
  mv "$file.tmp" "$file"
}

guard_jar() {  # compile spark/guard (login + read-only check) against this pyspark's jars when it changed
  local jar="$ROOT/jars/cvw-spark-guard.jar" src="$REPO/spark/guard" home="$1"
  if [ ! -s "$jar" ] || [ -n "$(find "$src" -name '*.java' -newer "$jar")" ]; then
    command -v javac > /dev/null || die "javac not found: the cluster needs a JDK 17 (apt-get install openjdk-17-jdk-headless)"
    local classes="$ROOT/jars/classes"
    rm -rf "$classes" && mkdir -p "$classes"
    javac --release 17 -nowarn -d "$classes" -cp "$home/jars/*" $(find "$src" -name '*.java') >&2
    jar cf "$jar.tmp" -C "$classes" . && mv "$jar.tmp" "$jar"
    say "built $jar"
  fi
  echo "$jar"
}

pg_env() {  # PostgreSQL for the metastore: started when not running (then stopped by `stop`)
  bash scripts/pg_local.sh status > /dev/null 2>&1 || touch "$ROOT/pids/started_postgres"
  bash scripts/pg_local.sh start  # also creates the database spark_metastore on a server started before
}

init_metastore() {  # the Hive metastore's tables, created once by DataNucleus' SchemaTool from the metastore jar's
  # package.jdo: a metastore left to create them on first use (datanucleus.schema.autoCreateAll) deadlocks on
  # PostgreSQL (its DDL connection waits for a lock held by its own open transaction)
  local home="$1" pg_port="$2" pg_password="$3" props="$CONF/metastore.properties"
  if PGPASSWORD="$pg_password" "$PY" - "$pg_port" <<'EOF'; then return 0; fi
import os, sys, psycopg2
with psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), user="cvw", password=os.environ["PGPASSWORD"],
                      dbname="spark_metastore") as conn, conn.cursor() as cur:
    cur.execute("""select to_regclass('"DBS"') is not null""")
    sys.exit(0 if cur.fetchone()[0] else 1)
EOF
  umask 077
  cat > "$props" <<EOF
javax.jdo.option.ConnectionURL=jdbc:postgresql://127.0.0.1:$pg_port/spark_metastore
javax.jdo.option.ConnectionDriverName=org.postgresql.Driver
javax.jdo.option.ConnectionUserName=cvw
javax.jdo.option.ConnectionPassword=$pg_password
datanucleus.identifierFactory=datanucleus1
datanucleus.rdbms.useLegacyNativeValueStrategy=true
datanucleus.storeManagerType=rdbms
EOF
  local jdo="$ROOT/jars/metastore"
  mkdir -p "$jdo"
  (cd "$jdo" && unzip -o -q "$(ls "$home"/jars/hive-metastore-*.jar | head -1)" package.jdo)
  if java -cp "$home/jars/*:$JDBC_JAR" org.datanucleus.store.schema.SchemaTool -create -api JDO \
      -props "$props" "$jdo/package.jdo" > "$ROOT/logs/metastore-schema.log" 2>&1; then
    say "metastore tables created (PostgreSQL 127.0.0.1:$pg_port/spark_metastore)"
  else
    tail -20 "$ROOT/logs/metastore-schema.log" >&2
    die "could not create the metastore tables (log: $ROOT/logs/metastore-schema.log)"
  fi
}

write_conf() {  # spark-defaults.conf (every application: Thrift server, the pipeline) and log4j2
  local home="$1" jar="$2" pg_port="$3" pg_password="$4"
  umask 077
  cat > "$CONF/spark-defaults.conf.tmp" <<EOF
spark.master                                   spark://127.0.0.1:$(port_of master)
spark.driver.host                              127.0.0.1
spark.driver.bindAddress                       127.0.0.1
spark.driver.extraClassPath                    $JDBC_JAR:$jar
spark.driver.memory                            ${CVW_SPARK_DRIVER_MEMORY:-2g}
spark.cores.max                                $APP_CORES
spark.executor.cores                           1
spark.executor.memory                          $EXECUTOR_MEMORY
spark.pyspark.python                           $PY
spark.sql.catalogImplementation                hive
spark.sql.warehouse.dir                        file:$ROOT/warehouse
spark.sql.session.timeZone                     UTC
spark.sql.shuffle.partitions                   ${CVW_SPARK_SHUFFLE_PARTITIONS:-4}
spark.sql.sources.partitionOverwriteMode       static
spark.sql.hive.metastorePartitionPruning       false
spark.sql.extensions                           org.cvw.spark.ReaderGuard
spark.cvw.readers                              $READER
spark.ui.enabled                               false
spark.ui.showConsoleProgress                   false
spark.master.rest.enabled                      false
spark.hadoop.javax.jdo.option.ConnectionURL    jdbc:postgresql://127.0.0.1:$pg_port/spark_metastore
spark.hadoop.javax.jdo.option.ConnectionDriverName org.postgresql.Driver
spark.hadoop.javax.jdo.option.ConnectionUserName cvw
spark.hadoop.javax.jdo.option.ConnectionPassword $pg_password
spark.hadoop.datanucleus.schema.autoCreateAll  false
spark.hadoop.hive.metastore.schema.verification false
EOF
  mv "$CONF/spark-defaults.conf.tmp" "$CONF/spark-defaults.conf"
  "$PY" -c 'import sys; from cvw.engines.spark.session import log4j
sys.stdout.write(log4j("warn", "logger.thrift.name = org.apache.spark.sql.hive.thriftserver\nlogger.thrift.level = info\n"))' \
    > "$CONF/log4j2.properties"
}

daemon() {  # name, command...: start in its own session (stop kills the whole group), log and pid under ROOT
  local name="$1"
  shift
  SPARK_CONF_DIR="$CONF" SPARK_LOCAL_IP=127.0.0.1 CVW_SPARK_USERS_FILE="$ROOT/passwords/users" \
    setsid "$@" > "$ROOT/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$ROOT/pids/$name.pid"
}

master_json() { python3 - "$(port_of master_ui)" <<'EOF'
import json, sys, urllib.request
print(json.dumps(json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=5))))
EOF
}

enough_workers() { [ "$(alive_workers)" -ge "$WORKERS" ]; }

alive_workers() {
  master_json 2>/dev/null | python3 -c 'import json,sys; print(sum(w["state"] == "ALIVE" for w in json.load(sys.stdin)["workers"]))' 2>/dev/null || echo 0
}

print_env() {
  [ -s "$ROOT/ports/master" ] && [ -s "$ROOT/passwords/cvw" ] || die "not initialised yet: run $0 start"
  cat <<EOF
export CVW_TARGET=spark_cluster
export CVW_SPARK_MASTER=spark://127.0.0.1:$(cat "$ROOT/ports/master")
export CVW_SPARK_MASTER_UI=http://127.0.0.1:$(cat "$ROOT/ports/master_ui")
export CVW_SPARK_CONF_DIR=$CONF
export CVW_SPARK_HOST=127.0.0.1
export CVW_SPARK_THRIFT_PORT=$(cat "$ROOT/ports/thrift")
export CVW_SPARK_USER=cvw
export CVW_SPARK_PASSWORD=$(cat "$ROOT/passwords/cvw")
export CVW_SPARK_BI_USER=$READER
export CVW_SPARK_BI_PASSWORD=$(cat "$ROOT/passwords/$READER")
EOF
}

cmd_start() {
  mkdir -p "$ROOT"/{conf,logs,pids,ports,passwords,jars,work,warehouse}
  chmod 700 "$ROOT/conf" "$ROOT/passwords"
  [ -s "$JDBC_JAR" ] || die "no PostgreSQL JDBC driver at $JDBC_JAR (apt-get install libpostgresql-jdbc-java, or set CVW_PG_JDBC_JAR)"
  command -v java > /dev/null || die "java not found: the cluster needs Java 17"
  local home jar pgenv pg_port pg_password
  home="$(spark_home)"
  jar="$(guard_jar "$home")"
  pgenv="$(pg_env)"
  pg_port="$(sed -n 's/^export CVW_PG_PORT=//p' <<< "$pgenv")"
  pg_password="$(sed -n 's/^export CVW_PG_PASSWORD=//p' <<< "$pgenv")"
  write_conf "$home" "$jar" "$pg_port" "$pg_password"
  init_metastore "$home" "$pg_port" "$pg_password"
  write_users
  port_of thrift > /dev/null
  if ! alive master; then
    say "starting the master on 127.0.0.1:$(port_of master) (UI :$(port_of master_ui))"
    daemon master "$home/bin/spark-class" org.apache.spark.deploy.master.Master \
      --host 127.0.0.1 --port "$(port_of master)" --webui-port "$(port_of master_ui)"
    wait_for "the master" listening "$(port_of master_ui)"
  fi
  local i
  for i in $(seq 1 "$WORKERS"); do
    if ! alive "worker$i"; then
      mkdir -p "$ROOT/work/worker$i"
      daemon "worker$i" "$home/bin/spark-class" org.apache.spark.deploy.worker.Worker \
        --host 127.0.0.1 --webui-port "$(port_of "worker${i}_ui")" --cores "$WORKER_CORES" \
        --memory "$WORKER_MEMORY" --work-dir "$ROOT/work/worker$i" "spark://127.0.0.1:$(port_of master)"
    fi
  done
  wait_for "$WORKERS worker(s)" enough_workers
  say "$WORKERS worker(s) alive ($WORKER_CORES cores, $WORKER_MEMORY each)"
  if ! alive thrift; then
    say "starting the Thrift server on 127.0.0.1:$(port_of thrift) (metastore: PostgreSQL 127.0.0.1:$pg_port/spark_metastore)"
    daemon thrift "$home/bin/spark-submit" --properties-file "$CONF/spark-defaults.conf" \
      --class org.apache.spark.sql.hive.thriftserver.HiveThriftServer2 --name cvw-thrift-server \
      --conf spark.sql.runSQLOnFiles=false spark-internal \
      --hiveconf hive.server2.thrift.bind.host=127.0.0.1 --hiveconf "hive.server2.thrift.port=$(port_of thrift)" \
      --hiveconf hive.server2.authentication=CUSTOM \
      --hiveconf hive.server2.custom.authentication.class=org.cvw.spark.PasswordFileAuthenticator
    wait_for "the Thrift server" listening "$(port_of thrift)"
  fi
  say "ready: master spark://127.0.0.1:$(port_of master), Thrift server 127.0.0.1:$(port_of thrift), logs $ROOT/logs"
  print_env
}

stop_one() {
  local name="$1" pid waited=0
  alive "$name" || { rm -f "$ROOT/pids/$name.pid"; return 0; }
  pid="$(cat "$ROOT/pids/$name.pid")"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 30 ]; do sleep 0.5; waited=$((waited + 1)); done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$ROOT/pids/$name.pid"
  say "stopped $name"
}

cmd_stop() {
  [ -d "$ROOT/pids" ] || { say "not running"; return 0; }
  local pidfile
  stop_one thrift
  for pidfile in "$ROOT"/pids/worker*.pid; do
    [ -e "$pidfile" ] && stop_one "$(basename "$pidfile" .pid)"
  done
  stop_one master
  if [ -e "$ROOT/pids/started_postgres" ]; then
    bash scripts/pg_local.sh stop
    rm -f "$ROOT/pids/started_postgres"
  fi
}

cmd_status() {
  local ok=0 name
  [ -s "$ROOT/ports/master_ui" ] || { say "not running (never started under $ROOT)"; return 3; }
  for name in master thrift; do
    if alive "$name"; then say "$name running (pid $(cat "$ROOT/pids/$name.pid"))"; else say "$name not running"; ok=3; fi
  done
  if alive master; then say "workers alive: $(alive_workers) of $WORKERS"; fi
  [ "$(alive_workers)" -ge "$WORKERS" ] || ok=3
  return "$ok"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) print_env ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac
