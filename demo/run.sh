#!/usr/bin/env bash
# The quick start: install what is missing, build teleport, start two
# throwaway PostgreSQL clusters (a source and a target) on Unix sockets in a
# temporary directory, write the seed's two config files for them, start the
# two teleport instances, run a short pgbench workload on the source, and
# show that the target matches it, table by table. Everything it starts is
# stopped and removed on exit.
#
# The target starts with only its empty schema "test": pgbench's tables are
# created on the source once teleport runs, and reach the target by schema
# replication (the schema-diff source); every row arrives through teleport.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
pg_bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

"$top/demo/deps.sh"

cd "$top"
[ -x ./configure ] || autoreconf -fi
# configure's exit trap tries "rm -f core" and complains about our core/
[ -f Makefile ] || ./configure -q 2> >(grep -v "cannot remove 'core'" >&2)
make -j"$(nproc)" >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/teleport-demo.XXXXXX")
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$work"
  as_pg=(runuser -u postgres --)
fi

started=()
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for d in "${started[@]}"; do
    "${as_pg[@]}" "$pg_bindir/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# start_cluster NAME PORT: initdb and start a cluster listening on the socket only
start_cluster() {
  local dir="$work/$1"
  "${as_pg[@]}" "$pg_bindir/initdb" -D "$dir" -A trust -U postgres --no-sync >/dev/null
  "${as_pg[@]}" "$pg_bindir/pg_ctl" -D "$dir" -l "$work/postgres-$1.log" -w \
    -o "-k $work -c listen_addresses='' -p $2 -c fsync=off" start >/dev/null
  started+=("$dir")
}

start_cluster source 55432
start_cluster target 55433
src=(-h "$work" -p 55432 -U postgres -d postgres)
tgt=(-h "$work" -p 55433 -U postgres -d postgres)
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# the seed's two config files, pointing at the two clusters
cat > "$work/source_config.yml" <<YAML
batch_size: 10000
max_events_per_batch: 10000
use_event_triggers: false
processing_intervals:
  batcher: 100
  transmitter: 100
  applier: 100
  vacuum: 500
  ddlwatcher: 1000
database:
  name: "finops-db"
  database: "postgres"
  hostname: "$work"
  username: "postgres"
  port: 55432
server:
  hostname: "127.0.0.1"
  port: 55470
targets:
  my-target:
    target_expression: "public.*"
    endpoint:
      hostname: "127.0.0.1"
      port: 55471
    apply_schema: "test"
YAML

cat > "$work/target_config.yml" <<YAML
batch_size: 10000
max_events_per_batch: 10000
processing_intervals:
  batcher: 100
  transmitter: 100
  applier: 100
  vacuum: 500
  ddlwatcher: 5000
database:
  name: "my-target"
  database: "postgres"
  hostname: "$work"
  username: "postgres"
  port: 55433
server:
  hostname: "127.0.0.1"
  port: 55471
YAML

echo "== the target's schema test, empty"
pgbench=$pg_bindir/pgbench
psql_q "${tgt[@]}" -c "CREATE SCHEMA test"

echo "== teleport -config target_config.yml; teleport -config source_config.yml"
./teleport -config "$work/target_config.yml" --plugin-dir "$top/plugins" 2> "$work/target.log" &
pids+=($!)
./teleport -config "$work/source_config.yml" --plugin-dir "$top/plugins" 2> "$work/source.log" &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q "took the first snapshot" "$work/source.log" && break
  sleep 0.2
done

echo "== pgbench tables created on the source (replicated by teleport)"
"$pgbench" -q -i -I dtp "${src[@]}" 2>/dev/null
psql_q "${src[@]}" -c "ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY"
for _ in $(seq 1 100); do
  n=$(psql -XAt "${src[@]}" -c "SELECT count(*) FROM pg_trigger WHERE tgname = 'teleport_capture'")
  [ "$n" = 4 ] && break
  sleep 0.2
done
[ "$n" = 4 ] || { echo "capture did not start; source log:"; cat "$work/source.log"; exit 1; }

echo "== workload on the source: pgbench data (scale 1), then 10 s of tpcb-like with 4 clients"
"$pgbench" -q -i -I g "${src[@]}" 2>/dev/null
"$pgbench" -n -c 4 -j 2 -T 10 "${src[@]}" 2>/dev/null | grep -E "^(tps|number of transactions actually)"
psql_q "${src[@]}" -c "UPDATE pgbench_branches SET filler = 'done' WHERE bid = 1"

echo "== waiting for the target to catch up"
for _ in $(seq 1 300); do
  f=$(psql -XAt "${tgt[@]}" -c "SELECT filler FROM test.pgbench_branches WHERE bid = 1" 2>/dev/null || true)
  [ "${f%% *}" = done ] && break
  sleep 0.2
done

echo "== source public.* against target test.*: rows and an order-independent checksum"
ok=true
for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history; do
  q="SELECT count(*) || ' ' || md5(coalesce(string_agg(md5(x::text), '' ORDER BY md5(x::text)), '')) FROM"
  a=$(psql -XAt "${src[@]}" -c "$q public.$t x")
  b=$(psql -XAt "${tgt[@]}" -c "$q test.$t x")
  if [ "$a" = "$b" ]; then mark=same; else mark=DIFFERENT; ok=false; fi
  printf '  %-18s source %-45s target %-45s %s\n' "$t" "$a" "$b" "$mark"
done
if $ok; then
  echo "demo finished: the target matches the source"
else
  echo "demo failed: the target differs; logs:"; tail -20 "$work/source.log" "$work/target.log"; exit 1
fi
