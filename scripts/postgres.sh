#!/usr/bin/env bash
# A throwaway PostgreSQL for the hub's store tests, on 127.0.0.1:55432 (override with
# L2PAY_PG_PORT). Idempotent: installs Debian's `postgresql` if missing, creates a cluster under
# .tools/pg (gitignored) on first use, starts it if it is not running and creates the database
# l2pay_test. Progress goes to stderr; stdout is one line to eval:
#
#   eval "$(bash scripts/postgres.sh)"    # exports L2PAY_TEST_POSTGRES_URL
#   bash scripts/postgres.sh stop          # stops the cluster (its data stays in .tools/pg)
#
# As root the server runs as the `postgres` system user (PostgreSQL refuses to run as root).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${L2PAY_PG_PORT:-55432}"
USER_NAME=l2pay
PASSWORD=l2pay
DB=l2pay_test
BASE="${L2PAY_PG_DIR:-$ROOT/.tools/pg}"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

find_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

BIN="$(find_bindir || true)"
if [ -z "$BIN" ]; then
    log "installing PostgreSQL (apt-get install postgresql)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y -q postgresql >&2 ||
        { as_root apt-get update -q >&2 && as_root apt-get install -y -q postgresql >&2; } ||
        die "could not install the postgresql package"
    BIN="$(find_bindir)" || die "postgresql installed but no initdb found under /usr/lib/postgresql"
fi

export PGPASSWORD="$PASSWORD" PGCONNECT_TIMEOUT=5
psql_() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -v ON_ERROR_STOP=1 -tAq "$@"; }

ensure_db() {
    if [ "$(psql_ -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
        log "creating database $DB"
        psql_ -c "CREATE DATABASE $DB" >&2
    fi
    echo "export L2PAY_TEST_POSTGRES_URL=postgres://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/$DB"
}

# A server already answering on the port with our credentials (this script's, from another
# checkout or an earlier run) is used as it is.
if [ "${1:-}" != stop ] && psql_ -c 'SELECT 1' >/dev/null 2>&1; then
    log "using the server already on 127.0.0.1:$PORT"
    ensure_db
    exit 0
fi

# Who runs the server: ourselves, or `postgres` when we are root.
RUN=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    RUN=(runuser -u postgres --)
fi

# The server user must be able to reach its data directory; if it cannot traverse the path to the
# repository (e.g. a checkout under /root), use a directory under /tmp named after the repository.
mkdir -p "$BASE"
if [ ${#RUN[@]} -gt 0 ]; then
    chown postgres: "$BASE"
    if ! "${RUN[@]}" test -w "$BASE"; then
        BASE="/tmp/l2pay-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
        mkdir -p "$BASE"
        chown postgres: "$BASE"
        chmod 700 "$BASE"
    fi
fi
DATA="$BASE/data"
SOCK="$BASE/run"
LOGFILE="$BASE/server.log"

pg() { "${RUN[@]}" "$@"; }

stop() {
    if [ -f "$DATA/PG_VERSION" ] && pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2 9>&-
    else
        log "not running"
    fi
}

# One run at a time (several shells may call this at once).
exec 9>"$BASE/.lock"
flock 9

if [ "${1:-}" = stop ]; then
    stop
    exit 0
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
    log "creating a cluster in $DATA"
    rm -rf "$DATA"
    pg mkdir -p "$DATA" "$SOCK"
    pwfile="$BASE/.pw"
    printf '%s\n' "$PASSWORD" >"$pwfile"
    [ ${#RUN[@]} -gt 0 ] && chown postgres: "$pwfile"
    pg "$BIN/initdb" -D "$DATA" --username="$USER_NAME" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >&2 ||
        pg "$BIN/initdb" -D "$DATA" --username="$USER_NAME" --pwfile="$pwfile" \
            --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --no-locale >&2
    rm -f "$pwfile"
fi
pg mkdir -p "$SOCK"

if pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    log "already running ($DATA)"
else
    log "starting on 127.0.0.1:$PORT (log: $LOGFILE)"
    [ -e "$LOGFILE" ] || { touch "$LOGFILE"; [ ${#RUN[@]} -eq 0 ] || chown postgres: "$LOGFILE"; }
    pg "$BIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$SOCK -c max_connections=300" \
        start >&2 9>&- || { tail -n 30 "$LOGFILE" >&2; die "the server did not start"; }
fi

for _ in $(seq 1 50); do
    psql_ -c 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.2
done
ensure_db
