#!/usr/bin/env bash
# Installs everything slowshake needs on a fresh Debian machine (run as root):
#   1. Debian packages: libpcap (build + runtime), clang/llvm/libbpf-dev (the eBPF handshake filter,
#      compiled with clang -target bpf and loaded with libbpf by the addon; bpftool reads its
#      run time and size in scripts/bench/bench-kernel-filter.mjs --bpf-stats), tcpdump/tshark/tcpreplay (tests, benchmarks),
#      iptables + libnetfilter-queue (the NFQUEUE delay line used to generate captures),
#      openssl/curl (real TLS peers), iproute2/ethtool (namespaces, veth), chromium (renders the
#      HTML report in its browser test); promtool, prometheus and alertmanager (the shipped rules'
#      checks and the alerting tests) taken out of Debian's prometheus and prometheus-alertmanager
#      packages as binaries only, into /usr/local/bin, so no Prometheus or Alertmanager service is
#      installed or started on the machine.
#   2. npm dependencies (npm ci when a lockfile exists).
#   3. The TypeScript build and the delay-line helper program.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential python3 pkg-config libpcap-dev tcpdump tshark tcpreplay iptables protobuf-compiler
      libnetfilter-queue-dev libmnl-dev iproute2 ethtool openssl curl procps psmisc systemd time
      e2fsprogs mount clang llvm libbpf-dev bpftool dnsmasq libmaxmind-db-writer-perl chromium)
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

# Binaries out of a Debian package, without installing it (its service would start).
# Usage: binary_from_deb PACKAGE PATH-IN-PACKAGE NAME-IN-/usr/local/bin [DATA-DIR...]
# (a DATA-DIR is copied to the same path: files the binary reads from a compiled-in place).
binary_from_deb() {
  local pkg=$1 src=$2 name=$3 tmp d ok=1
  shift 3
  for d in "$@"; do [ -d "$d" ] || ok=0; done
  [ -x "/usr/local/bin/$name" ] && [ $ok = 1 ] && return 0
  echo "install: $name from Debian's $pkg package (the binary only, into /usr/local/bin)" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && { apt-get download -qq "$pkg" 2>/dev/null || { apt-get update -qq && apt-get download -qq "$pkg"; }; })
  dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/x"
  install -m 0755 "$tmp/x$src" "/usr/local/bin/$name"
  for d in "$@"; do mkdir -p "$d" && cp -r "$tmp/x$d/." "$d/"; done
  rm -rf "$tmp"
}
binary_from_deb prometheus /usr/bin/promtool promtool
binary_from_deb prometheus /usr/bin/prometheus prometheus
# Alertmanager reads its default notification template from /usr/share/prometheus/alertmanager.
binary_from_deb prometheus-alertmanager /usr/bin/prometheus-alertmanager alertmanager /usr/share/prometheus/alertmanager

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build
if [ -f scripts/delayline/Makefile ]; then make -s -C scripts/delayline; fi
echo "install: done" >&2
