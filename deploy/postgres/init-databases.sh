#!/bin/bash
# PostgreSQL for the compose stack: at the first start (an empty data volume) create the cluster and, for each
# service in IPLOS_DATABASES (default: gateway tpf registry), a role and a database of that name owned by it, the
# role's password read from $IPLOS_PASSWORD_DIR/<service>-password. Then (and at every later start) run the
# server in the foreground as the container's main process.
#
# Connections from the network need a password (scram-sha-256); inside the container the server's own user
# connects over the Unix socket (peer). Nothing here prints a password.
set -euo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
: "${IPLOS_DATABASES:=gateway tpf registry}"
: "${IPLOS_PASSWORD_DIR:=/run/iplos}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "iplos-postgres: first start, creating the cluster in $PGDATA"
    for name in $IPLOS_DATABASES; do
        if [ ! -r "$IPLOS_PASSWORD_DIR/$name-password" ]; then
            echo "iplos-postgres: $IPLOS_PASSWORD_DIR/$name-password is missing or unreadable" >&2
            exit 1
        fi
    done
    initdb --pgdata="$PGDATA" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 >/dev/null
    {
        echo "# Added by iplos-postgres: the services connect over the network, each with its role's password."
        echo "host all all 0.0.0.0/0 scram-sha-256"
        echo "host all all ::/0 scram-sha-256"
    } >>"$PGDATA/pg_hba.conf"
    # No TCP listener while the roles are made: a service waiting for its database sees it only when it is whole.
    pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait --silent start
    for name in $IPLOS_DATABASES; do
        # psql reads the password file itself and quotes it (:'password'): it is never on a command line.
        psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 --username=postgres --dbname=postgres \
            -v name="$name" -v file="$IPLOS_PASSWORD_DIR/$name-password" <<'SQL'
\set password `cat :'file'`
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
        echo "iplos-postgres: role and database $name created"
    done
    pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
fi

exec postgres -D "$PGDATA" -c listen_addresses='*'
