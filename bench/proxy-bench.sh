#!/usr/bin/env bash
# First proxy rows: nginx, Envoy 1.40 and `meshctl proxy`, one worker each, proxying plain HTTP/1.1 to the same
# nginx upstream on 127.0.0.1; wrk -t1 -c32 (requests/s) and -c1 (p50 latency), one run each.
# Usage: bench/proxy-bench.sh MESHCTL [ENVOY] (ENVOY defaults to what scripts/envoy.sh finds or installs).
# Stops only the processes it started, by PID.
set -euo pipefail
MESHCTL=$1
ENVOY=${2:-$("$(dirname "$0")/../scripts/envoy.sh")}
SECONDS_PER_RUN=${PROXY_BENCH_SECONDS:-5}
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(port) NGINX=$(port) MESH=$(port) ENV=$(port)
cat >"$DIR/upstream.conf" <<CONF
worker_processes 1; daemon off; pid $DIR/upstream.pid; error_log $DIR/upstream-error.log;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$UP; keepalive_requests 1000000; location / { return 200 "hello from upstream\n"; } } }
CONF
cat >"$DIR/proxy.conf" <<CONF
worker_processes 1; daemon off; pid $DIR/proxy.pid; error_log $DIR/proxy-error.log;
events { worker_connections 4096; }
http { access_log off; upstream app { server 127.0.0.1:$UP; keepalive 64; }
  server { listen 127.0.0.1:$NGINX; keepalive_requests 1000000;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
bootstrap() {
  cat <<CONF
admin: {address: {socket_address: {address: 127.0.0.1, port_value: $2}}}
static_resources:
  listeners:
  - name: l
    address: {socket_address: {address: 127.0.0.1, port_value: $1}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: l
          route_config: {virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: app}}]}]}
          http_filters:
          - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
  clusters:
  - name: app
    connect_timeout: 1s
    load_assignment: {cluster_name: app, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $UP}}}}]}]}
CONF
}
bootstrap "$MESH" "$(port)" >"$DIR/meshctl.yaml"
bootstrap "$ENV" "$(port)" >"$DIR/envoy.yaml"
nginx -c "$DIR/upstream.conf" -p "$DIR" & PIDS+=($!)
nginx -c "$DIR/proxy.conf" -p "$DIR" & PIDS+=($!)
"$MESHCTL" proxy -c "$DIR/meshctl.yaml" --concurrency 1 --log-level error & PIDS+=($!)
MESH_PID=$!
TARGETS="nginx:$NGINX meshctl:$MESH"
if [ -n "$ENVOY" ]; then
  "$ENVOY" -c "$DIR/envoy.yaml" --concurrency 1 --disable-hot-restart --log-level error 2>/dev/null & PIDS+=($!)
  TARGETS="$TARGETS envoy:$ENV"
else
  echo "no envoy binary: its row is left out"
fi
for pair in $TARGETS; do
  for _ in $(seq 100); do curl -sf "127.0.0.1:${pair##*:}/" >/dev/null && break; sleep 0.1; done
done
printf '%-8s %12s %12s\n' proxy "rps(-c32)" "p50(-c1)"
for pair in $TARGETS; do
  name=${pair%%:*} p=${pair##*:}
  rps=$(wrk -t1 -c32 -d"${SECONDS_PER_RUN}s" "http://127.0.0.1:$p/" | awk '/Requests\/sec/ {print $2}')
  p50=$(wrk -t1 -c1 -d"${SECONDS_PER_RUN}s" --latency "http://127.0.0.1:$p/" | awk '/ 50%/ {print $2}')
  printf '%-8s %12s %12s\n' "$name" "$rps" "$p50"
done
printf 'meshctl RSS after the runs: %s\n' "$(awk '/VmRSS/ {print $2, $3}' /proc/$MESH_PID/status)"
