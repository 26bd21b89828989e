#!/usr/bin/env bash
# Installs everything slowshake needs on a fresh Debian machine (run as root):
#   1. Debian packages: libpcap (build + runtime), clang/llvm/libbpf-dev (the eBPF handshake filter,
#      compiled with clang -target bpf and loaded with libbpf by the addon), tcpdump/tshark/tcpreplay (tests, benchmarks),
#      iptables + libnetfilter-queue (the NFQUEUE delay line used to generate captures),
#      openssl/curl (real TLS peers), iproute2/ethtool (namespaces, veth); promtool (checks the
#      exported metrics) taken out of Debian's prometheus package alone, so no Prometheus server
#      is installed or started on the machine.
#   2. npm dependencies (npm ci when a lockfile exists).
#   3. The TypeScript build and the delay-line helper program.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential python3 pkg-config libpcap-dev tcpdump tshark tcpreplay iptables protobuf-compiler
      libnetfilter-queue-dev libmnl-dev iproute2 ethtool openssl curl procps psmisc systemd time
      e2fsprogs mount clang llvm libbpf-dev dnsmasq libmaxmind-db-writer-perl)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "install: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v promtool >/dev/null 2>&1; then
  echo "install: promtool from Debian's prometheus package (the binary only, into /usr/local/bin)" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && { apt-get download -qq prometheus 2>/dev/null || { apt-get update -qq && apt-get download -qq prometheus; }; })
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  install -m 0755 "$tmp/x/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$tmp"
  trap - EXIT
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build
if [ -f scripts/delayline/Makefile ]; then make -s -C scripts/delayline; fi
echo "install: done" >&2
