#!/usr/bin/env node
// A small HTTPS server on Node's TLS stack for the capture generator (node builtins only).
// Serves HTTP/2 and HTTP/1.x (ALPN h2 / http/1.1; clients without ALPN get HTTP/1.x), answers
// every request with a short text body, and handles connections concurrently (unlike
// openssl s_server), which the interleaved scenario needs.
//
//   node tlsserver.mjs --listen 203.0.113.1:8443 --cert c.pem --key k.pem \
//        [--min-version TLSv1.2] [--max-version TLSv1.3] [--client-ca ca.pem] [--keylog FILE]
//
// --client-ca: require a client certificate verified against that CA (mutual TLS, requestCert).
// --keylog: append the TLS secrets of every connection to FILE (NSS key log format) for tshark.
//
// Prints "tlsserver: ready <listen>" on stdout once listening.
import fs from 'node:fs';
import http2 from 'node:http2';

function fail(msg) {
  process.stderr.write(`tlsserver: ${msg}\n`);
  process.exit(2);
}

const o = { listen: null, cert: null, key: null, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', clientCa: null, keylog: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const v = argv[i + 1];
  if (v === undefined) fail(`${a} needs a value`);
  if (a === '--listen') {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(v) ?? /^([^:]+):(\d+)$/.exec(v);
    if (!m) fail(`--listen needs host:port, got '${v}'`);
    o.listen = { host: m[1], port: Number(m[2]) };
  } else if (a === '--cert') o.cert = v;
  else if (a === '--key') o.key = v;
  else if (a === '--min-version') o.minVersion = v;
  else if (a === '--max-version') o.maxVersion = v;
  else if (a === '--client-ca') o.clientCa = v;
  else if (a === '--keylog') o.keylog = v;
  else fail(`unknown argument '${a}'`);
  i++;
}
if (!o.listen || !o.cert || !o.key) fail('--listen, --cert and --key are required');

const server = http2.createSecureServer({
  cert: fs.readFileSync(o.cert),
  key: fs.readFileSync(o.key),
  allowHTTP1: true,
  minVersion: o.minVersion,
  maxVersion: o.maxVersion,
  ...(o.clientCa ? { requestCert: true, rejectUnauthorized: true, ca: fs.readFileSync(o.clientCa) } : {}),
});
if (o.keylog) {
  const fd = fs.openSync(o.keylog, 'a', 0o600);
  server.on('keylog', (line) => fs.writeSync(fd, line));
}
server.on('request', (req, res) => {
  const body = `ok ${req.httpVersion} ${req.socket?.alpnProtocol || '-'}\n`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.on('tlsClientError', (e) => process.stderr.write(`tlsserver: tls client error: ${e.message}\n`));
server.on('error', (e) => fail(`listen: ${e.message}`));
server.listen({ host: o.listen.host, port: o.listen.port }, () => {
  process.stdout.write(`tlsserver: ready ${o.listen.host}:${o.listen.port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
