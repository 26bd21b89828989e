#!/usr/bin/env python3
# A TLS client that chooses when its second flight is written: Python's ssl.SSLObject over
# MemoryBIOs, driven over a plain TCP socket by hand.
#
#   python3 memclient.py --connect 203.0.113.1:443 --local 198.51.100.2:41501 --sni app.example \
#       --cafile ca.pem --tls 1.3 --delay-ms 25
#
# The socket is in delayed-ACK mode (TCP_QUICKACK off, set again before every read because Linux
# may leave it) and TCP_NODELAY on. When the server's flight has been read and the handshake has
# the client's second flight ready (its Finished; with TLS 1.2 ClientKeyExchange/CCS/Finished),
# the client waits --delay-ms before writing it. With a delay shorter than the delayed-ACK timer
# (40 ms minimum on Linux) the kernel has not ACKed the server flight yet, so the client's first ACK
# of it rides on the second flight: client_ack == client_finished, with a known client delay
# inside server_flight_end -> client_ack. Then it sends "GET / HTTP/1.0" and reads to the end.
# Prints "held N.N ms" and the status line; exits non-zero on any failure.
import argparse
import socket
import ssl
import sys
import time


def hostport(s):
    host, _, port = s.rpartition(':')
    return host.strip('[]'), int(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--connect', required=True)
    ap.add_argument('--local', required=True)
    ap.add_argument('--sni', required=True)
    ap.add_argument('--cafile', required=True)
    ap.add_argument('--tls', choices=['1.2', '1.3'], required=True)
    ap.add_argument('--delay-ms', type=float, required=True)
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(a.cafile)
    v = ssl.TLSVersion.TLSv1_3 if a.tls == '1.3' else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = v
    ctx.maximum_version = v
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname=a.sni)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(hostport(a.local))
    sock.settimeout(10)
    sock.connect(hostport(a.connect))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def recv():
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
        data = sock.recv(65536)
        if not data:
            raise SystemExit('memclient: server closed during the handshake')
        inc.write(data)

    received = False
    held = None
    while True:
        try:
            tls.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        pending = out.read()
        if pending:
            if received and held is None:
                t0 = time.monotonic()
                time.sleep(a.delay_ms / 1000)
                held = (time.monotonic() - t0) * 1000
            sock.sendall(pending)
        if done:
            break
        recv()
        received = True
    if held is None:
        raise SystemExit('memclient: no second flight was held')

    tls.write(b'GET / HTTP/1.0\r\n\r\n')
    sock.sendall(out.read())
    body = b''
    while True:
        try:
            chunk = tls.read(65536)
            if not chunk:
                break
            body += chunk
            continue
        except ssl.SSLWantReadError:
            pass
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
        data = sock.recv(65536)
        if not data:
            break
        inc.write(data)
        pending = out.read()
        if pending:
            sock.sendall(pending)
    sock.close()
    status = body.split(b'\r\n', 1)[0].decode('latin-1')
    print(f'held {held:.1f} ms, {tls.version()}, {status}')
    if not status.startswith('HTTP/1.0 200') and not status.startswith('HTTP/1.1 200'):
        sys.exit(1)


main()
