#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the database-source tests and print, on stdout, one line:
#   export PIIZONE_TEST_PG_URL=postgresql://piizone:piizone-test@127.0.0.1:54329/prod
# so CI can `eval "$(bash scripts/ci-postgres.sh)"`. Everything else goes to stderr.
#
# Idempotent: an existing data directory is reused, a running server is left running, the role,
# database and the fake `customers` table are created only when missing.
# Uses its own data directory and port (not Debian's 5432 `main` cluster), listens on 127.0.0.1
# only, and accepts TCP logins by SCRAM password only. Run as root (the server then runs as the
# `postgres` user) or as an ordinary user (the server runs as that user).
# The data is sample_data/customers.csv: synthetic, every value fake.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PORT="${PIIZONE_PG_PORT:-54329}"
BASE="${PIIZONE_PG_DIR:-/var/tmp/piizone-ci-pg}"
DATA="$BASE/data"
SOCK="$BASE/sock"
LOG="$BASE/server.log"
DB_USER=piizone
DB_PASSWORD=piizone-test
DB_NAME=prod
CSV="$REPO/sample_data/customers.csv"

log() { echo "ci-postgres: $*" >&2; }
die() { log "error: $*"; exit 1; }

bindir=""
for d in /usr/lib/postgresql/*/bin; do
  # The last match wins: the newest of the installed major versions (two-digit names sort right).
  [ -x "$d/initdb" ] && bindir="$d"
done
[ -n "$bindir" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
[ -r "$CSV" ] || die "$CSV missing"

if [ "$(id -u)" -eq 0 ]; then
  # PostgreSQL refuses to run as root; the Debian package creates the `postgres` user.
  id postgres >/dev/null 2>&1 || die "user 'postgres' missing (is the postgresql package installed?)"
  as_pg() { runuser -u postgres -- "$@"; }
  owner=postgres
else
  as_pg() { "$@"; }
  owner="$(id -un)"
fi

mkdir -p "$BASE"
chown "$owner" "$BASE"
chmod 0700 "$BASE"

if [ ! -s "$DATA/PG_VERSION" ]; then
  log "initdb in $DATA ($bindir)"
  # Local socket: trust, but the socket lives in a 0700 directory, so only the server's OS user
  # can reach it (that is how this script administers the server). TCP: SCRAM passwords only.
  as_pg "$bindir/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
fi
as_pg mkdir -p "$SOCK"
chmod 0700 "$SOCK"

if as_pg "$bindir/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  log "server already running ($DATA)"
else
  log "starting server on 127.0.0.1:$PORT"
  as_pg "$bindir/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start -o \
    "-p $PORT -c listen_addresses=127.0.0.1 -k $SOCK -c unix_socket_permissions=0700 -c password_encryption=scram-sha-256" \
    >/dev/null || { tail -n 20 "$LOG" >&2 || true; die "server did not start (log: $LOG)"; }
fi

psql_admin() { as_pg "$bindir/psql" -h "$SOCK" -p "$PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

psql_admin -d postgres <<SQL
SELECT 'CREATE ROLE $DB_USER LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER')
\gexec
ALTER ROLE $DB_USER WITH LOGIN PASSWORD '$DB_PASSWORD';
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME')
\gexec
SQL

psql_admin -d "$DB_NAME" <<SQL
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS customers (
    customer_id    integer PRIMARY KEY,
    full_name      text,
    email          text,
    phone          text,
    ssn            text,
    date_of_birth  date,
    street_address text,
    plan           text,
    monthly_spend  numeric(10, 2),
    tenure_months  integer,
    churned        boolean,
    notes          text
);
ALTER TABLE customers OWNER TO $DB_USER;
SQL

rows="$(psql_admin -d "$DB_NAME" -At -c 'SELECT count(*) FROM customers')"
if [ "$rows" = "0" ]; then
  # The shell (not the postgres user) opens the CSV, so the repo need not be readable by postgres.
  psql_admin -d "$DB_NAME" -c "COPY customers FROM STDIN WITH (FORMAT csv, HEADER true)" <"$CSV"
  rows="$(psql_admin -d "$DB_NAME" -At -c 'SELECT count(*) FROM customers')"
  log "loaded $rows customers from sample_data/customers.csv"
else
  log "customers table already has $rows rows"
fi

echo "export PIIZONE_TEST_PG_URL=postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$PORT/$DB_NAME"
