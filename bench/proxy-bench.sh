#!/usr/bin/env bash
# The proxy's rows of `make bench`: nginx, Envoy 1.40 and `meshctl proxy`, one worker each, in front of the same nginx
# upstream on 127.0.0.1, as one table with meshctl's ratio to each. Every measurement runs PROXY_BENCH_RUNS times
# (default 3) in turns (nginx, envoy, meshctl, nginx, ...), so the machine's noise falls on all three alike; the table
# shows medians. Rows:
#   HTTP/1.1 requests/s          wrk -t1 -c32, PROXY_BENCH_SECONDS (default 5) per run
#   added p50 at -c1             wrk -t1 -c1 --latency: the proxy's p50 minus the upstream's own p50
#   RSS after load               VmRSS after the runs (nginx: its worker process)
#   start to first proxied 200   from exec to the first 200 through the proxy (a poller in one process, 1 ms steps);
#                                for meshctl also meshctl-proxy run directly (`meshctl proxy` execs it when beside)
#   h2c requests/s               h2load -c32 -m10 -n PROXY_BENCH_H2_REQUESTS (default 50000) with prior knowledge to an
#                                HTTP/2 listener (nginx `listen ... http2`, Envoy's and meshctl's codec_type AUTO),
#                                HTTP/1.1 to the upstream
#   mTLS requests/s              two proxies of a kind: a plain listener, then mTLS (SPIFFE URI SANs, P-256) to the
#                                second proxy, which forwards to the upstream; wrk -t1 -c32 on the first
#   soak                         wrk -t1 -c32 for PROXY_BENCH_SOAK_SECONDS (default 20): requests/s, errors (socket
#                                errors and non-2xx), RSS and open descriptors at its start and its end
# MESHCTL_BENCH_ONLY=soak runs only the soak, 60 s per proxy unless PROXY_BENCH_SOAK_SECONDS says otherwise;
# MESHCTL_BENCH_ONLY=start runs only the start rows, PROXY_BENCH_RUNS times (default 11 then);
# MESHCTL_BENCH_ONLY=rps runs only the HTTP/1.1 rows (requests/s at -c32, added p50 at -c1, RSS).
# Usage: bench/proxy-bench.sh MESHCTL [ENVOY] (ENVOY defaults to what scripts/envoy.sh finds or installs; without one
# its column says "-"). Stops only the processes it started, by PID.
set -euo pipefail
MESHCTL=$1
# The proxy's own binary beside meshctl (`meshctl proxy` execs it): its start is one more row.
LEAN=$(dirname "$MESHCTL")/meshctl-proxy
ENVOY=${2:-$("$(dirname "$0")/../scripts/envoy.sh" || true)}
SECONDS_PER_RUN=${PROXY_BENCH_SECONDS:-5}
H2_REQUESTS=${PROXY_BENCH_H2_REQUESTS:-50000}
ONLY=${MESHCTL_BENCH_ONLY:-}
if [ "$ONLY" = start ]; then RUNS=${PROXY_BENCH_RUNS:-11}; else RUNS=${PROXY_BENCH_RUNS:-3}; fi
if [ "$ONLY" = soak ]; then SOAK=${PROXY_BENCH_SOAK_SECONDS:-60}; else SOAK=${PROXY_BENCH_SOAK_SECONDS:-20}; fi
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KINDS="nginx meshctl"
if [ -n "$ENVOY" ] && [ -x "$ENVOY" ]; then KINDS="nginx envoy meshctl"; else ENVOY=""; echo "no envoy binary: its column says -"; fi

# --- configurations -------------------------------------------------------------------------------------------
UP=$(port)
cat >"$DIR/upstream.conf" <<CONF
worker_processes 1; daemon off; pid $DIR/upstream.pid; error_log $DIR/upstream-error.log;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$UP; keepalive_requests 1000000; location / { return 200 "hello from upstream\n"; } } }
CONF

# nginx_proxy NAME PORT TARGET_PORT [tls-client|tls-server|h2c]
nginx_proxy() {
  local upstream_tls="" listen_tls="" scheme=http
  if [ "${4:-}" = h2c ]; then listen_tls="http2"; fi
  if [ "${4:-}" = tls-client ]; then
    scheme=https
    upstream_tls="proxy_ssl_certificate $DIR/front.crt; proxy_ssl_certificate_key $DIR/front.key; proxy_ssl_trusted_certificate $DIR/ca.crt;
      proxy_ssl_verify on; proxy_ssl_name back.bench; proxy_ssl_server_name on; proxy_ssl_session_reuse on;"
  fi
  if [ "${4:-}" = tls-server ]; then
    listen_tls="ssl; ssl_certificate $DIR/back.crt; ssl_certificate_key $DIR/back.key; ssl_client_certificate $DIR/ca.crt; ssl_verify_client on"
  fi
  cat <<CONF
worker_processes 1; daemon off; pid $DIR/$1.pid; error_log $DIR/$1-error.log;
events { worker_connections 4096; }
http { access_log off; upstream app { server 127.0.0.1:$3; keepalive 64; }
  server { listen 127.0.0.1:$2 $listen_tls; keepalive_requests 1000000;
    location / { proxy_pass $scheme://app; proxy_http_version 1.1; proxy_set_header Connection ""; $upstream_tls } } }
CONF
}

# envoy_bootstrap PORT ADMIN TARGET_PORT [tls-client|tls-server|h2c]: the same file runs in Envoy and meshctl.
envoy_bootstrap() {
  local listener_tls="" cluster_tls="" codec=""
  if [ "${4:-}" = h2c ]; then codec="
          codec_type: AUTO"; fi
  if [ "${4:-}" = tls-server ]; then
    listener_tls="
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            tls_certificates: [{certificate_chain: {filename: $DIR/back.crt}, private_key: {filename: $DIR/back.key}}]
            validation_context:
              trusted_ca: {filename: $DIR/ca.crt}
              match_typed_subject_alt_names: [{san_type: URI, matcher: {prefix: \"spiffe://cluster.local/\"}}]"
  fi
  if [ "${4:-}" = tls-client ]; then
    cluster_tls="
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: back.bench
        common_tls_context:
          tls_certificates: [{certificate_chain: {filename: $DIR/front.crt}, private_key: {filename: $DIR/front.key}}]
          validation_context:
            trusted_ca: {filename: $DIR/ca.crt}
            match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: \"spiffe://cluster.local/ns/bench/sa/back\"}}]"
  fi
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
          stat_prefix: l$codec
          route_config: {virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: app}}]}]}
          http_filters:
          - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}$listener_tls
  clusters:
  - name: app
    connect_timeout: 1s
    load_assignment: {cluster_name: app, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $3}}}}]}]}$cluster_tls
CONF
}

# A CA and two P-256 workload certificates with SPIFFE URI SANs, for the mTLS rows.
certificates() {
  (cd "$DIR"
   openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
   openssl req -x509 -new -key ca.key -subj /O=bench/CN=bench-ca -days 2 -out ca.crt 2>/dev/null
   for who in front back; do
     openssl ecparam -name prime256v1 -genkey -noout -out $who.key 2>/dev/null
     openssl req -new -key $who.key -subj /O=bench -out $who.csr 2>/dev/null
     printf 'subjectAltName=URI:spiffe://cluster.local/ns/bench/sa/%s,DNS:%s.bench\nextendedKeyUsage=serverAuth,clientAuth\n' $who $who >$who.ext
     openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile $who.ext -out $who.crt 2>/dev/null
   done)
}

# proxy_command KIND NAME PORT TARGET_PORT [tls-client|tls-server]: writes the proxy's configuration and prints the
# command that runs it, one argument a line.
proxy_command() {
  local kind=$1 name=$2 p=$3 target=$4 mode=${5:-}
  case $kind in
    nginx) nginx_proxy "$name" "$p" "$target" "$mode" >"$DIR/$name.conf"
           printf '%s\n' nginx -c "$DIR/$name.conf" -p "$DIR" ;;
    envoy) envoy_bootstrap "$p" "$(port)" "$target" "$mode" >"$DIR/$name.yaml"
           printf '%s\n' "$ENVOY" -c "$DIR/$name.yaml" --concurrency 1 --disable-hot-restart --log-level error --base-id $((RANDOM + 100)) ;;
    meshctl) envoy_bootstrap "$p" "$(port)" "$target" "$mode" >"$DIR/$name.yaml"
             printf '%s\n' "$MESHCTL" proxy -c "$DIR/$name.yaml" --concurrency 1 --log-level error ;;
    lean) envoy_bootstrap "$p" "$(port)" "$target" "$mode" >"$DIR/$name.yaml"
          printf '%s\n' "$LEAN" proxy -c "$DIR/$name.yaml" --concurrency 1 --log-level error ;;
  esac
}

# start KIND NAME PORT TARGET_PORT [MODE]: starts one proxy in the background; prints its PID.
start() {
  local args
  mapfile -t args < <(proxy_command "$@")
  "${args[@]}" >/dev/null 2>&1 </dev/null &
  echo $!
}

wait_ready() { for _ in $(seq 300); do curl -sf -o /dev/null "127.0.0.1:$1/" && return 0; sleep 0.05; done; echo "127.0.0.1:$1 never answered" >&2; return 1; }

# The process doing the work: nginx's worker (the only child of its master), else the process itself.
worker() { local child; child=$(pgrep -P "$1" | head -1 || true); echo "${child:-$1}"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# wrk output -> requests/s, p50 in microseconds, errors.
rps() { awk '/Requests\/sec/ {print $2}'; }
p50_us() { awk '/ 50%/ { v=$2; if (v ~ /us$/) {sub(/us$/,"",v); print v} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else {sub(/s$/,"",v); print v*1000000} }'; }
errors() { awk '/Socket errors/ {gsub(/,/,""); n+=$4+$6+$8+$10} /Non-2xx/ {n+=$NF} END {print n+0}'; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

declare -A RESULT
record() { RESULT["$1|$2"]=$3; }

# Start to first proxied 200, in ms: a poller execs the proxy, then connects and asks every millisecond.
startup_ms() {
  local p
  p=$(port)
  proxy_command "$1" "startup-$1-$RANDOM" "$p" "$UP" | python3 -c '
import socket, subprocess, sys, time
port = int(sys.argv[1])
args = sys.stdin.read().splitlines()
t0 = time.monotonic_ns()
proxy = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
result = "-"
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        if s.recv(64).startswith(b"HTTP/1.1 200"):
            result = "%.1f" % ((time.monotonic_ns() - t0) / 1e6)
            break
    except OSError:
        pass
    time.sleep(0.001)
proxy.terminate()
proxy.wait()
print(result)
' "$p"
}

nginx -c "$DIR/upstream.conf" -p "$DIR" >/dev/null 2>&1 </dev/null & PIDS+=($!)
wait_ready "$UP"

declare -A PORT PID
if [ -z "$ONLY" ] || [ "$ONLY" = rps ]; then
  # --- plain HTTP/1.1 ------------------------------------------------------------------------------------------
  for kind in $KINDS; do
    PORT[$kind]=$(port)
    PID[$kind]=$(start "$kind" "plain-$kind" "${PORT[$kind]}" "$UP"); PIDS+=("${PID[$kind]}")
  done
  for kind in $KINDS; do wait_ready "${PORT[$kind]}"; done
  for kind in $KINDS; do wrk -t1 -c32 -d1s "http://127.0.0.1:${PORT[$kind]}/" >/dev/null; done  # warm-up
  declare -A RPS P50
  UPSTREAM_P50=""
  for _ in $(seq "$RUNS"); do
    UPSTREAM_P50="$UPSTREAM_P50 $(wrk -t1 -c1 -d"${SECONDS_PER_RUN}s" --latency "http://127.0.0.1:$UP/" | p50_us)"
    for kind in $KINDS; do
      RPS[$kind]="${RPS[$kind]:-} $(wrk -t1 -c32 -d"${SECONDS_PER_RUN}s" "http://127.0.0.1:${PORT[$kind]}/" | rps)"
      P50[$kind]="${P50[$kind]:-} $(wrk -t1 -c1 -d"${SECONDS_PER_RUN}s" --latency "http://127.0.0.1:${PORT[$kind]}/" | p50_us)"
    done
  done
  up50=$(echo "$UPSTREAM_P50" | tr ' ' '\n' | grep . | median)
  for kind in $KINDS; do
    record rps "$kind" "$(echo "${RPS[$kind]}" | tr ' ' '\n' | grep . | median)"
    record p50 "$kind" "$(echo "${P50[$kind]}" | tr ' ' '\n' | grep . | median | awk -v u="$up50" '{printf "%.0f", $1 - u}')"
    record rss "$kind" "$(rss_kib "$(worker "${PID[$kind]}")" | awk '{printf "%.1f", $1/1024}')"
  done
  for kind in $KINDS; do kill "${PID[$kind]}" 2>/dev/null || true; wait "${PID[$kind]}" 2>/dev/null || true; done
fi

if [ -z "$ONLY" ] || [ "$ONLY" = start ]; then
  # --- start to first proxied 200 ------------------------------------------------------------------------------
  declare -A START
  for _ in $(seq "$RUNS"); do
    for kind in $KINDS; do START[$kind]="${START[$kind]:-} $(startup_ms "$kind")"; done
  done
  for kind in $KINDS; do record start "$kind" "$(echo "${START[$kind]}" | tr ' ' '\n' | grep -v '^-$' | grep . | median)"; done
  # meshctl-proxy run by itself: `meshctl proxy` execs it, so the row above adds meshctl's own start to this one.
  if [ -x "$LEAN" ]; then
    LEAN_START=""
    for _ in $(seq "$RUNS"); do LEAN_START="$LEAN_START $(startup_ms lean)"; done
    record start_lean meshctl "$(echo "$LEAN_START" | tr ' ' '\n' | grep -v '^-$' | grep . | median)"
  fi
fi

if [ -z "$ONLY" ]; then
  # --- h2c: HTTP/2 with prior knowledge to the proxy, HTTP/1.1 to the upstream ------------------------------------
  declare -A H2PORT H2PID H2
  for kind in $KINDS; do
    H2PORT[$kind]=$(port)
    H2PID[$kind]=$(start "$kind" "h2c-$kind" "${H2PORT[$kind]}" "$UP" h2c); PIDS+=("${H2PID[$kind]}")
  done
  for kind in $KINDS; do
    for _ in $(seq 300); do curl -sf --http2-prior-knowledge -o /dev/null "127.0.0.1:${H2PORT[$kind]}/" && break; sleep 0.05; done
    h2load -c32 -m10 -n 5000 "http://127.0.0.1:${H2PORT[$kind]}/" >/dev/null 2>&1 || true  # warm-up
  done
  for _ in $(seq "$RUNS"); do
    for kind in $KINDS; do
      H2[$kind]="${H2[$kind]:-} $(h2load -c32 -m10 -n "$H2_REQUESTS" "http://127.0.0.1:${H2PORT[$kind]}/" 2>/dev/null \
        | awk '/^finished in/ {r=$4} /^requests:/ {failed=$(NF-5)+0; errored=$(NF-3)+0} END {if (r != "" && failed+errored == 0) print r; else print "-"}')"
    done
  done
  for kind in $KINDS; do
    record h2 "$kind" "$(echo "${H2[$kind]}" | tr ' ' '\n' | grep -v '^-$' | grep . | median)"
    kill "${H2PID[$kind]}" 2>/dev/null || true; wait "${H2PID[$kind]}" 2>/dev/null || true
  done

  # --- mTLS between two proxies of a kind ----------------------------------------------------------------------
  certificates
  declare -A FRONT BACKPID FRONTPID TLS
  for kind in $KINDS; do
    back=$(port); FRONT[$kind]=$(port)
    BACKPID[$kind]=$(start "$kind" "back-$kind" "$back" "$UP" tls-server); PIDS+=("${BACKPID[$kind]}")
    FRONTPID[$kind]=$(start "$kind" "front-$kind" "${FRONT[$kind]}" "$back" tls-client); PIDS+=("${FRONTPID[$kind]}")
  done
  for kind in $KINDS; do wait_ready "${FRONT[$kind]}"; done
  for kind in $KINDS; do wrk -t1 -c32 -d1s "http://127.0.0.1:${FRONT[$kind]}/" >/dev/null; done
  for _ in $(seq "$RUNS"); do
    for kind in $KINDS; do TLS[$kind]="${TLS[$kind]:-} $(wrk -t1 -c32 -d"${SECONDS_PER_RUN}s" "http://127.0.0.1:${FRONT[$kind]}/" | rps)"; done
  done
  for kind in $KINDS; do
    record tls "$kind" "$(echo "${TLS[$kind]}" | tr ' ' '\n' | grep . | median)"
    for p in "${FRONTPID[$kind]}" "${BACKPID[$kind]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  done
fi

# --- soak ------------------------------------------------------------------------------------------------------
for kind in $KINDS; do
  if [ "$ONLY" = start ] || [ "$ONLY" = rps ]; then break; fi
  p=$(port)
  pid=$(start "$kind" "soak-$kind" "$p" "$UP"); PIDS+=("$pid")
  wait_ready "$p"
  wrk -t1 -c32 -d2s "http://127.0.0.1:$p/" >/dev/null
  w=$(worker "$pid")
  rss0=$(rss_kib "$w"); fd0=$(fds "$w")
  out=$(wrk -t1 -c32 -d"${SOAK}s" "http://127.0.0.1:$p/")
  # The clients' connections close as wrk exits: give the proxy up to 3 s to see them go before counting.
  for _ in $(seq 30); do [ "$(fds "$w")" -le "$fd0" ] && break; sleep 0.1; done
  rss1=$(rss_kib "$w"); fd1=$(fds "$w")
  record soak_rps "$kind" "$(echo "$out" | rps)"
  record soak_errors "$kind" "$(echo "$out" | errors)"
  record soak_rss "$kind" "$(awk -v a="$rss0" -v b="$rss1" 'BEGIN {printf "%.1f>%.1f", a/1024, b/1024}')"
  record soak_fds "$kind" "$fd0>$fd1"
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
done

# --- the table -------------------------------------------------------------------------------------------------
ratio() {  # meshctl's value over another's (numbers only)
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a/b; else print "-" }'
}
row() {  # LABEL KEY
  local n=${RESULT["$2|nginx"]:--} e=${RESULT["$2|envoy"]:--} m=${RESULT["$2|meshctl"]:--}
  printf '%-44s %12s %12s %12s %9s %9s\n' "$1" "$n" "$e" "$m" "$(ratio "$m" "$n")" "$(ratio "$m" "$e")"
}
echo
echo "proxy rows: one worker each, medians of $RUNS runs in turns, ${SECONDS_PER_RUN}s each; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %12s %12s %12s %9s %9s\n' row nginx envoy meshctl "m/nginx" "m/envoy"
if [ -z "$ONLY" ] || [ "$ONLY" = rps ]; then
  row "HTTP/1.1 requests/s (wrk -c32, higher=better)" rps
  row "added p50 at -c1, us (lower=better)" p50
  row "RSS after the runs, MiB (nginx: worker)" rss
fi
if [ -z "$ONLY" ] || [ "$ONLY" = start ]; then
  row "start to first proxied 200, ms" start
  if [ -x "$LEAN" ]; then row "  meshctl-proxy run directly, ms" start_lean; fi
fi
if [ -z "$ONLY" ]; then
  row "h2c requests/s (h2load -c32 -m10)" h2
  row "mTLS between two proxies, requests/s (-c32)" tls
fi
if [ "$ONLY" != start ] && [ "$ONLY" != rps ]; then
  row "soak ${SOAK}s: requests/s (-c32)" soak_rps
  row "soak ${SOAK}s: errors (socket + non-2xx)" soak_errors
  row "soak ${SOAK}s: RSS MiB, start>end" soak_rss
  row "soak ${SOAK}s: open descriptors, start>end" soak_fds
fi
