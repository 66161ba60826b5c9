#!/usr/bin/env bash
# The PostgreSQL JDBC driver the Spark cluster's Hive metastore uses (scripts/spark_cluster.sh; Maven is not
# reachable, PITFALLS 17). Installs Debian's `libpostgresql-jdbc-java` (/usr/share/java/postgresql.jar) when it
# is missing and this runs as root; otherwise says what to do. CVW_PG_JDBC_JAR may point at another jar.
set -euo pipefail
jar="${CVW_PG_JDBC_JAR:-/usr/share/java/postgresql.jar}"
[ -s "$jar" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's libpostgresql-jdbc-java (the Spark cluster's metastore driver; a few seconds)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq libpostgresql-jdbc-java >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq libpostgresql-jdbc-java >/dev/null; }
    test -s "$jar"
else
    echo "warning: no PostgreSQL JDBC driver at $jar; the Spark cluster needs one:" \
         "sudo apt-get install -y libpostgresql-jdbc-java (or set CVW_PG_JDBC_JAR)" >&2
fi
