#!/usr/bin/env bash
# Runs the bundled playbook example: six echo backends on 127.0.0.1:9101-9106 and archway serving
# examples/playbook with its port-80 listener on 127.0.0.1:8080 (admin on 127.0.0.1:9901).
# Stop it with Ctrl-C or `kill PID` (this script's pid): both stop the backends and archway.
# Try it from another terminal:
#   curl -H "Host: frontend.example.com" localhost:8080/
#   curl -H "Host: api.example.com" localhost:8080/api/x             # api-v1 90%, api-v2 10%
#   curl -H "Host: app.example.com" -H "X-Canary: true" localhost:8080/   # app-green
#   curl -H "Host: app.example.com" localhost:8080/                  # app-blue
#   curl -H "Host: backend.example.com" localhost:8080/              # cross-namespace, via ReferenceGrant
#   curl -u demo:demo -H "Host: admin.example.com" localhost:8080/   # BasicAuth (401 without -u)
#   curl localhost:9901/metrics
# `examples/run.sh rollout` also serves examples/rollout: a Rollout walks api-v2 from 10% to 100% by
# itself (progress kept in $TMPDIR/archway-example-state). Give it traffic, watch, then break api-v2:
#   while :; do curl -s -o /dev/null -H "Host: api.example.com" localhost:8080/api/x; sleep 0.05; done &
#   archway rollout status                             # or the dashboard: localhost:9901/dashboard
#   curl -X POST localhost:9103/__echo/fail/500        # api-v2 answers 500: rolled back within 10 s
#   curl -X POST localhost:9103/__echo/heal; archway rollout resume apps/api   # start it again
set -euo pipefail
cd "$(dirname "$0")/.."
# ARCHWAY_BIN runs a binary built elsewhere (the tests use the debug build) and skips the build.
bin=${ARCHWAY_BIN:-.build/release/archway}
# Build only when the binary is missing or older than a source file.
if [ -z "${ARCHWAY_BIN:-}" ] && { [ ! -x "$bin" ] || [ -n "$(find Sources Package.swift -newer "$bin" -print -quit)" ]; }; then
  swift build -c release --product archway
fi
pids=()
stop() {
  trap - EXIT INT TERM
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
"$bin" echo frontend-service=127.0.0.1:9101 api-v1=127.0.0.1:9102 api-v2=127.0.0.1:9103 \
  app-blue=127.0.0.1:9104 app-green=127.0.0.1:9105 backend-service=127.0.0.1:9106 &
pids+=($!)
extra=()
if [ "${1:-}" = rollout ]; then
  extra=(--config examples/rollout --state-dir "${TMPDIR:-/tmp}/archway-example-state")
fi
"$bin" serve --config examples/playbook "${extra[@]}" --port-map 80=127.0.0.1:8080 --admin 127.0.0.1:9901 &
pids+=($!)
# Either one ending (a port already taken, say) ends the example; `wait` lets the traps run at once.
wait -n
