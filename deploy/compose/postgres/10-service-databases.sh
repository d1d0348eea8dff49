#!/usr/bin/env bash
# One database and one login role per service, which cannot connect to any other database: what
# localcluster.postgres provisions on `make up`, for the postgres image's first start (it runs
# /docker-entrypoint-initdb.d/ once, on an empty data folder, as POSTGRES_USER). Safe to run
# again by hand: roles get their password reset, existing databases are kept.
#
#   SERVICE_DATABASES        the services, e.g. "gateway payment webhook ledger settlement"
#   SEPARATE_SCHEMA_OWNERS   those whose schema <name>_owner owns (the ledger): the login role
#                            gets only what the service's runtime_privileges.sql grants, which
#                            `python -m localcluster.release` runs as the owner after migrating
#   <NAME>_DB_PASSWORD, <NAME>_OWNER_DB_PASSWORD   each role's password
set -euo pipefail

psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:?}"
      --dbname "${POSTGRES_DB:-postgres}")

password() {
    local variable="${1^^}_DB_PASSWORD"
    printf '%s' "${!variable:?$variable is not set}"
}

"${psql[@]}" -c "REVOKE CONNECT ON DATABASE postgres FROM PUBLIC"

for service in ${SERVICE_DATABASES:?}; do
    owner="$service"
    if [[ " ${SEPARATE_SCHEMA_OWNERS:-} " == *" $service "* ]]; then
        owner="${service}_owner"
    fi
    for role in $(printf '%s\n' "$service" "$owner" | sort -u); do
        "${psql[@]}" -v role="$role" -v password="$(password "$role")" <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L',
              :'role', :'password') \gexec
SQL
    done
    "${psql[@]}" -v db="$service" -v owner="$owner" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I, %I', :'db', :'db', :'owner') \gexec
\connect :"db"
SELECT format('ALTER SCHEMA public OWNER TO %I', :'owner') \gexec
SQL
done
echo "databases and roles ready: ${SERVICE_DATABASES}"
