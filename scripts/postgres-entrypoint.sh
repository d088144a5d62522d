#!/bin/sh
# Entrypoint of the Debian-built PostgreSQL test image. It honours
# POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB as the official image
# does: initdb as the postgres user, a temporary socket-only server to create
# the database, then exec the real server. Like the official image it logs
# "ready to accept connections" twice, which the testcontainers postgres
# module's wait strategy counts on.
set -eu

if [ "${1:-postgres}" != postgres ]; then
	exec "$@"
fi
[ $# -gt 0 ] && shift

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
	echo "docker-entrypoint: POSTGRES_PASSWORD must be set" >&2
	exit 1
fi

mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"

as_postgres() { su postgres -s /bin/sh -c "$*"; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	chown postgres "$pwfile"
	as_postgres "initdb -D '$PGDATA' -U '$POSTGRES_USER' --pwfile='$pwfile' --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8" >/dev/null
	rm -f "$pwfile"
	printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"

	as_postgres "pg_ctl -D '$PGDATA' -o \"-c listen_addresses='' -k /var/run/postgresql\" -w start"
	if [ "$POSTGRES_DB" != postgres ]; then
		as_postgres "psql -v ON_ERROR_STOP=1 -h /var/run/postgresql -U '$POSTGRES_USER' -d postgres -c 'CREATE DATABASE \"$POSTGRES_DB\"'" >/dev/null
	fi
	as_postgres "pg_ctl -D '$PGDATA' -m fast -w stop"
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" "$@"
