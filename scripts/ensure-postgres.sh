#!/usr/bin/env bash
# Make sure a throwaway PostgreSQL server runs on 127.0.0.1 for the store tests, and print
# its DSN on stdout (the only line on stdout).  Idempotent: installs Debian's postgresql
# package only when its binaries are missing, creates the cluster only once, starts it only
# when it is not running.  Trust authentication on loopback: this cluster is for tests.
#
#   export PCOS_TEST_PG_DSN="$(scripts/ensure-postgres.sh)"
#
# Settings (environment): PCOS_PG_DIR (default /tmp/pcos-lab-pg), PCOS_PG_PORT (55432).
set -euo pipefail
DIR="${PCOS_PG_DIR:-/tmp/pcos-lab-pg}"
PORT="${PCOS_PG_PORT:-55432}"
DB=pcos_test
log() { echo "ensure-postgres: $*" >&2; }

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(bindir)" ]; then
    log "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi
BIN="$(bindir)"

# initdb and postgres refuse to run as root: use the postgres account then.
if [ "$(id -u)" = 0 ]; then
    RUN=(runuser -u postgres --)
    OWNER=postgres
else
    RUN=()
    OWNER="$(id -un)"
fi

if [ ! -s "$DIR/data/PG_VERSION" ]; then
    log "creating a cluster in $DIR/data"
    mkdir -p "$DIR/data"
    chown -R "$OWNER" "$DIR"
    chmod 700 "$DIR/data"
    "${RUN[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --no-locale >&2
fi

if ! "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PORT"
    "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=on" >&2
fi

if ! "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -Atc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB" >&2
fi
echo "postgresql://postgres@127.0.0.1:$PORT/$DB"
