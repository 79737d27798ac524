#!/usr/bin/env bash
# Starts Debian's PostgreSQL cluster and creates the a3s test role and database.
# Idempotent; used by .ci/run and by the test helper when no server answers.
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null; then
  echo "postgres.sh: postgresql is not installed (apt-get install postgresql)" >&2
  exit 1
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q .; then
  pg_createcluster "$version" main >/dev/null
fi
read -r cluster_version cluster_name _ <<<"$(pg_lsclusters -h | head -n 1)"
pg_ctlcluster "$cluster_version" "$cluster_name" start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do
  runuser -u postgres -- psql -qAtc "select 1" >/dev/null 2>&1 && break
  sleep 0.5
done
runuser -u postgres -- psql -qAtc "select 1 from pg_roles where rolname='a3s'" | grep -q 1 ||
  runuser -u postgres -- psql -qc "create role a3s login superuser password 'a3s'"
runuser -u postgres -- psql -qAtc "select 1 from pg_database where datname='a3s_test'" | grep -q 1 ||
  runuser -u postgres -- psql -qc "create database a3s_test owner a3s"
echo "postgres://a3s:a3s@127.0.0.1:5432/a3s_test"
