# shellcheck shell=bash
# Helpers for gen-all.sh: namespaces, background processes, capture, delay line, TLS clients,
# and the expected-truth JSON. Sourced, not run.

NS_CLI=ssgen-cli
NS_SRV=ssgen-srv
DEV_CLI=ssgen-c0
DEV_SRV=ssgen-s0
CLI4=198.51.100.2
SRV4=203.0.113.1
CLI6=2001:db8::2
SRV6=2001:db8::1
SNI=app.example

PIDS=()        # every background process started in the current scenario
LAST_PID=
FLOWS=()       # expected-truth JSON objects of the current scenario

log() { printf '[gen %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

in_cli() { ip netns exec "$NS_CLI" "$@"; }
in_srv() { ip netns exec "$NS_SRV" "$@"; }

# bg NAME NS CMD...: starts CMD in namespace NS in the background, stdout/stderr in
# $WORK/log/NAME.{out,err}, and records its PID. `ip netns exec` execs the command, so $! is the
# command's own PID (no shell function or subshell in between, which would orphan it on kill).
bg() {
  local name=$1 ns=$2; shift 2
  ip netns exec "$ns" "$@" >"$WORK/log/$name.out" 2>"$WORK/log/$name.err" </dev/null &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  echo "$LAST_PID $name" >>"$WORK/pids"
}

# wait_for FILE REGEX [SECONDS] [PID]: waits until FILE matches REGEX; fails when PID died.
wait_for() {
  local file=$1 re=$2 secs=${3:-10} pid=${4:-} i
  for ((i = 0; i < secs * 20; i++)); do
    if [[ -f $file ]] && grep -qE "$re" "$file"; then return 0; fi
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      die "process $pid exited before '$re' appeared in $file: $(tail -n 3 "$file" "${file%.*}.err" 2>/dev/null | tr '\n' ' ')"
    fi
    sleep 0.05
  done
  die "timed out waiting for '$re' in $file"
}

# stop_pid PID [SIGNAL]: signals one process we started and reaps it (KILL after 3 s).
stop_pid() {
  local pid=$1 sig=${2:-TERM} i
  if ! kill -0 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; return 0; fi
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  return 0
}

stop_all() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  PIDS=()
}

# Kills whatever still runs inside our own namespaces (only processes this script started can be
# there), then deletes the namespaces.
ns_down() {
  local ns pid
  stop_all
  for ns in "$NS_CLI" "$NS_SRV"; do
    if ip netns list | grep -qw "^$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do
        log "left over in $ns: $(ps -o pid=,ppid=,stat=,args= -p "$pid" 2>/dev/null | cut -c1-120)"
        stop_pid "$pid" KILL
      done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

# ns_up: two namespaces joined by a veth pair, IPv4 (two documentation /24s, on-link routes) and
# IPv6 (2001:db8::/64, nodad), offloads off so every segment is MSS-sized and checksummed.
ns_up() {
  ns_down
  ip netns add "$NS_CLI"
  ip netns add "$NS_SRV"
  ip link add "$DEV_CLI" netns "$NS_CLI" type veth peer name "$DEV_SRV" netns "$NS_SRV"
  local ns dev
  for ns in "$NS_CLI" "$NS_SRV"; do
    dev=$DEV_CLI; [[ $ns == "$NS_SRV" ]] && dev=$DEV_SRV
    ip -n "$ns" link set lo up
    ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off >/dev/null 2>&1 ||
      ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_no_metrics_save=1
    ip netns exec "$ns" sysctl -qw net.ipv6.conf."$dev".router_solicitations=0 2>/dev/null || true
    ip -n "$ns" link set "$dev" up
  done
  ip -n "$NS_CLI" addr add "$CLI4/24" dev "$DEV_CLI"
  ip -n "$NS_SRV" addr add "$SRV4/24" dev "$DEV_SRV"
  ip -n "$NS_CLI" route add 203.0.113.0/24 dev "$DEV_CLI"
  ip -n "$NS_SRV" route add 198.51.100.0/24 dev "$DEV_SRV"
  ip -n "$NS_CLI" -6 addr add "$CLI6/64" dev "$DEV_CLI" nodad
  ip -n "$NS_SRV" -6 addr add "$SRV6/64" dev "$DEV_SRV" nodad
}

# capture_start FILE [nano]: tcpdump on the server-side veth, full snaplen, classic pcap.
CAP_PIDS=()
capture_start() {
  local file=$1 prec=()
  [[ ${2:-} == nano ]] && prec=(--time-stamp-precision nano)
  bg "tcpdump-$(basename "$file")" "$NS_SRV" tcpdump -i "$DEV_SRV" -s 0 -U --immediate-mode -n -Z root "${prec[@]}" -w "$file"
  CAP_PIDS+=("$LAST_PID")
  wait_for "$WORK/log/tcpdump-$(basename "$file").err" 'listening on' 10 "$LAST_PID"
}

capture_stop() {
  sleep 0.5 # let the last FIN/ACKs arrive
  local pid
  for pid in "${CAP_PIDS[@]}"; do stop_pid "$pid" TERM; done
  CAP_PIDS=()
}

# wait_listen NS PORT: waits until something listens on TCP PORT in namespace NS.
wait_listen() {
  local ns=$1 port=$2 i
  for ((i = 0; i < 200; i++)); do
    ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && return 0
    sleep 0.05
  done
  die "nothing listens on port $port in $ns"
}

# s_server NAME ACCEPT [args...]: openssl s_server -www in the server namespace.
s_server() {
  local name=$1 accept=$2; shift 2
  bg "$name" "$NS_SRV" openssl s_server -accept "$accept" -cert "$PKI/leaf.pem" -key "$PKI/leaf.key" \
    -www "$@"
  local pid=$LAST_PID
  wait_listen "$NS_SRV" "${accept##*:}"
  kill -0 "$pid" 2>/dev/null || die "s_server $name died: $(cat "$WORK/log/$name.err")"
}

# node_server NAME LISTEN [args...]: the Node HTTPS (h2 + http/1.1) server.
node_server() {
  local name=$1 listen=$2; shift 2
  bg "$name" "$NS_SRV" node "$GEN_DIR/tlsserver.mjs" --listen "$listen" --cert "$PKI/leaf.pem" \
    --key "$PKI/leaf.key" "$@"
  wait_for "$WORK/log/$name.out" 'ready' 10 "$LAST_PID"
}

# nfq FAMILY QUEUE PORT [DIR]: sends the flow of client PORT to QUEUE in the client namespace.
# DIR: both (default: OUTPUT --sport PORT and INPUT --dport PORT), in (INPUT only, i.e. the
# server->client direction; used for the drop rules, which need no delay) or out (OUTPUT only,
# the client->server direction: drops there happen before the server-side capture point).
nfq() {
  local fam=$1 q=$2 port=$3 dir=${4:-both} ipt=iptables
  [[ $fam == 6 ]] && ipt=ip6tables
  case $dir in
    both)
      in_cli "$ipt" -A OUTPUT -p tcp --sport "$port" -j NFQUEUE --queue-num "$q"
      in_cli "$ipt" -A INPUT -p tcp --dport "$port" -j NFQUEUE --queue-num "$q" ;;
    in)
      in_cli "$ipt" -A INPUT -p tcp --dport "$port" -j NFQUEUE --queue-num "$q" ;;
    out)
      in_cli "$ipt" -A OUTPUT -p tcp --sport "$port" -j NFQUEUE --queue-num "$q" ;;
    *) die "nfq: bad direction $dir" ;;
  esac
}

# delayline NAME QUEUE [delayline args...]: starts the delay line in the client namespace.
delayline() {
  local name=$1 q=$2; shift 2
  bg "$name" "$NS_CLI" "$DELAYLINE" --queue "$q" "$@"
  wait_for "$WORK/log/$name.err" 'ready' 10 "$LAST_PID"
}

# relay NAME NS ARGS...: starts relay.mjs in a namespace and waits until it listens.
relay() {
  local name=$1 ns=$2; shift 2
  bg "$name" "$ns" node "$GEN_DIR/relay.mjs" "$@"
  wait_for "$WORK/log/$name.out" 'ready' 10 "$LAST_PID"
}

# tls_client NAME CONNECT BIND [s_client args...]: one openssl s_client connection from the
# client namespace with a pinned source address/port (BIND "-": none, for relayed flows); sends "GET / HTTP/1.0" after the
# handshake and reads until the server (s_server -www) closes.
tls_client() {
  local name=$1 connect=$2 bind=$3 b=(); shift 3
  [[ $bind != - ]] && b=(-bind "$bind")
  if ! printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 ip netns exec "$NS_CLI" openssl s_client \
      -connect "$connect" "${b[@]}" -servername "$SNI" -CAfile "$PKI/ca.pem" -ign_eof "$@" \
      >"$WORK/log/$name.out" 2>"$WORK/log/$name.err"; then
    die "s_client $name failed: $(tail -n 3 "$WORK/log/$name.err" | tr '\n' ' ')"
  fi
  grep -qE 'HTTP/1\.[01] 200' "$WORK/log/$name.out" || die "s_client $name: no HTTP response"
}

# curl_client NAME URL_HOSTPORT LOCALPORT [curl args...]: curl from the client namespace with a
# pinned source port; SNI/Host is $SNI, resolved to the given address.
curl_client() {
  local name=$1 addr=$2 port=$3 lport=$4; shift 4
  timeout 20 ip netns exec "$NS_CLI" curl -sS -o "$WORK/log/$name.body" --local-port "$lport" \
    --resolve "$SNI:$port:$addr" --cacert "$PKI/ca.pem" "$@" "https://$SNI:$port/" \
    >"$WORK/log/$name.out" 2>"$WORK/log/$name.err" ||
    die "curl $name failed: $(tail -n 3 "$WORK/log/$name.err" | tr '\n' ' ')"
}

# json_str S: S as a JSON string.
json_str() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# flow key=value...: appends one expected flow. Keys: client server tls kind ms verdict hrr
# resumed slow rs (retransmits_server_min) rc (retransmits_client_min) cwnd sni detail
# alpn (alpn_selected: the server's choice as visible on the wire, i.e. in a TLS 1.2 ServerHello;
# empty = null) offer (alpn_offered: the client's list, comma-separated; empty = null)
# min (phase lower bounds, e.g. "client_think:270,loss:180") chseg (client_hello_segments_min)
# ccert (client_cert: the client sent a certificate) cfseg (client_flight_segments_min: the client's
# second flight spans at least that many segments) fallback (finished_fallback: no client record has
# a Finished's length, the analyzer must fall back and say so) tfo (the record says tfo: the
# ClientHello rode in the SYN, TCP Fast Open) tfo_refused (the server did not accept the SYN's data).
flow() {
  local -A f=([kind]=none [ms]=0 [hrr]=false [resumed]=false [slow]=false [rs]=0 [rc]=0
    [cwnd]=false [verdict]= [sni]=$SNI [alpn]= [offer]= [detail]= [min]= [chseg]= [ccert]= [cfseg]= [fallback]= [tfo]= [tfo_refused]=)
  local kv
  for kv in "$@"; do f[${kv%%=*}]=${kv#*=}; done
  local inj expect mins="" p
  inj="{ \"kind\": $(json_str "${f[kind]}"), \"ms\": ${f[ms]}"
  [[ -n ${f[detail]} ]] && inj+=", \"detail\": $(json_str "${f[detail]}")"
  inj+=" }"
  expect="{ "
  [[ -n ${f[verdict]} ]] && expect+="\"verdict\": \"${f[verdict]}\", "
  expect+="\"hrr\": ${f[hrr]}, \"resumed\": ${f[resumed]}, \"slow\": ${f[slow]}, "
  expect+="\"retransmits_server_min\": ${f[rs]}, \"retransmits_client_min\": ${f[rc]}, "
  expect+="\"cwnd_stall\": ${f[cwnd]}"
  [[ -n ${f[chseg]} ]] && expect+=", \"client_hello_segments_min\": ${f[chseg]}"
  [[ -n ${f[ccert]} ]] && expect+=", \"client_cert\": ${f[ccert]}"
  [[ -n ${f[cfseg]} ]] && expect+=", \"client_flight_segments_min\": ${f[cfseg]}"
  [[ -n ${f[fallback]} ]] && expect+=", \"finished_fallback\": ${f[fallback]}"
  [[ -n ${f[tfo]} ]] && expect+=", \"tfo\": ${f[tfo]}"
  [[ -n ${f[tfo_refused]} ]] && expect+=", \"tfo_refused\": ${f[tfo_refused]}"
  if [[ -n ${f[min]} ]]; then
    local IFS=,
    for p in ${f[min]}; do mins+="${mins:+, }\"${p%%:*}\": ${p#*:}"; done
    expect+=", \"phase_min_ms\": { $mins }"
  fi
  expect+=" }"
  local alpn=null offer=null
  [[ -n ${f[alpn]} ]] && alpn=$(json_str "${f[alpn]}")
  if [[ -n ${f[offer]} ]]; then
    local IFS=, o=()
    for p in ${f[offer]}; do o+=("$(json_str "$p")"); done
    IFS=' '
    offer="[${o[*]}]"
    offer=${offer// /, }
  fi
  FLOWS+=("    { \"client\": $(json_str "${f[client]}"), \"server\": $(json_str "${f[server]}"), \"tls_version\": $(json_str "${f[tls]}"), \"sni\": $(json_str "${f[sni]}"),
      \"alpn_offered\": $offer, \"alpn_selected\": $alpn,
      \"injected\": $inj,
      \"expect\": $expect }")
}

# write_expected SCENARIO CAPTURE_REL DESCRIPTION: writes $WORK/expected/SCENARIO.json (copied
# to captures/expected/ once the capture passed its check).
write_expected() {
  local scen=$1 cap=$2 desc=$3 out="$WORK/expected/$1.json" i
  {
    printf '{\n  "scenario": %s,\n  "capture": %s,\n  "description": %s,\n  "flows": [\n' \
      "$(json_str "$scen")" "$(json_str "$cap")" "$(json_str "$desc")"
    for ((i = 0; i < ${#FLOWS[@]}; i++)); do
      printf '%s' "${FLOWS[i]}"
      ((i + 1 < ${#FLOWS[@]})) && printf ','
      printf '\n'
    done
    printf '  ]\n}\n'
  } >"$out"
}
