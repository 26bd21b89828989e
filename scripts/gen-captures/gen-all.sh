#!/usr/bin/env bash
# Generates the committed test captures: real TLS handshakes between two network namespaces,
# captured on the server-side veth, with delay/loss/think time injected where a scenario asks.
#
#   sudo bash scripts/gen-captures/gen-all.sh [--keep] [scenario...]
#
# Without scenario names every scenario runs. Output: captures/tls/<scenario>.pcap[ng] and the
# truth file captures/expected/<scenario>.json; each capture is checked with check.mjs (tshark)
# before it replaces the committed one. --keep leaves the work directory (logs, keys, raw
# captures) in /tmp for inspection. See captures/README.md for what each scenario injects.
#
# Needs root, iproute2, iptables (nf_tables or legacy), tcpdump, tshark/editcap, openssl, curl,
# node and scripts/delayline (built here with make). The kernel needs no netem.
set -euo pipefail

GEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$GEN_DIR/../.." && pwd)
OUT=$ROOT/captures
DELAYLINE=$ROOT/scripts/delayline/delayline
# shellcheck source=lib.sh
source "$GEN_DIR/lib.sh"

ALL_SCENARIOS=(fast-tls13 fast-tls12 network-delay client-think server-delay loss-synack
  loss-server-flight hrr small-mss ipv6 resumption interleaved cwnd-stall loss-client mtls
  client-ack-finished tfo offloads)

KEEP=0
SELECTED=()
for a in "$@"; do
  case $a in
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) die "unknown option $a" ;;
    *)
      [[ " ${ALL_SCENARIOS[*]} " == *" $a "* ]] || die "unknown scenario '$a' (known: ${ALL_SCENARIOS[*]})"
      SELECTED+=("$a") ;;
  esac
done
((${#SELECTED[@]})) || SELECTED=("${ALL_SCENARIOS[@]}")

[[ $EUID -eq 0 ]] || die "run as root (network namespaces, iptables, tcpdump)"
for t in ip iptables ip6tables tcpdump tshark editcap openssl curl node ethtool make python3; do
  command -v "$t" >/dev/null || die "missing tool: $t"
done
make -s -C "$ROOT/scripts/delayline"

WORK=$(mktemp -d /tmp/ssgen.XXXXXX)
mkdir -p "$WORK/log" "$WORK/cap" "$WORK/pki" "$WORK/expected" "$OUT/tls" "$OUT/expected"
PKI=$WORK/pki

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  ns_down
  if ((KEEP)) || ((rc != 0)); then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Keys and certificates (fresh for every run; never committed).
make_pki() {
  (
    cd "$PKI"
    local q=(-nodes -days 3650)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "${q[@]}" -keyout ca.key \
      -out ca.pem -subj "/CN=slowshake test root" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr \
      -subj "/CN=$SNI" 2>/dev/null
    printf 'subjectAltName=DNS:%s,DNS:localhost\nbasicConstraints=CA:FALSE\n' "$SNI" >leaf.ext
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 3650 \
      -extfile leaf.ext -out leaf.pem 2>/dev/null
  )
}

# A big chain for cwnd-stall: RSA-4096 root, six RSA-4096 intermediates, an RSA-4096 leaf with
# 331 subjectAltNames. The server sends leaf + intermediates (about 23 KB of certificates).
make_big_chain() {
  (
    cd "$PKI"
    local i prev=bigroot n=6
    openssl req -x509 -newkey rsa:4096 -nodes -days 3650 -keyout bigroot.key -out bigroot.pem \
      -subj "/O=slowshake test/CN=slowshake big-chain root" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >ca.ext
    : >bigchain.pem
    for ((i = 1; i <= n; i++)); do
      openssl req -newkey rsa:4096 -nodes -keyout "int$i.key" -out "int$i.csr" \
        -subj "/C=ZZ/O=slowshake test intermediates/OU=level $i/CN=slowshake intermediate CA $i" 2>/dev/null
      openssl x509 -req -in "int$i.csr" -CA "$prev.pem" -CAkey "$prev.key" -set_serial "$((100 + i))" \
        -days 3650 -extfile ca.ext -out "int$i.pem" 2>/dev/null
      prev=int$i
    done
    for ((i = n; i >= 1; i--)); do cat "int$i.pem" >>bigchain.pem; done
    local sans="DNS:$SNI" j
    for ((j = 1; j <= 330; j++)); do sans+=",DNS:tenant-$j.customer-apps.$SNI"; done
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$sans" >bigleaf.ext
    openssl req -newkey rsa:4096 -nodes -keyout bigleaf.key -out bigleaf.csr -subj "/CN=$SNI" 2>/dev/null
    openssl x509 -req -in bigleaf.csr -CA "$prev.pem" -CAkey "$prev.key" -set_serial 1000 \
      -days 3650 -extfile bigleaf.ext -out bigleaf.pem 2>/dev/null
  )
}

# A huge leaf for offloads: P-256 key, 1300 subjectAltNames (about 50 KB), signed by the big
# chain's root (make_big_chain first), so one server flight carries about 50 KB of certificate.
make_huge_leaf() {
  (
    cd "$PKI"
    local sans="DNS:$SNI" j
    for ((j = 1; j <= 1300; j++)); do sans+=",DNS:tenant-$j.customer-apps.$SNI"; done
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$sans" >hugeleaf.ext
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout hugeleaf.key -out hugeleaf.csr -subj "/CN=$SNI" 2>/dev/null
    openssl x509 -req -in hugeleaf.csr -CA bigroot.pem -CAkey bigroot.key -set_serial 3000 -days 3650 \
      -extfile hugeleaf.ext -out hugeleaf.pem 2>/dev/null
  )
}

# A client chain for mtls: RSA-4096 root, two RSA-4096 intermediates, an RSA-4096 leaf (clientAuth).
# The client sends leaf + intermediates (about 4 KB of certificates) and a 512-byte RSA signature.
make_client_chain() {
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:4096 -nodes -days 3650 -keyout cliroot.key -out cliroot.pem \
      -subj "/O=slowshake test/CN=slowshake client root" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >cca.ext
    local i prev=cliroot
    : >clichain.pem
    for i in 1 2; do
      openssl req -newkey rsa:4096 -nodes -keyout "cliint$i.key" -out "cliint$i.csr" \
        -subj "/O=slowshake test/OU=client level $i/CN=slowshake client intermediate $i" 2>/dev/null
      openssl x509 -req -in "cliint$i.csr" -CA "$prev.pem" -CAkey "$prev.key" -set_serial "$((200 + i))" \
        -days 3650 -extfile cca.ext -out "cliint$i.pem" 2>/dev/null
      prev=cliint$i
    done
    cat cliint2.pem cliint1.pem >clichain.pem
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' >cleaf.ext
    openssl req -newkey rsa:4096 -nodes -keyout client.key -out client.csr -subj "/O=slowshake test/CN=edge client 1" 2>/dev/null
    openssl x509 -req -in client.csr -CA "$prev.pem" -CAkey "$prev.key" -set_serial 2000 -days 3650 \
      -extfile cleaf.ext -out client.pem 2>/dev/null
    cat client.pem clichain.pem >clientfull.pem # curl sends the chain from its --cert file
  )
}

# ---------------------------------------------------------------------------------------------
# Scenarios. Each one starts the capture, the servers and the injectors it needs, runs its flows
# one after another (except interleaved), and records the truth with `flow`. Client ports are
# unique across all scenarios: 40001+ fast-tls13, 40101+ fast-tls12, ... 41201+ cwnd-stall,
# 41301+ loss-client.

A4=$SRV4
C4=$CLI4

sc_fast_tls13() {
  DESC="Baseline TLS 1.3 handshakes (openssl s_server -www on 443; s_client and curl), no faults."
  capture_start "$CAP/fast-tls13.pcap"
  s_server srv "$A4:443"
  tls_client c1 "$A4:443" "$C4:40001" -tls1_3
  flow client="$C4:40001" server="$A4:443" tls=1.3
  sleep 0.2
  tls_client c2 "$A4:443" "$C4:40002" -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
  flow client="$C4:40002" server="$A4:443" tls=1.3
  sleep 0.2
  curl_client c3 "$A4" 443 40003 --tlsv1.3
  flow client="$C4:40003" server="$A4:443" tls=1.3 offer=h2,http/1.1
  capture_stop
}

sc_fast_tls12() {
  DESC="Baseline TLS 1.2 handshakes: s_client -tls1_2 against openssl s_server on 443, curl --tlsv1.2 --tls-max 1.2 with ALPN h2 and http/1.1 against the Node HTTPS server on 8443. No faults."
  capture_start "$CAP/fast-tls12.pcap"
  s_server srv "$A4:443"
  node_server node "$A4:8443"
  tls_client c1 "$A4:443" "$C4:40101" -tls1_2
  flow client="$C4:40101" server="$A4:443" tls=1.2
  sleep 0.2
  tls_client c2 "$A4:443" "$C4:40102" -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305
  flow client="$C4:40102" server="$A4:443" tls=1.2
  sleep 0.2
  curl_client c3 "$A4" 8443 40103 --tlsv1.2 --tls-max 1.2 --http2
  grep -q 'ok 2.0 h2' "$WORK/log/c3.body" || die "curl c3 did not get h2: $(cat "$WORK/log/c3.body")"
  flow client="$C4:40103" server="$A4:8443" tls=1.2 offer=h2,http/1.1 alpn=h2
  sleep 0.2
  curl_client c4 "$A4" 8443 40104 --tlsv1.2 --tls-max 1.2 --http1.1
  grep -q 'ok 1.1 http/1.1' "$WORK/log/c4.body" || die "curl c4 did not get http/1.1: $(cat "$WORK/log/c4.body")"
  flow client="$C4:40104" server="$A4:8443" tls=1.2 offer=http/1.1 alpn=http/1.1
  capture_stop
}

sc_network_delay() {
  DESC="Raised RTT: the delay line holds every packet of flows 40202/40203 100 ms in each direction (RTT +200 ms); 40201 is an undelayed baseline. Server on port 9901."
  capture_start "$CAP/network-delay.pcap"
  capture_start "$CAP/network-delay-ns.pcap" nano
  s_server srv "$A4:9901"
  nfq 4 1 40202; nfq 4 1 40203
  delayline dl 1 --delay-ms 100
  tls_client c1 "$A4:9901" "$C4:40201" -tls1_3
  flow client="$C4:40201" server="$A4:9901" tls=1.3
  sleep 0.2
  tls_client c2 "$A4:9901" "$C4:40202" -tls1_3
  flow client="$C4:40202" server="$A4:9901" tls=1.3 kind=network_delay ms=200 \
    detail="delay line +100 ms each way" verdict=network slow=true min=tcp_rtt:190,flight_rtt:190
  sleep 0.2
  tls_client c3 "$A4:9901" "$C4:40203" -tls1_2
  flow client="$C4:40203" server="$A4:9901" tls=1.2 kind=network_delay ms=200 \
    detail="delay line +100 ms each way" verdict=network slow=true min=tcp_rtt:190,flight_rtt:190
  capture_stop
}

sc_client_think() {
  DESC="Slow client: a relay in the client namespace forwards the ClientHello at once but holds the client's second flight (TLS 1.3 CCS/Finished, TLS 1.2 ClientKeyExchange/CCS/Finished) 300 ms. 40301 is a direct baseline."
  capture_start "$CAP/client-think.pcap"
  s_server srv "$A4:443"
  tls_client c1 "$A4:443" "$C4:40301" -tls1_3
  flow client="$C4:40301" server="$A4:443" tls=1.3
  sleep 0.2
  relay r2 "$NS_CLI" --mode client --listen 127.0.0.1:7002 --connect "$A4:443" --local "$C4:40302" --hold-ms 300 --once
  tls_client c2 127.0.0.1:7002 - -tls1_3
  flow client="$C4:40302" server="$A4:443" tls=1.3 kind=client_think ms=300 \
    detail="client relay holds the client's second flight" verdict=client slow=true min=client_think:285
  sleep 0.2
  relay r3 "$NS_CLI" --mode client --listen 127.0.0.1:7003 --connect "$A4:443" --local "$C4:40303" --hold-ms 300 --once
  tls_client c3 127.0.0.1:7003 - -tls1_2
  flow client="$C4:40303" server="$A4:443" tls=1.2 kind=client_think ms=300 \
    detail="client relay holds the client's second flight" verdict=client slow=true min=client_think:285
  capture_stop
}

sc_server_delay() {
  DESC="Slow server: a relay in the server namespace listens on 203.0.113.1:8443 and holds the real server's first flight 300 ms before forwarding it. 40401 connects straight to the s_server on port 4433 (baseline)."
  capture_start "$CAP/server-delay.pcap"
  s_server srv 4433
  relay r "$NS_SRV" --mode server --listen "$A4:8443" --connect 127.0.0.1:4433 --hold-ms 300
  tls_client c1 "$A4:4433" "$C4:40401" -tls1_3
  flow client="$C4:40401" server="$A4:4433" tls=1.3
  sleep 0.2
  tls_client c2 "$A4:8443" "$C4:40402" -tls1_3
  flow client="$C4:40402" server="$A4:8443" tls=1.3 kind=server_delay ms=300 \
    detail="server relay holds the server's first flight" verdict=server slow=true min=server_hello_delay:285
  sleep 0.2
  tls_client c3 "$A4:8443" "$C4:40403" -tls1_2
  flow client="$C4:40403" server="$A4:8443" tls=1.2 kind=server_delay ms=300 \
    detail="server relay holds the server's first flight" verdict=server slow=true min=server_hello_delay:285
  capture_stop
}

sc_loss_synack() {
  DESC="Lost SYN-ACK: the delay line drops the first SYN-ACK of flow 40502 in the client namespace (after the capture point), so the capture shows SYN, SYN-ACK, then the client's SYN retransmission about 1 s later and the server's SYN-ACK retransmission. 40501 is a baseline."
  capture_start "$CAP/loss-synack.pcap"
  s_server srv "$A4:443"
  nfq 4 2 40502 in
  delayline dl 2 --drop-synack-once
  tls_client c1 "$A4:443" "$C4:40501" -tls1_3
  flow client="$C4:40501" server="$A4:443" tls=1.3
  sleep 0.2
  tls_client c2 "$A4:443" "$C4:40502" -tls1_3
  flow client="$C4:40502" server="$A4:443" tls=1.3 kind=loss ms=1000 \
    detail="first SYN-ACK dropped after the capture point" verdict=loss slow=true rs=1 rc=1 min=loss:900
  capture_stop
}

sc_loss_server_flight() {
  DESC="Lost server flight: the delay line drops the first server data segment (the whole ServerHello flight, one segment) of flows 40602/40603 after the capture point; the server repairs it with a tail-loss probe (a retransmission of that segment) after 2*SRTT + min RTO. The server's route to the client has rto_min 300ms so the repair takes about 300 ms. In 40604 the first retransmission is dropped too (repaired by the RTO, about 600 ms). 40601 is a baseline."
  ip -n "$NS_SRV" route change 198.51.100.0/24 dev "$DEV_SRV" rto_min 300ms
  capture_start "$CAP/loss-server-flight.pcap"
  s_server srv "$A4:443"
  nfq 4 3 40602 in; nfq 4 4 40603 in; nfq 4 5 40604 in
  delayline dl3 3 --drop-first-data-from-port 443
  delayline dl4 4 --drop-first-data-from-port 443
  delayline dl5 5 --drop-first-data-from-port 443 --drop-repeats 1
  tls_client c1 "$A4:443" "$C4:40601" -tls1_3
  flow client="$C4:40601" server="$A4:443" tls=1.3
  sleep 0.2
  tls_client c2 "$A4:443" "$C4:40602" -tls1_3
  flow client="$C4:40602" server="$A4:443" tls=1.3 kind=loss ms=300 \
    detail="first server data segment (ServerHello flight) dropped after the capture point" \
    verdict=loss slow=true rs=1 min=loss:290
  sleep 0.2
  tls_client c3 "$A4:443" "$C4:40603" -tls1_2
  flow client="$C4:40603" server="$A4:443" tls=1.2 kind=loss ms=300 \
    detail="first server data segment (ServerHello flight) dropped after the capture point" \
    verdict=loss slow=true rs=1 min=loss:290
  sleep 0.2
  tls_client c4 "$A4:443" "$C4:40604" -tls1_3
  flow client="$C4:40604" server="$A4:443" tls=1.3 kind=loss ms=600 \
    detail="first server data segment and its first retransmission dropped after the capture point" \
    verdict=loss slow=true rs=2 min=loss:580
  capture_stop
}

sc_hrr() {
  DESC="TLS 1.3 HelloRetryRequest: s_server -groups P-384, client offers X25519:P-384 with an X25519 key share only, so the server asks for P-384. 40702 offers P-384 directly (no HRR). 40703 is an HRR flow with the delay line adding 100 ms each way."
  capture_start "$CAP/hrr.pcap"
  s_server srv "$A4:443" -groups P-384
  nfq 4 6 40703
  delayline dl 6 --delay-ms 100
  tls_client c1 "$A4:443" "$C4:40701" -tls1_3 -groups X25519:P-384
  flow client="$C4:40701" server="$A4:443" tls=1.3 hrr=true
  sleep 0.2
  tls_client c2 "$A4:443" "$C4:40702" -tls1_3 -groups P-384
  flow client="$C4:40702" server="$A4:443" tls=1.3
  sleep 0.2
  tls_client c3 "$A4:443" "$C4:40703" -tls1_3 -groups X25519:P-384
  flow client="$C4:40703" server="$A4:443" tls=1.3 hrr=true kind=network_delay ms=200 \
    detail="delay line +100 ms each way" verdict=network slow=true min=tcp_rtt:190,hrr_rtt:190,flight_rtt:190
  capture_stop
}

# A long ALPN offer (about 900 bytes) makes the ClientHello big.
long_alpn() {
  local i s=""
  for ((i = 1; i <= 40; i++)); do s+="${s:+,}x-slowshake-padding-protocol-$i"; done
  printf '%s,http/1.1' "$s"
}

sc_small_mss() {
  DESC="Small MSS: the server namespace's route to the client has advmss 300, so the server's SYN-ACK announces MSS 300 and the client's ~1.2 KB ClientHello (long ALPN offer) spans several segments. No delay."
  ip -n "$NS_SRV" route change 198.51.100.0/24 dev "$DEV_SRV" advmss 300
  capture_start "$CAP/small-mss.pcap"
  s_server srv "$A4:443"
  local alpn
  alpn=$(long_alpn)
  tls_client c1 "$A4:443" "$C4:40801" -tls1_3 -alpn "$alpn"
  flow client="$C4:40801" server="$A4:443" tls=1.3 chseg=4 offer="$alpn"
  sleep 0.2
  tls_client c2 "$A4:443" "$C4:40802" -tls1_2 -alpn "$alpn"
  flow client="$C4:40802" server="$A4:443" tls=1.2 chseg=4 offer="$alpn"
  capture_stop
}

sc_ipv6() {
  DESC="IPv6 only (2001:db8::2 -> [2001:db8::1]:443), classic pcap with nanosecond timestamps. 40903 has the delay line adding 100 ms each way (ip6tables NFQUEUE)."
  capture_start "$CAP/ipv6.pcap" nano
  s_server srv "[$SRV6]:443"
  nfq 6 7 40903
  delayline dl 7 --delay-ms 100
  tls_client c1 "[$SRV6]:443" "[$CLI6]:40901" -tls1_3
  flow client="[$CLI6]:40901" server="[$SRV6]:443" tls=1.3
  sleep 0.2
  curl_client c2 "$SRV6" 443 40902 --tlsv1.2 --tls-max 1.2
  flow client="[$CLI6]:40902" server="[$SRV6]:443" tls=1.2 offer=h2,http/1.1
  sleep 0.2
  tls_client c3 "[$SRV6]:443" "[$CLI6]:40903" -tls1_3
  flow client="[$CLI6]:40903" server="[$SRV6]:443" tls=1.3 kind=network_delay ms=200 \
    detail="delay line +100 ms each way" verdict=network slow=true min=tcp_rtt:190,flight_rtt:190
  capture_stop
}

sc_resumption() {
  DESC="Session resumption against one s_server process: TLS 1.3 full handshake (s_client -sess_out) then PSK resumption (-sess_in); TLS 1.2 full handshake then session-ticket resumption."
  capture_start "$CAP/resumption.pcap"
  s_server srv "$A4:443"
  tls_client c1 "$A4:443" "$C4:41001" -tls1_3 -sess_out "$WORK/s13.pem"
  flow client="$C4:41001" server="$A4:443" tls=1.3
  sleep 0.2
  tls_client c2 "$A4:443" "$C4:41002" -tls1_3 -sess_in "$WORK/s13.pem"
  grep -q '^Reused' "$WORK/log/c2.out" || die "TLS 1.3 session was not resumed"
  flow client="$C4:41002" server="$A4:443" tls=1.3 resumed=true
  sleep 0.2
  tls_client c3 "$A4:443" "$C4:41003" -tls1_2 -sess_out "$WORK/s12.pem"
  flow client="$C4:41003" server="$A4:443" tls=1.2
  sleep 0.2
  tls_client c4 "$A4:443" "$C4:41004" -tls1_2 -sess_in "$WORK/s12.pem"
  grep -q '^Reused' "$WORK/log/c4.out" || die "TLS 1.2 session was not resumed"
  flow client="$C4:41004" server="$A4:443" tls=1.2 resumed=true
  capture_stop
}

sc_interleaved() {
  DESC="Six handshakes started within about 100 ms of each other against the Node HTTPS server (concurrent) on 443 and a server-side relay on 4443, each with its own fault, overlapping in time."
  capture_start "$CAP/interleaved.pcap"
  node_server node "$A4:443"
  relay rs "$NS_SRV" --mode server --listen "$A4:4443" --connect "$A4:443" --hold-ms 350
  relay rc "$NS_CLI" --mode client --listen 127.0.0.1:7102 --connect "$A4:443" --local "$C4:41102" --hold-ms 400 --once
  nfq 4 8 41101
  delayline dl8 8 --delay-ms 150
  nfq 4 9 41106 in
  delayline dl9 9 --drop-synack-once
  local pids=() p
  (tls_client c1 "$A4:443" "$C4:41101" -tls1_3) & pids+=($!)
  sleep 0.02
  (tls_client c2 127.0.0.1:7102 - -tls1_3) & pids+=($!)
  sleep 0.02
  (tls_client c3 "$A4:4443" "$C4:41103" -tls1_2) & pids+=($!)
  sleep 0.02
  (curl_client c4 "$A4" 443 41104 --tlsv1.2 --tls-max 1.2 --http2) & pids+=($!)
  sleep 0.02
  (curl_client c5 "$A4" 443 41105 --tlsv1.3) & pids+=($!)
  sleep 0.02
  (tls_client c6 "$A4:443" "$C4:41106" -tls1_3) & pids+=($!)
  for p in "${pids[@]}"; do wait "$p" || die "an interleaved client failed (see $WORK/log)"; done
  flow client="$C4:41101" server="$A4:443" tls=1.3 kind=network_delay ms=300 \
    detail="delay line +150 ms each way" verdict=network slow=true min=tcp_rtt:285,flight_rtt:285
  flow client="$C4:41102" server="$A4:443" tls=1.3 kind=client_think ms=400 \
    detail="client relay holds the client's second flight" verdict=client slow=true min=client_think:380
  flow client="$C4:41103" server="$A4:4443" tls=1.2 kind=server_delay ms=350 \
    detail="server relay holds the server's first flight" verdict=server slow=true min=server_hello_delay:330
  flow client="$C4:41104" server="$A4:443" tls=1.2 offer=h2,http/1.1 alpn=h2
  # h2 is negotiated, but TLS 1.3 carries the server's choice in EncryptedExtensions (encrypted).
  flow client="$C4:41105" server="$A4:443" tls=1.3 offer=h2,http/1.1
  flow client="$C4:41106" server="$A4:443" tls=1.3 kind=loss ms=1000 \
    detail="first SYN-ACK dropped after the capture point" verdict=loss slow=true rs=1 rc=1 min=loss:900
  capture_stop
}

sc_cwnd_stall() {
  DESC="Congestion-window stall: s_server sends a ~23 KB certificate chain (RSA-4096 leaf with 331 SANs + 6 RSA-4096 intermediates, 16 full segments); the server's IPv4 route to the client has initcwnd 1 and the delay line adds 50 ms each way, so the server flight goes out in slow-start rounds (1, 4, 8, rest of the segments), each waiting one RTT for the client's ACKs. The waits are charged to the network (cwnd_stall), so the verdict is network. 41202 is the same server over IPv6 with initcwnd 40 (the whole flight at once) and 30 ms each way."
  ip -n "$NS_SRV" route change 198.51.100.0/24 dev "$DEV_SRV" initcwnd 1
  ip -n "$NS_SRV" -6 route change 2001:db8::/64 dev "$DEV_SRV" proto kernel metric 256 initcwnd 40
  capture_start "$CAP/cwnd-stall.pcap"
  bg srv "$NS_SRV" openssl s_server -accept 443 -cert "$PKI/bigleaf.pem" -key "$PKI/bigleaf.key" \
    -cert_chain "$PKI/bigchain.pem" -www
  wait_listen "$NS_SRV" 443
  nfq 4 10 41201
  delayline dl10 10 --delay-ms 50
  nfq 6 11 41202
  delayline dl11 11 --delay-ms 30
  tls_client c1 "$A4:443" "$C4:41201" -tls1_3
  flow client="$C4:41201" server="$A4:443" tls=1.3 kind=cwnd_stall ms=300 cwnd=true \
    detail="initcwnd 1, 23 KB certificate chain, +50 ms each way: three ~100 ms waits for ACKs inside the server flight" \
    verdict=network slow=true min=cwnd_stall:180
  sleep 0.2
  tls_client c2 "[$SRV6]:443" "[$CLI6]:41202" -tls1_3
  flow client="[$CLI6]:41202" server="[$SRV6]:443" tls=1.3 kind=network_delay ms=60 \
    detail="initcwnd 40, 23 KB certificate chain, +30 ms each way: no stall" verdict=network slow=false
  capture_stop
}

sc_loss_client() {
  DESC="Lost client segments, before the capture point: the delay line sits on the client namespace's OUTPUT chain (client -> server only) and drops one client data segment of flows 41302/41303 before it reaches the wire, so the server-side capture never sees the original, only the client's retransmission. The client's route to the server has rto_min 300ms, so the repair (a tail-loss probe, 2*SRTT + min RTO, with one segment outstanding) takes about 330 ms (300 ms plus timer slack). 41302 (TLS 1.3): the ClientHello is dropped. 41303 (TLS 1.2): the client's second flight (ClientKeyExchange/CCS/Finished, one segment) is dropped. Nothing in the capture is flagged as a retransmission; the loss shows as a one-ID gap in the client's IPv4 ID sequence. 41301 is a baseline."
  ip -n "$NS_CLI" route change 203.0.113.0/24 dev "$DEV_CLI" rto_min 300ms
  capture_start "$CAP/loss-client.pcap"
  s_server srv "$A4:443"
  nfq 4 12 41302 out; nfq 4 13 41303 out
  delayline dl12 12 --drop-first-data-from-port 41302
  delayline dl13 13 --drop-first-data-from-port 41303 --data-nth 2
  tls_client c1 "$A4:443" "$C4:41301" -tls1_3
  flow client="$C4:41301" server="$A4:443" tls=1.3
  sleep 0.2
  tls_client c2 "$A4:443" "$C4:41302" -tls1_3
  log "client TCP counters after 41302: $(in_cli nstat -asz TcpExtTCPLossProbes TcpRetransSegs TcpExtTCPTimeouts | awk 'NR > 1 { printf "%s=%s ", $1, $2 }')"
  flow client="$C4:41302" server="$A4:443" tls=1.3 kind=client_loss ms=330 \
    detail="ClientHello (the client's first data segment) dropped before the capture point; only its tail-loss-probe retransmission (~330 ms later) is captured" \
    verdict=loss slow=true rc=0 min=loss:260
  sleep 0.2
  tls_client c3 "$A4:443" "$C4:41303" -tls1_2
  log "client TCP counters after 41303: $(in_cli nstat -asz TcpExtTCPLossProbes TcpRetransSegs TcpExtTCPTimeouts | awk 'NR > 1 { printf "%s=%s ", $1, $2 }')"
  flow client="$C4:41303" server="$A4:443" tls=1.2 kind=client_loss ms=330 \
    detail="client's second flight (ClientKeyExchange/CCS/Finished, its second data segment) dropped before the capture point; only its tail-loss-probe retransmission (~330 ms later) is captured" \
    verdict=loss slow=true rc=0 min=loss:260
  capture_stop
}

sc_mtls() {
  DESC="Mutual TLS: s_server -Verify (client certificate required, verified against the client root) with its key log written beside the capture (tls/mtls.keys: tshark decrypts the Finished); s_client sends an RSA-4096 leaf + two RSA-4096 intermediates (about 4 KB) and a 512-byte CertificateVerify. 41401 (1.3) and 41402 (1.2) fast; 41403 (1.3) through the client relay holding the client's second flight 300 ms (client); 41409 (1.3) with s_client -record_padding 512, so no record has a Finished's length (the analyzer's fallback: the last client record before the server's next data); 41410 (1.3) and 41411 (1.2) curl --cert with the same leaf and intermediates; 41417 (1.3, h2) and 41418 (1.2, http/1.1) the same curl against the Node server (tlsserver.mjs --client-ca: requestCert, rejectUnauthorized) on 8443. 41414 (1.2) through the client relay holding the second flight 300 ms (client); 41415 (1.3) and 41416 (1.2) with the delay line adding 100 ms each way at MSS 1460 (network): the client's CertificateVerify and Finished leave one round trip after its Certificate, when the server's ACK of the Certificate's last short segment arrives (Nagle; s_client does not set TCP_NODELAY), so client_flight_xfer is about 100 ms. 41412 (1.3) and 41413 (1.2): a second s_server on 4443 asks for a certificate without requiring one (-verify) and s_client has none (empty Certificate): client_cert false. Then the server's route gets advmss 300, so the client's flight spans about 17 segments: 41404 (1.3, TLS_AES_256_GCM_SHA384: 69-byte Finished record), 41408 (1.3, TLS_AES_128_GCM_SHA256: 53 bytes) and 41405 (1.2) fast; 41406 (1.3) and 41407 (1.2) with the delay line adding 100 ms each way: the client's TCP sends its flight about two segments per 100 ms (client_flight_xfer about 800 ms, network; the server's flight and finish are fast). In every flow OpenSSL's client writes its Certificate before signing the CertificateVerify, so client_flight_xfer also holds a few ms of the client's RSA-4096 signature."
  capture_start "$CAP/mtls.pcap"
  s_server srv "$A4:443" -Verify 3 -verifyCAfile "$PKI/cliroot.pem" -verify_return_error -keylogfile "$CAP/mtls.keys"
  local cc=(-cert "$PKI/client.pem" -key "$PKI/client.key" -cert_chain "$PKI/clichain.pem")
  tls_client c1 "$A4:443" "$C4:41401" -tls1_3 "${cc[@]}"
  flow client="$C4:41401" server="$A4:443" tls=1.3 ccert=true
  sleep 0.2
  tls_client c2 "$A4:443" "$C4:41402" -tls1_2 "${cc[@]}"
  flow client="$C4:41402" server="$A4:443" tls=1.2 ccert=true
  sleep 0.2
  relay r3 "$NS_CLI" --mode client --listen 127.0.0.1:7403 --connect "$A4:443" --local "$C4:41403" --hold-ms 300 --once
  tls_client c3 127.0.0.1:7403 - -tls1_3 "${cc[@]}"
  flow client="$C4:41403" server="$A4:443" tls=1.3 ccert=true kind=client_think ms=300 \
    detail="client relay holds the client's second flight (Certificate, CertificateVerify, Finished)" verdict=client slow=true min=client_think:285
  sleep 0.2
  relay r14 "$NS_CLI" --mode client --listen 127.0.0.1:7414 --connect "$A4:443" --local "$C4:41414" --hold-ms 300 --once
  tls_client c14 127.0.0.1:7414 - -tls1_2 "${cc[@]}"
  flow client="$C4:41414" server="$A4:443" tls=1.2 ccert=true kind=client_think ms=300 \
    detail="client relay holds the client's second flight (Certificate, ClientKeyExchange, CertificateVerify, CCS, Finished)" verdict=client slow=true min=client_think:285
  sleep 0.2
  nfq 4 17 41415; nfq 4 18 41416
  delayline dl17 17 --delay-ms 100
  delayline dl18 18 --delay-ms 100
  tls_client c15 "$A4:443" "$C4:41415" -tls1_3 "${cc[@]}"
  flow client="$C4:41415" server="$A4:443" tls=1.3 ccert=true kind=network_delay ms=200 \
    detail="delay line +100 ms each way, MSS 1460: the client's CertificateVerify and Finished wait one round trip behind the ACK of its Certificate's last, short segment (Nagle: s_client does not set TCP_NODELAY)" verdict=network slow=true min=tcp_rtt:190,flight_rtt:190,client_flight_xfer:90
  sleep 0.2
  tls_client c16 "$A4:443" "$C4:41416" -tls1_2 "${cc[@]}"
  flow client="$C4:41416" server="$A4:443" tls=1.2 ccert=true kind=network_delay ms=200 \
    detail="delay line +100 ms each way, MSS 1460: the client's CertificateVerify and Finished wait one round trip behind the ACK of its Certificate's last, short segment (Nagle: s_client does not set TCP_NODELAY)" verdict=network slow=true min=tcp_rtt:190,flight_rtt:190,client_flight_xfer:90
  sleep 0.2
  curl_client c10 "$A4" 443 41410 --tlsv1.3 --cert "$PKI/clientfull.pem" --key "$PKI/client.key"
  flow client="$C4:41410" server="$A4:443" tls=1.3 ccert=true offer=h2,http/1.1
  sleep 0.2
  curl_client c11 "$A4" 443 41411 --tlsv1.2 --tls-max 1.2 --cert "$PKI/clientfull.pem" --key "$PKI/client.key"
  flow client="$C4:41411" server="$A4:443" tls=1.2 ccert=true offer=h2,http/1.1
  sleep 0.2
  # Node's TLS server with requestCert (HTTP/2 and HTTP/1.1), curl with the client chain.
  node_server node "$A4:8443" --client-ca "$PKI/cliroot.pem" --keylog "$WORK/log/node.keys"
  curl_client c17 "$A4" 8443 41417 --tlsv1.3 --http2 --cert "$PKI/clientfull.pem" --key "$PKI/client.key"
  grep -q 'ok 2.0 h2' "$WORK/log/c17.body" || die "curl c17 did not get h2: $(cat "$WORK/log/c17.body")"
  flow client="$C4:41417" server="$A4:8443" tls=1.3 ccert=true offer=h2,http/1.1
  sleep 0.2
  curl_client c18 "$A4" 8443 41418 --tlsv1.2 --tls-max 1.2 --http1.1 --cert "$PKI/clientfull.pem" --key "$PKI/client.key"
  grep -q 'ok 1.1 http/1.1' "$WORK/log/c18.body" || die "curl c18 did not get http/1.1: $(cat "$WORK/log/c18.body")"
  flow client="$C4:41418" server="$A4:8443" tls=1.2 ccert=true offer=http/1.1 alpn=http/1.1
  sleep 0.2
  # A server that asks for a certificate without requiring one, and clients that have none: an empty
  # Certificate (TLS 1.3: one 25-byte encrypted record before the Finished) is not a client certificate.
  s_server srv2 "$A4:4443" -verify 3 -verifyCAfile "$PKI/cliroot.pem" -keylogfile "$WORK/log/srv2.keys"
  tls_client c12 "$A4:4443" "$C4:41412" -tls1_3
  flow client="$C4:41412" server="$A4:4443" tls=1.3 ccert=false
  sleep 0.2
  tls_client c13 "$A4:4443" "$C4:41413" -tls1_2
  flow client="$C4:41413" server="$A4:4443" tls=1.2 ccert=false
  sleep 0.2
  # Records padded to 512-byte blocks: no record has a Finished's length, the analyzer falls back.
  tls_client c9 "$A4:443" "$C4:41409" -tls1_3 -record_padding 512 "${cc[@]}"
  flow client="$C4:41409" server="$A4:443" tls=1.3 ccert=true fallback=true
  sleep 0.2
  ip -n "$NS_SRV" route change 198.51.100.0/24 dev "$DEV_SRV" advmss 300
  tls_client c4 "$A4:443" "$C4:41404" -tls1_3 "${cc[@]}"
  flow client="$C4:41404" server="$A4:443" tls=1.3 ccert=true cfseg=10
  sleep 0.2
  tls_client c5 "$A4:443" "$C4:41405" -tls1_2 "${cc[@]}"
  flow client="$C4:41405" server="$A4:443" tls=1.2 ccert=true cfseg=10
  sleep 0.2
  tls_client c8 "$A4:443" "$C4:41408" -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 "${cc[@]}"
  flow client="$C4:41408" server="$A4:443" tls=1.3 ccert=true cfseg=10
  sleep 0.2
  nfq 4 14 41406; nfq 4 15 41407
  delayline dl14 14 --delay-ms 100
  delayline dl15 15 --delay-ms 100
  tls_client c6 "$A4:443" "$C4:41406" -tls1_3 "${cc[@]}"
  flow client="$C4:41406" server="$A4:443" tls=1.3 ccert=true cfseg=10 kind=network_delay ms=200 \
    detail="delay line +100 ms each way, MSS 300: the client's ~5 KB flight leaves about two segments per 100 ms" \
    verdict=network slow=true min=tcp_rtt:190,flight_rtt:190,client_flight_xfer:190
  sleep 0.2
  tls_client c7 "$A4:443" "$C4:41407" -tls1_2 "${cc[@]}"
  flow client="$C4:41407" server="$A4:443" tls=1.2 ccert=true cfseg=10 kind=network_delay ms=200 \
    detail="delay line +100 ms each way, MSS 300: the client's ~5 KB flight leaves about two segments per 100 ms" \
    verdict=network slow=true min=tcp_rtt:190,flight_rtt:190,client_flight_xfer:190
  capture_stop
  cat "$WORK/log/srv2.keys" "$WORK/log/node.keys" >>"$CAP/mtls.keys" # one key log for the capture
}

# mem_client NAME CONNECT LOCAL TLS DELAY_MS: memclient.py (Python ssl.MemoryBIO) from the client
# namespace, holding its second flight DELAY_MS with delayed ACKs on.
mem_client() {
  local name=$1 connect=$2 local_=$3 tls=$4 delay=$5
  timeout 20 ip netns exec "$NS_CLI" python3 "$GEN_DIR/memclient.py" --connect "$connect" --local "$local_" \
    --sni "$SNI" --cafile "$PKI/ca.pem" --tls "$tls" --delay-ms "$delay" \
    >"$WORK/log/$name.out" 2>"$WORK/log/$name.err" || die "memclient $name failed: $(tail -n 3 "$WORK/log/$name.err" | tr '\n' ' ')"
  log "$name: $(cat "$WORK/log/$name.out")"
}

sc_client_ack_finished() {
  DESC="The client's ACK of the server flight rides on its second flight: scripts/gen-captures/memclient.py (Python ssl.MemoryBIO, TCP_QUICKACK off) holds its second flight a known time shorter than the 40 ms delayed-ACK timer before writing it, so client_ack == client_finished and server_flight_end -> client_ack holds the round trip plus the client's delay; the analyzer splits it at the flow's tcp_rtt (flight_rtt) and counts the rest as client_think. 41501 (1.3) and 41502 (1.2) hold 25 ms; 41503 (1.3) holds 30 ms with the delay line adding 50 ms each way (RTT 100 ms). openssl s_server -www on 443."
  capture_start "$CAP/client-ack-finished.pcap"
  s_server srv "$A4:443"
  mem_client m1 "$A4:443" "$C4:41501" 1.3 25
  flow client="$C4:41501" server="$A4:443" tls=1.3 kind=client_think ms=25 \
    detail="memclient holds its second flight 25 ms; its ACK of the server flight rides on it" verdict=client min=client_think:22
  sleep 0.2
  mem_client m2 "$A4:443" "$C4:41502" 1.2 25
  flow client="$C4:41502" server="$A4:443" tls=1.2 kind=client_think ms=25 \
    detail="memclient holds its second flight 25 ms; its ACK of the server flight rides on it" verdict=client min=client_think:22
  sleep 0.2
  nfq 4 16 41503
  delayline dl16 16 --delay-ms 50
  mem_client m3 "$A4:443" "$C4:41503" 1.3 30
  flow client="$C4:41503" server="$A4:443" tls=1.3 kind=client_think ms=30 slow=true \
    detail="memclient holds its second flight 30 ms over +50 ms each way; its ACK of the server flight rides on it" \
    verdict=network min=client_think:27,tcp_rtt:95,flight_rtt:95
  capture_stop
}

# tfo_on: TCP Fast Open client and server bits (net.ipv4.tcp_fastopen=3) in both namespaces.
tfo_on() {
  local ns
  for ns in "$NS_CLI" "$NS_SRV"; do ip netns exec "$ns" sysctl -qw net.ipv4.tcp_fastopen=3; done
}

# tfo_server NAME LISTEN [tfo.py server args...]: the TLS server with TCP_FASTOPEN on its listener.
tfo_server() {
  local name=$1 listen=$2; shift 2
  bg "$name" "$NS_SRV" python3 "$GEN_DIR/tfo.py" server --listen "$listen" --cert "$PKI/leaf.pem" --key "$PKI/leaf.key" "$@"
  wait_for "$WORK/log/$name.out" 'ready' 10 "$LAST_PID"
}

# tfo_client NAME CONNECT LOCAL TLS ACKED [CAFILE]: one tfo.py client connection (sendto MSG_FASTOPEN);
# ACKED 1/0: the kernel must report that the server did / did not accept data in the SYN.
tfo_client() {
  local name=$1 connect=$2 local_=$3 tls=$4 acked=$5 ca=${6:-$PKI/ca.pem}
  timeout 20 ip netns exec "$NS_CLI" python3 "$GEN_DIR/tfo.py" client --connect "$connect" --local "$local_" \
    --sni "$SNI" --cafile "$ca" --tls "$tls" >"$WORK/log/$name.out" 2>"$WORK/log/$name.err" ||
    die "tfo client $name failed: $(tail -n 3 "$WORK/log/$name.err" | tr '\n' ' ')"
  grep -q "syn_data_acked=$acked" "$WORK/log/$name.out" || die "tfo client $name: wanted syn_data_acked=$acked, got $(cat "$WORK/log/$name.out")"
  log "$name: $(cat "$WORK/log/$name.out")"
}

# tfo_new_key: the server's TFO key changes, so the cookie the client holds no longer verifies:
# the server ACKs only the SYN (refusing its data) and hands out a new cookie.
TFO_KEY_N=0
tfo_new_key() {
  TFO_KEY_N=$((TFO_KEY_N + 1))
  ip netns exec "$NS_SRV" sysctl -qw net.ipv4.tcp_fastopen_key="$(printf '%08x-00000000-00000000-5eed%04x' "$TFO_KEY_N" "$TFO_KEY_N")"
}

sc_tfo() {
  DESC="TLS over TCP Fast Open (RFC 7413): net.ipv4.tcp_fastopen=3 in both namespaces, scripts/gen-captures/tfo.py as server (Python ssl, TCP_FASTOPEN on its listening socket) and client (sendto MSG_FASTOPEN: the ClientHello goes into the SYN once a cookie is cached). 41601 (1.3) asks for a cookie (an empty Fast Open option in a plain SYN: an ordinary handshake); 41602 (1.3) and 41603 (1.2) carry the ClientHello in the SYN, the server accepts it and sends its SYN-ACK and at once its first flight; 41604 (1.3) the same with the delay line adding 150 ms each way (network). Before 41605 (1.3, fast) and 41606 (1.3, +150 ms each way) the server's TFO key changes, so the client's cookie no longer verifies: the server ACKs only the SYN, and the client sends the ClientHello again with its ACK (a retransmission of the ClientHello, charged to client_hello_xfer). The client's TCP_INFO confirms each case (syn_data_acked)."
  tfo_on
  tfo_new_key
  capture_start "$CAP/tfo.pcap"
  tfo_server srv "$A4:443"
  tfo_client t1 "$A4:443" "$C4:41601" 1.3 0
  flow client="$C4:41601" server="$A4:443" tls=1.3 tfo=false
  sleep 0.2
  tfo_client t2 "$A4:443" "$C4:41602" 1.3 1
  flow client="$C4:41602" server="$A4:443" tls=1.3 tfo=true
  sleep 0.2
  tfo_client t3 "$A4:443" "$C4:41603" 1.2 1
  flow client="$C4:41603" server="$A4:443" tls=1.2 tfo=true
  sleep 0.2
  nfq 4 19 41604; nfq 4 20 41606
  delayline dl19 19 --delay-ms 150
  delayline dl20 20 --delay-ms 150
  tfo_client t4 "$A4:443" "$C4:41604" 1.3 1
  flow client="$C4:41604" server="$A4:443" tls=1.3 tfo=true kind=network_delay ms=300 \
    detail="delay line +150 ms each way; ClientHello in the SYN, accepted" verdict=network slow=true min=tcp_rtt:285
  sleep 0.2
  tfo_new_key
  tfo_client t5 "$A4:443" "$C4:41605" 1.3 0
  flow client="$C4:41605" server="$A4:443" tls=1.3 tfo=true tfo_refused=true rc=1
  sleep 0.2
  tfo_new_key
  tfo_client t6 "$A4:443" "$C4:41606" 1.3 0
  flow client="$C4:41606" server="$A4:443" tls=1.3 tfo=true tfo_refused=true rc=1 kind=network_delay ms=300 \
    detail="delay line +150 ms each way; the ClientHello in the SYN refused (new server key), sent again one round trip later" \
    verdict=network slow=true min=client_hello_xfer:285,flight_rtt:285
  capture_stop
}

sc_offloads() {
  DESC="Offloads left on: tx/rx checksumming, TSO, GSO and GRO on both veth ends, so the server-side capture shows the server's segments as the stack built them: super-segments of up to 64 KB (several MSS each) with TCP checksums not filled in. openssl s_server sends the ~23 KB big certificate chain (as in cwnd-stall); its route to the client has initcwnd 10 (the default), so the flight leaves as a few super-segments, the rest after the client's first ACK. 41701 (1.3) and 41702 (1.2) fast; 41700 (1.3, cookie request) and 41703 (1.3) over TCP Fast Open (tfo.py client, ClientHello in the SYN) against tfo.py with the same chain on 8443. Then the server's route gets initcwnd 64 and tfo.py on 9443 serves a P-256 leaf with 1300 subjectAltNames (~50 KB) writing each flight in one send(): 41704 (1.3, TFO) gets its flight in two ~32 KB super-segments (half the SYN's unscaled window), 41705 (1.2, s_client; the client namespace opens a 1 MB receive buffer with initrwnd 128) in one of about 46 KB plus the rest."
  local ns dev
  for ns in "$NS_CLI" "$NS_SRV"; do
    dev=$DEV_CLI; [[ $ns == "$NS_SRV" ]] && dev=$DEV_SRV
    ip netns exec "$ns" ethtool -K "$dev" tx on rx on tso on gso on gro on >/dev/null 2>&1 ||
      ip netns exec "$ns" ethtool -K "$dev" tso on gso on gro on
  done
  tfo_on
  capture_start "$CAP/offloads.pcap"
  bg srv "$NS_SRV" openssl s_server -accept 443 -cert "$PKI/bigleaf.pem" -key "$PKI/bigleaf.key" \
    -cert_chain "$PKI/bigchain.pem" -www
  wait_listen "$NS_SRV" 443
  bg srv2 "$NS_SRV" python3 "$GEN_DIR/tfo.py" server --listen "$A4:8443" --cert "$PKI/bigleaf.pem" --key "$PKI/bigleaf.key" --chain "$PKI/bigchain.pem"
  wait_for "$WORK/log/srv2.out" 'ready' 10 "$LAST_PID"
  tls_client c1 "$A4:443" "$C4:41701" -tls1_3
  flow client="$C4:41701" server="$A4:443" tls=1.3
  sleep 0.2
  tls_client c2 "$A4:443" "$C4:41702" -tls1_2
  flow client="$C4:41702" server="$A4:443" tls=1.2
  sleep 0.2
  tfo_client t0 "$A4:8443" "$C4:41700" 1.3 0 "$PKI/bigroot.pem" # asks for the cookie (an ordinary handshake)
  sleep 0.2
  tfo_client t3 "$A4:8443" "$C4:41703" 1.3 1 "$PKI/bigroot.pem"
  flow client="$C4:41700" server="$A4:8443" tls=1.3 tfo=false
  flow client="$C4:41703" server="$A4:8443" tls=1.3 tfo=true
  sleep 0.2
  # One ~50 KB flight in one send() with initcwnd 64: one super-segment of about 50 KB.
  ip -n "$NS_SRV" route change 198.51.100.0/24 dev "$DEV_SRV" initcwnd 64
  bg srv3 "$NS_SRV" python3 "$GEN_DIR/tfo.py" server --listen "$A4:9443" --cert "$PKI/hugeleaf.pem" --key "$PKI/hugeleaf.key" --one-write
  wait_for "$WORK/log/srv3.out" 'ready' 10 "$LAST_PID"
  tfo_client t4 "$A4:9443" "$C4:41704" 1.3 1 "$PKI/bigroot.pem"
  flow client="$C4:41704" server="$A4:9443" tls=1.3 tfo=true
  sleep 0.2
  # A super-segment is at most half the peer's largest window (tcp_bound_to_half_wnd): the client
  # opens a large initial window (1 MB receive buffer, initrwnd 128) so 41705's ~50 KB flight can
  # leave as one segment. (41704's flight follows the SYN-ACK, bounded by the SYN's unscaled window.)
  in_cli sysctl -qw net.ipv4.tcp_rmem="4096 1048576 6291456"
  ip -n "$NS_CLI" route change 203.0.113.0/24 dev "$DEV_CLI" initrwnd 128
  tls_client c5 "$A4:9443" "$C4:41705" -tls1_2
  flow client="$C4:41705" server="$A4:9443" tls=1.2
  capture_stop
}

# ---------------------------------------------------------------------------------------------
CAP=$WORK/cap
log "work directory $WORK"
log "tools: kernel $(uname -r); $(openssl version); $(curl --version | head -n 1 | cut -d' ' -f1-2); tcpdump $(tcpdump --version 2>&1 | sed -n '1s/tcpdump version //p'), $(tcpdump --version 2>&1 | sed -n 2p); node $(node --version); $(tshark --version 2>/dev/null | head -n 1)"
log "making keys and certificates"
make_pki
[[ " ${SELECTED[*]} " == *" cwnd-stall "* || " ${SELECTED[*]} " == *" offloads "* ]] && make_big_chain
[[ " ${SELECTED[*]} " == *" offloads "* ]] && make_huge_leaf
[[ " ${SELECTED[*]} " == *" mtls "* ]] && make_client_chain

FAILED=()
for scen in "${SELECTED[@]}"; do
  log "=== $scen"
  FLOWS=()
  DESC=
  t0=$SECONDS
  ns_up
  "sc_${scen//-/_}"
  ns_down
  cap="tls/$scen.pcap"
  write_expected "$scen" "$cap" "$DESC"
  if [[ $scen == network-delay ]]; then
    editcap -F pcapng "$CAP/network-delay-ns.pcap" "$CAP/network-delay-ns.pcapng"
    sed -e 's/"scenario": "network-delay"/"scenario": "network-delay-ns"/' \
      -e 's#"capture": "tls/network-delay.pcap"#"capture": "tls/network-delay-ns.pcapng"#' \
      -e 's/"description": "/"description": "Same flows and capture as network-delay, written by a second tcpdump with nanosecond timestamps and converted to pcapng (editcap -F pcapng). /' \
      "$WORK/expected/network-delay.json" >"$WORK/expected/network-delay-ns.json"
  fi
  log "checking $scen ($((SECONDS - t0)) s)"
  checks=("$scen")
  [[ $scen == network-delay ]] && checks+=(network-delay-ns)
  for c in "${checks[@]}"; do
    f=$(sed -n 's/.*"capture": "tls\/\([^"]*\)".*/\1/p' "$WORK/expected/$c.json")
    keys=$CAP/${f%.*}.keys kl=()
    [[ -s $keys ]] && kl=(--keylog "$keys")
    if node "$GEN_DIR/check.mjs" --capture "$CAP/$f" --expected "$WORK/expected/$c.json" "${kl[@]}"; then
      cp "$CAP/$f" "$OUT/tls/$f"
      # The server's key log (fresh test keys, never used elsewhere): tshark decrypts with it.
      ((${#kl[@]})) && install -D -m 0644 "$keys" "$OUT/keys/${f%.*}.keys"
      cp "$WORK/expected/$c.json" "$OUT/expected/$c.json"
      log "$c: ok, $(stat -c %s "$OUT/tls/$f") bytes"
    else
      FAILED+=("$c")
    fi
  done
done
((${#FAILED[@]} == 0)) || die "checks failed: ${FAILED[*]}"
log "all done"
