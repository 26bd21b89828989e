#!/usr/bin/env bash
# captures/enrich/multi-net.pcap: clients from several networks, for client attribution
# (issue 10: client_info, "Top slow networks"). Derived from the committed real captures by
# rewriting each one's client address (tcprewrite --pnat, checksums fixed) and merging them in
# time order (mergecap). No traffic is sent; the addresses only have to fall into the test
# fixtures' ranges (test/fixtures/enrich/) and ASN database (written by the tests).
#
#   bash scripts/gen-captures/multi-net.sh        # rewrites captures/enrich/multi-net.pcap
#
# | source capture        | client becomes      | attributed by the fixtures as |
# |-----------------------|---------------------|-------------------------------|
# | client-think.pcap     | 3.5.140.2           | aws us-east-1 EC2             |
# | interleaved.pcap      | 3.5.140.3           | aws us-east-1 EC2             |
# | ipv6.pcap             | 2600:1f18:4abc::2   | aws us-east-1 EC2 (IPv6)      |
# | server-delay.pcap     | 34.80.0.5           | gcp asia-east1 Google Cloud   |
# | network-delay.pcap    | 192.0.2.10          | AS64500 Example Transit       |
# | loss-synack.pcap      | 192.0.2.11          | AS64500 Example Transit       |
# | hrr.pcap              | 100.64.7.9          | nothing: prefix 100.64.7.0/24 |
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rw() { tcprewrite --infile="captures/tls/$1.pcap" --outfile="$tmp/$1.pcap" --pnat="$2" --fixcsum; }
rw client-think '198.51.100.2/32:3.5.140.2/32'
rw interleaved '198.51.100.2/32:3.5.140.3/32'
rw ipv6 '[2001:db8::2/128]:[2600:1f18:4abc::2/128]'
rw server-delay '198.51.100.2/32:34.80.0.5/32'
rw network-delay '198.51.100.2/32:192.0.2.10/32'
rw loss-synack '198.51.100.2/32:192.0.2.11/32'
rw hrr '198.51.100.2/32:100.64.7.9/32'
mkdir -p captures/enrich
mergecap -F pcap -w captures/enrich/multi-net.pcap "$tmp"/*.pcap
echo "wrote captures/enrich/multi-net.pcap ($(stat -c %s captures/enrich/multi-net.pcap) bytes)"
