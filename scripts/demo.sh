#!/usr/bin/env bash
# `make demo`: the sandbox ERP and the API together, on the embedded default (SQLite and DuckDB
# files under the workdir). Generates the sample master, loads it into the sandbox ERP, trains
# the resolver from the ERP, creates demo keys and a portal approver, prints what to try, then
# serves until Ctrl-C, which stops both servers.
set -euo pipefail

BIN=${BIN:-.venv/bin}
WORKDIR=${WORKDIR:-var}
SAMPLE_DIR=${SAMPLE_DIR:-$WORKDIR/sample}
ERP_PORT=${ERP_PORT:-8100}
PORT=${PORT:-8000}
API=http://127.0.0.1:$PORT
ERP=http://127.0.0.1:$ERP_PORT
APPROVER=ana
APPROVER_PASSWORD=${APPROVER_PASSWORD:-demo-approver-pass}
RESOLVER=rita
RESOLVER_PASSWORD=${RESOLVER_PASSWORD:-demo-resolver-pass}
PLATFORM=platform
PLATFORM_PASSWORD=${PLATFORM_PASSWORD:-demo-platform-pass}
# The sandbox ERP's demo credentials, which canon train and canon serve log in with.
export CANON_ERP_USERNAME=canon CANON_ERP_PASSWORD=sandbox
# Workflows poll the store for work every few seconds by default: sooner, for the demo.
export CANON_WORKFLOW_SWEEP_SECONDS=${CANON_WORKFLOW_SWEEP_SECONDS:-1}

pids=()
stop() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  echo "demo: stopped" >&2
}
trap stop EXIT
trap 'exit 130' INT TERM

say() { printf '\ndemo: %s\n' "$*" >&2; }

wait_for() {  # URL NAME PID: until the URL answers 200, or the process died
  for _ in $(seq 1 240); do
    if ! kill -0 "$3" 2>/dev/null; then
      echo "demo: $2 did not start (see above)" >&2
      exit 1
    fi
    if curl -sf -o /dev/null "$1"; then return 0; fi
    sleep 0.5
  done
  echo "demo: $2 did not answer at $1" >&2
  exit 1
}

command -v curl >/dev/null || { echo "demo: needs curl" >&2; exit 1; }
mkdir -p "$WORKDIR"

if [[ ! -f $SAMPLE_DIR/data/SA2010.csv ]]; then
  say "generating the sample master in $SAMPLE_DIR"
  "$BIN/canon" sample --out "$SAMPLE_DIR" --suppliers 2000 --seed 7
fi

say "starting the sandbox ERP on $ERP with the sample master"
"$BIN/canon" sandbox-erp --port "$ERP_PORT" --data "$SAMPLE_DIR/data" \
  --database "$WORKDIR/sandbox-erp.sqlite" --reset &
pids+=($!)
wait_for "$ERP/_sandbox/health" "the sandbox ERP" "${pids[-1]}"

say "training the resolver from the ERP (Protheus REST)"
"$BIN/canon" train --source erp --erp-kind protheus --erp-url "$ERP" --workdir "$WORKDIR" \
  --data "$WORKDIR/erp-extracts"

say "measuring the master's quality for the dashboard"
"$BIN/canon" quality --workdir "$WORKDIR"

say "creating demo keys in $WORKDIR (demo-agent.key, demo-admin.key)"
"$BIN/canon" keys create --workdir "$WORKDIR" --name demo-agent --role agent \
  --scopes 'resolve,actions:*' > "$WORKDIR/demo-agent.key"
"$BIN/canon" keys create --workdir "$WORKDIR" --name demo-admin --role admin \
  > "$WORKDIR/demo-admin.key"

say "starting the API on $API (ERP: protheus at $ERP)"
"$BIN/canon" serve --workdir "$WORKDIR" --host 127.0.0.1 --port "$PORT" \
  --erp-kind protheus --erp-url "$ERP" --sync &
pids+=($!)
wait_for "$API/healthz" "canon serve" "${pids[-1]}"

add_portal_user() {  # USERNAME PASSWORD ROLE [RESOLVER: true|false]
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/v1/admin/portal-users" \
    -H "Authorization: Bearer $(cat "$WORKDIR/demo-admin.key")" -H 'Content-Type: application/json' \
    -d "{\"username\": \"$1\", \"password\": \"$2\", \"role\": \"$3\", \"resolver\": ${4:-false}}")
  case $status in
    201) ;;
    4??) echo "demo: portal user $1 already exists (HTTP $status)" >&2 ;;
    *) echo "demo: could not add the portal user $1 (HTTP $status)" >&2; exit 1 ;;
  esac
}
add_portal_user "$APPROVER" "$APPROVER_PASSWORD" approver
# Settles halted resolutions (an approver holding the `resolver` scope).
add_portal_user "$RESOLVER" "$RESOLVER_PASSWORD" approver true
# The quality dashboard is for platform teams: a portal admin (or a steward/admin key).
add_portal_user "$PLATFORM" "$PLATFORM_PASSWORD" admin

PY="$BIN/python -c"
# A supplier query of the sample the model should match: its record (as JSON) and expected id.
{ read -r KNOWN; read -r KNOWN_ID; } < <("$BIN/python" - "$SAMPLE_DIR" <<'PYEOF'
import json, sys
with open(f"{sys.argv[1]}/expected.jsonl", encoding="utf-8") as fh:
    wanted = next(e for e in map(json.loads, fh) if e["kind"] == "clean_name_taxid")
with open(f"{sys.argv[1]}/queries.jsonl", encoding="utf-8") as fh:
    query = next(q for q in map(json.loads, fh) if q["id"] == wanted["id"])
print(json.dumps(query["record"], ensure_ascii=False).replace("'", ""))
print(wanted["canonical_ids"][0])
PYEOF
)
cat <<EOF

Canon is running: API $API (OpenAPI at $API/docs), sandbox ERP $ERP. Ctrl-C stops both.
Try, in another terminal from $(pwd):

  AGENT=\$(cat $WORKDIR/demo-agent.key)
  # 1. resolve a supplier the ERP does not have: no_match, with a token to create it
  TOKEN=\$(curl -s -H "Authorization: Bearer \$AGENT" -H 'Content-Type: application/json' \\
    -d '{"entity_type": "supplier", "record": {"name": "Zebulon Quantum Robotics Ltda", "tax_id": "11.222.333/0001-81"}}' \\
    $API/v1/resolve | $PY 'import json,sys; r=json.load(sys.stdin); print(r["resolution_token"]); print(r["decision"], file=sys.stderr)')
  # 2. propose creating it: high risk, so it waits for an approver
  ACTION=\$(curl -s -H "Authorization: Bearer \$AGENT" -H 'Content-Type: application/json' \\
    -d '{"action": "supplier.create", "target": {"resolution_token": "'\$TOKEN'"}, "params": {"name": "Zebulon Quantum Robotics Ltda", "tax_id": "11.222.333/0001-81", "city": "Campinas", "document": "dms://suppliers/zebulon.pdf"}, "context": {"reason": "new supplier of robot arms"}, "idempotency_key": "demo-'\$RANDOM'"}' \\
    $API/v1/actions | $PY 'import json,sys; a=json.load(sys.stdin); print(a["id"]); print(a["status"], file=sys.stderr)')
  # 3. approve it in the portal: $API/portal (user $APPROVER, password $APPROVER_PASSWORD),
  #    or over the API with a key that may decide (here the demo's admin key):
  ADMIN=\$(cat $WORKDIR/demo-admin.key)
  APPROVAL=\$(curl -s -H "Authorization: Bearer \$ADMIN" $API/v1/actions/\$ACTION | $PY 'import json,sys; print(json.load(sys.stdin)["approval"]["id"])')
  curl -s -H "Authorization: Bearer \$ADMIN" -H 'Content-Type: application/json' \\
    -d '{"decision": "approve", "comment": "known vendor"}' $API/v1/approvals/\$APPROVAL/decision
  # 4. watch it run in the ERP: the action ends succeeded, the supplier is in SA2010
  curl -s -H "Authorization: Bearer \$AGENT" "$API/v1/actions/\$ACTION?wait=30"
  curl -s "$ERP/_sandbox/rows/SA2010?field=A2_CGC=11222333000181"
  # 5. run 1-4 again: the resolve now answers match with the new supplier (Canon applied its own
  #    write to the index), and a second supplier.create is refused (duplicate-in-erp)
  # how current the index is: its age, the watermark per entity type, the sync's lag and errors
  curl -s $API/readyz

  # a halt settled by a person: README "Human resolution of halts" (portal user $RESOLVER,
  # password $RESOLVER_PASSWORD; halts on the dashboard at $API/dashboard/halts)

  # master-data quality: $API/dashboard (sign in to the portal as $PLATFORM, password $PLATFORM_PASSWORD)

  # resolve a supplier the ERP has: a match, with its canonical id ($KNOWN_ID)
  curl -s -H "Authorization: Bearer \$AGENT" -H 'Content-Type: application/json' \\
    -d '{"entity_type": "supplier", "record": $KNOWN}' $API/v1/resolve

EOF

wait -n "${pids[@]}"
echo "demo: a server stopped; stopping the other" >&2
exit 1
