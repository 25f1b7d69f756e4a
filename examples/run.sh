#!/usr/bin/env bash
# Runs the bundled playbook example: six echo backends on 127.0.0.1:9101-9106 and archway serving
# examples/playbook with its port-80 listener on 127.0.0.1:8080 (admin on 127.0.0.1:9901).
# Try it from another terminal:
#   curl -H "Host: frontend.example.com" localhost:8080/
#   curl -H "Host: api.example.com" localhost:8080/api/x             # api-v1 90%, api-v2 10%
#   curl -H "Host: app.example.com" -H "X-Canary: true" localhost:8080/   # app-green
#   curl -H "Host: app.example.com" localhost:8080/                  # app-blue
#   curl -H "Host: backend.example.com" localhost:8080/              # cross-namespace, via ReferenceGrant
#   curl -u demo:demo -H "Host: admin.example.com" localhost:8080/   # BasicAuth (401 without -u)
#   curl localhost:9901/metrics
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product archway
bin=.build/release/archway
"$bin" echo frontend-service=127.0.0.1:9101 api-v1=127.0.0.1:9102 api-v2=127.0.0.1:9103 \
  app-blue=127.0.0.1:9104 app-green=127.0.0.1:9105 backend-service=127.0.0.1:9106 &
echo_pid=$!
trap 'kill $echo_pid 2>/dev/null' EXIT
exec_args=(serve --config examples/playbook --port-map 80=127.0.0.1:8080 --admin 127.0.0.1:9901)
"$bin" "${exec_args[@]}"
