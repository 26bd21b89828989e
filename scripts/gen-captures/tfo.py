#!/usr/bin/env python3
# TLS over TCP Fast Open (RFC 7413) for the capture generator: a TLS server whose listening socket
# has TCP_FASTOPEN (Node cannot set it on a listener), and a client that connects with
# sendto(MSG_FASTOPEN) and its ClientHello as the data, so the kernel puts the ClientHello into
# the SYN once it holds a cookie for the server (the first connection only asks for one: an empty
# Fast Open option in a plain SYN). The client drives Python's ssl.SSLObject over MemoryBIOs, so
# the ClientHello's bytes exist before the socket connects. Needs net.ipv4.tcp_fastopen=3 in both
# namespaces (client and server bits); with 0x403 on the server side any listener (a Node server
# too) accepts data in the SYN without the socket option.
#
#   python3 tfo.py server --listen 203.0.113.1:443 --cert leaf.pem --key leaf.key [--chain c.pem] [--one-write]
#   python3 tfo.py client --connect 203.0.113.1:443 --local 198.51.100.2:41601 --sni app.example \
#       (--cafile ca.pem | --insecure) --tls 1.3
#
# The server answers every connection like `openssl s_server -www` would, with a short HTTP/1.0
# response, then closes; it prints "ready" once it listens. The client sends "GET / HTTP/1.0",
# reads to the end and prints the status line and the kernel's TCP_INFO view of Fast Open
# ("syn_data_acked=1": the server accepted the SYN's data), then exits 0; any failure exits non-zero.
import argparse
import socket
import ssl
import struct
import sys

TCP_FASTOPEN = 23          # linux/tcp.h
# struct tcp_info: tcpi_options is byte 5 (after state, ca_state, retransmits, probes, backoff).
TCPI_OPT_SYN_DATA = 32     # linux/tcp.h: SYN-ACK acked data in SYN sent or rcvd


def hostport(s):
    host, _, port = s.rpartition(':')
    return host.strip('[]'), int(port)


def family(host):
    return socket.AF_INET6 if ':' in host else socket.AF_INET


def server(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.chain:
        # The chain file's certificates after the leaf: load_cert_chain reads them from one file.
        with open(a.cert) as c, open(a.chain) as ch, open(a.cert + '.full.pem', 'w') as out:
            out.write(c.read() + ch.read())
        ctx.load_cert_chain(a.cert + '.full.pem', a.key)
    host, port = hostport(a.listen)
    ls = socket.socket(family(host), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN, 16)  # queue length of pending TFO requests
    ls.bind((host, port))
    ls.listen(64)
    print('ready', flush=True)
    while True:
        conn, _ = ls.accept()
        try:
            conn.settimeout(10)
            if a.one_write:
                serve_one_write(ctx, conn)
                continue
            t = ctx.wrap_socket(conn, server_side=True)
            req = b''
            while b'\r\n\r\n' not in req:
                d = t.recv(4096)
                if not d:
                    break
                req += d
            t.sendall(b'HTTP/1.0 200 ok\r\nContent-Type: text/plain\r\n\r\nok tfo\r\n')
            t.close()
        except (OSError, ssl.SSLError) as e:
            print(f'tfo server: {e}', file=sys.stderr, flush=True)
            conn.close()


def serve_one_write(ctx, conn):
    """--one-write: ssl.SSLObject over MemoryBIOs, each flight handed to the kernel in one send(),
    so with offloads on and a large initial window the whole flight is one super-segment."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    t = ctx.wrap_bio(inc, out, server_side=True)

    def flush():
        data = out.read()
        if data:
            conn.sendall(data)

    def recv():
        d = conn.recv(65536)
        if not d:
            raise OSError('client closed')
        inc.write(d)

    while True:
        try:
            t.do_handshake()
            break
        except ssl.SSLWantReadError:
            flush()
            recv()
    flush()
    req = b''
    while b'\r\n\r\n' not in req:
        try:
            req += t.read(4096)
        except ssl.SSLWantReadError:
            recv()
    t.write(b'HTTP/1.0 200 ok\r\nContent-Type: text/plain\r\n\r\nok tfo\r\n')
    try:
        t.unwrap()  # close_notify
    except ssl.SSLWantReadError:
        pass
    flush()
    conn.close()


def client(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if a.cafile:
        ctx.load_verify_locations(a.cafile)
    else:  # --insecure: a throwaway test server's self-signed certificate (like curl -k)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    v = ssl.TLSVersion.TLSv1_3 if a.tls == '1.3' else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = v
    ctx.maximum_version = v
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname=a.sni)
    host, port = hostport(a.connect)
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(hostport(a.local))
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    # sendto with MSG_FASTOPEN connects and queues the ClientHello: it rides in the SYN when a
    # cookie for the server is cached, else the SYN asks for a cookie and the data follows the
    # handshake as usual.
    s.sendto(out.read(), socket.MSG_FASTOPEN, (host, port))  # blocking: returns once connected
    s.settimeout(10)

    def pump():
        data = out.read()
        if data:
            s.sendall(data)

    def recv():
        d = s.recv(65536)
        if not d:
            raise SystemExit('tfo client: server closed during the handshake')
        inc.write(d)

    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pump()
            recv()
    pump()
    tls.write(b'GET / HTTP/1.0\r\n\r\n')
    pump()
    resp = b''
    while True:
        try:
            d = tls.read(65536)
            if not d:
                break
            resp += d
        except ssl.SSLWantReadError:
            d = s.recv(65536)
            if not d:
                break
            inc.write(d)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    opts = struct.unpack('B', info[5:6])[0]
    status = resp.split(b'\r\n', 1)[0].decode(errors='replace')
    print(f'{status}; tfo syn_data_acked={1 if opts & TCPI_OPT_SYN_DATA else 0}', flush=True)
    if not (status.startswith('HTTP/1.0 200') or status.startswith('HTTP/1.1 200')):
        raise SystemExit('tfo client: no HTTP response')
    s.close()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='mode', required=True)
    sp = sub.add_parser('server')
    sp.add_argument('--listen', required=True)
    sp.add_argument('--cert', required=True)
    sp.add_argument('--key', required=True)
    sp.add_argument('--chain')
    sp.add_argument('--one-write', action='store_true')
    cp = sub.add_parser('client')
    cp.add_argument('--connect', required=True)
    cp.add_argument('--local', required=True)
    cp.add_argument('--sni', required=True)
    ca = cp.add_mutually_exclusive_group(required=True)
    ca.add_argument('--cafile')
    ca.add_argument('--insecure', action='store_true')
    cp.add_argument('--tls', choices=['1.2', '1.3'], default='1.3')
    a = ap.parse_args()
    server(a) if a.mode == 'server' else client(a)


if __name__ == '__main__':
    main()
