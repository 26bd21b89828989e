#!/usr/bin/env python3
"""Event storm for the spot-check tests: slow-handshake entries straight into the journal's native
socket (one datagram per entry, the protocol sd_journal_send speaks), paced to a rate.

  python3 journal-storm.py --identifier ID [--rate 10000] [--seconds 3] [--dup-every 10]
                           [--socket /run/systemd/journal/socket]

Every entry is "slow TLS handshake remote_addr=198.51.100.X:P local_addr=203.0.113.250:443
sni=storm.example elapsed_ms=300" with the same fields structured; every --dup-every-th entry
repeats the previous client endpoint (a duplicate event). The clients are documentation
addresses no flow uses. Prints "storm: sent N entries (D duplicates) in S s, E send errors" on
stdout when done; send errors (socket buffer full) are retried after 1 ms, then counted.
"""
import argparse
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument('--identifier', required=True)
ap.add_argument('--rate', type=int, default=10000)
ap.add_argument('--seconds', type=float, default=3.0)
ap.add_argument('--dup-every', type=int, default=10)
ap.add_argument('--socket', default='/run/systemd/journal/socket')
a = ap.parse_args()

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(a.socket)
total = int(a.rate * a.seconds)
sent = dups = errors = 0
prev = None
t0 = time.perf_counter()
for i in range(total):
    if a.dup_every > 0 and prev is not None and i % a.dup_every == 0:
        client = prev
        dups += 1
    else:
        client = '198.51.100.%d:%d' % (100 + (i // 60000) % 100, 1024 + i % 60000)
    prev = client
    msg = ('slow TLS handshake remote_addr=%s local_addr=203.0.113.250:443 sni=storm.example elapsed_ms=300' % client)
    entry = ('MESSAGE=%s\nSYSLOG_IDENTIFIER=%s\nPRIORITY=5\nREMOTE_ADDR=%s\nLOCAL_ADDR=203.0.113.250:443\n'
             'SNI=storm.example\nELAPSED_MS=300\n' % (msg, a.identifier, client)).encode()
    for attempt in range(50):
        try:
            s.send(entry)
            sent += 1
            break
        except (BlockingIOError, OSError):
            time.sleep(0.001)
    else:
        errors += 1
    # pace: entry i is due at t0 + i / rate
    ahead = t0 + (i + 1) / a.rate - time.perf_counter()
    if ahead > 0.002:
        time.sleep(ahead)
print('storm: sent %d entries (%d duplicates) in %.2f s, %d send errors' % (sent, dups, time.perf_counter() - t0, errors), flush=True)
