#!/usr/bin/env node
// A tiny TLS-terminating "edge" for the slowshake demo and end-to-end tests (node builtins only).
//
//   node edge-server.mjs --listen 203.0.113.1:443 [--listen [2001:db8::1]:443] \
//        [--identifier slowshake-edge] [--slow-ms 150] [--delay-sni slow-server.example=300]
//        [--stall-sni lagging.example=300] [--no-journal]
//
// What it does, like the proxy slowshake is built for:
//   1. Terminates TLS (1.2 and 1.3, ALPN http/1.1) with a self-signed certificate that openssl
//      generates at start in a private temp directory (removed on exit).
//   2. Measures every handshake from TCP accept to the TLS socket's 'secure' event (the server's
//      view of "done": for TLS 1.3 the client's Finished has arrived).
//   3. A handshake slower than --slow-ms is written to the systemd journal with
//      `logger --journald`: MESSAGE="slow TLS handshake remote_addr=IP:PORT local_addr=IP:PORT
//      sni=NAME elapsed_ms=N", SYSLOG_IDENTIFIER=--identifier, and the structured fields
//      REMOTE_ADDR, LOCAL_ADDR, SNI, ELAPSED_MS. The same line goes to stdout.
//   4. --delay-sni NAME=MS: an SNI callback that waits MS before choosing the certificate, i.e. an
//      injected server delay between the ClientHello and the ServerHello (repeatable).
//   5. --stall-sni NAME=MS: once the certificate is chosen (the ServerHello flight goes out at
//      once), the edge's event loop is kept busy for MS, as an overloaded proxy's CPU would be: the
//      client's Finished arrives on time, but the edge sees it only MS later. The wire shows a fast
//      handshake, the edge's own figure a slow one: time spent inside the edge host (repeatable).
//   6. After the handshake it answers one tiny HTTP/1.x response and closes; `GET /bytes/N`
//      returns N bytes (bulk traffic for ring wrap-around tests), `GET /drip/MS` a line every
//      100 ms for MS ms (a flow that outlives the capture's post-event hold).
//
// Prints "edge: ready <listen>" on stdout per listener. SIGTERM/SIGINT: exit 0 after removing the
// key material. Exit 2 on bad arguments or when a listener cannot be opened.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

function fail(msg) {
  process.stderr.write(`edge: ${msg}\n`);
  cleanup();
  process.exit(2);
}

function parseHostPort(opt, s) {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s ?? '') ?? /^([^:[\]]+):(\d+)$/.exec(s ?? '');
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) fail(`${opt} needs host:port or [v6]:port, got '${s}'`);
  return { host: m[1], port: Number(m[2]) };
}

const o = { listen: [], identifier: 'slowshake-edge', slowMs: 150, delays: new Map(), stalls: new Map(), journal: true };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--no-journal') { o.journal = false; continue; }
  if (a === '-h' || a === '--help') {
    const text = fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n');
    process.stdout.write(text.slice(1, text.findIndex((l) => l.startsWith('import'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    process.exit(0);
  }
  const v = argv[++i];
  if (v === undefined) fail(`${a} needs a value`);
  switch (a) {
    case '--listen': o.listen.push(parseHostPort(a, v)); break;
    case '--identifier': o.identifier = v; break;
    case '--slow-ms':
      if (!/^\d+(\.\d+)?$/.test(v)) fail(`--slow-ms needs a number of milliseconds, got '${v}'`);
      o.slowMs = Number(v); break;
    case '--delay-sni':
    case '--stall-sni': {
      const m = /^([^=]+)=(\d+)$/.exec(v);
      if (!m || Number(m[2]) > 60000) fail(`${a} needs NAME=MS (MS up to 60000), got '${v}'`);
      (a === '--delay-sni' ? o.delays : o.stalls).set(m[1].toLowerCase(), Number(m[2]));
      break;
    }
    default: fail(`unknown argument '${a}'`);
  }
}
if (o.listen.length === 0) fail('--listen host:port is required');

// ---------------------------------------------------------------------------------------------
// Key material: a throwaway self-signed certificate (EC P-256) in a 0700 temp directory.

let keyDir = null;
function cleanup() {
  if (keyDir) { fs.rmSync(keyDir, { recursive: true, force: true }); keyDir = null; }
}
keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slowshake-edge-'));
fs.chmodSync(keyDir, 0o700);
const keyFile = path.join(keyDir, 'key.pem');
const certFile = path.join(keyDir, 'cert.pem');
const req = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
  '-days', '2', '-subj', '/CN=edge.example', '-addext', 'subjectAltName=DNS:*.example,DNS:localhost',
  '-keyout', keyFile, '-out', certFile], { encoding: 'utf8' });
if (req.error || req.status !== 0) fail(`openssl could not make a certificate: ${req.error?.message ?? req.stderr.trim()}`);
const context = tls.createSecureContext({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) });
cleanup(); // the context holds the key now; nothing stays on disk

// ---------------------------------------------------------------------------------------------
// Journal: one `logger --journald` per slow handshake (structured fields on stdin).

let pendingLogs = 0;
function journal(fields) {
  if (!o.journal) return;
  pendingLogs++;
  const child = spawn('logger', ['--journald'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  child.on('error', (e) => { process.stderr.write(`edge: logger could not run: ${e.message}\n`); });
  child.on('close', (code) => {
    pendingLogs--;
    if (code !== 0) process.stderr.write(`edge: logger --journald exited ${code}: ${err.trim()}\n`);
  });
  // The native journal protocol: one FIELD=value per line (values here never contain newlines).
  child.stdin.end(Object.entries(fields).map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`).join('\n') + '\n');
}

function endpoint(addr, port) {
  return net.isIPv6(addr) ? `[${addr}]:${port}` : `${addr}:${port}`;
}

// ---------------------------------------------------------------------------------------------
// Connections: accept (t0) -> TLS handshake ('secure', t1) -> one HTTP response -> close.

const RESPONSE_BODY = 'hello from the slowshake demo edge\n';

function onConnection(raw) {
  const t0 = process.hrtime.bigint();
  const remote = endpoint(raw.remoteAddress, raw.remotePort);
  const local = endpoint(raw.localAddress, raw.localPort);
  raw.setNoDelay(true);
  let sni = null;
  const sock = new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: context,
    ALPNProtocols: ['http/1.1'],
    SNICallback: (name, cb) => {
      sni = name;
      const ms = o.delays.get(String(name).toLowerCase()) ?? 0;
      if (ms > 0) setTimeout(() => cb(null, context), ms);
      else cb(null, context);
      const stall = o.stalls.get(String(name).toLowerCase()) ?? 0;
      // After this callback OpenSSL writes the server flight; the busy loop runs right after it.
      if (stall > 0) setImmediate(() => { const end = Date.now() + stall; while (Date.now() < end) { /* busy: a starved proxy */ } });
    },
  });
  const timeout = setTimeout(() => sock.destroy(), 30_000);
  sock.on('secure', () => {
    const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const name = sni ?? sock.servername ?? '-';
    if (elapsedMs >= o.slowMs) {
      const e = elapsedMs.toFixed(1);
      const message = `slow TLS handshake remote_addr=${remote} local_addr=${local} sni=${name} elapsed_ms=${e}`;
      process.stdout.write(`edge: ${message}\n`);
      journal({
        MESSAGE: message, SYSLOG_IDENTIFIER: o.identifier, PRIORITY: 5,
        REMOTE_ADDR: remote, LOCAL_ADDR: local, SNI: name, ELAPSED_MS: e,
      });
    }
  });
  let request = '';
  sock.setEncoding('latin1');
  sock.on('data', (d) => {
    if (request === null) return;
    request += d;
    if (!request.includes('\r\n\r\n') && !request.includes('\n\n') && request.length < 8192) return;
    const m = /^GET \/bytes\/(\d{1,10})\s/.exec(request);
    const drip = /^GET \/drip\/(\d{1,6})\s/.exec(request);
    request = null;
    if (m) {
      sendBytes(sock, Math.min(Number(m[1]), 1 << 30));
      return;
    }
    if (drip) {
      sendDrip(sock, Number(drip[1]));
      return;
    }
    sock.end(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${RESPONSE_BODY.length}\r\nconnection: close\r\n\r\n${RESPONSE_BODY}`);
  });
  sock.on('error', () => sock.destroy());
  sock.on('close', () => clearTimeout(timeout));
}

/** Streams n bytes of body with back-pressure, then closes. */
function sendBytes(sock, n) {
  sock.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${n}\r\nconnection: close\r\n\r\n`);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let left = n;
  const pump = () => {
    while (left > 0) {
      const c = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= c.length;
      if (!sock.write(c)) { sock.once('drain', pump); return; }
    }
    sock.end();
  };
  pump();
}

// A start-up entry, as a real proxy writes one, before "ready". It also matters to followers:
// journalctl (systemd 252) following with a match on a field value that is new in the journal
// file can lose the first entries of a burst (see the e2e tests); after this entry the
// identifier is known.
if (o.journal) {
  const r = spawnSync('logger', ['--journald'], { input: `MESSAGE=edge starting on ${o.listen.map((l) => endpoint(l.host, l.port)).join(' ')}\nSYSLOG_IDENTIFIER=${o.identifier}\nPRIORITY=6\n`, encoding: 'utf8' });
  if (r.error || r.status !== 0) fail(`logger --journald failed (is a journal running?): ${r.error?.message ?? r.stderr.trim()}`);
}

/** One short line every 100 ms for ms milliseconds, then closes (a flow that outlives the hold). */
function sendDrip(sock, ms) {
  sock.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n');
  const end = Date.now() + ms;
  const t = setInterval(() => {
    if (sock.destroyed) { clearInterval(t); return; }
    if (Date.now() >= end) { clearInterval(t); sock.end('done\n'); return; }
    sock.write('tick\n');
  }, 100);
}

const servers = [];
for (const l of o.listen) {
  const server = net.createServer({ noDelay: true }, onConnection);
  server.on('error', (e) => fail(`listen ${endpoint(l.host, l.port)}: ${e.message}`));
  server.listen({ host: l.host, port: l.port, backlog: 1024 }, () => {
    process.stdout.write(`edge: ready ${endpoint(l.host, l.port)}\n`);
  });
  servers.push(server);
}

function shutdown() {
  for (const s of servers) s.close();
  // Let loggers that are still running hand their entries over (at most 2 s).
  const deadline = Date.now() + 2000;
  const wait = () => (pendingLogs > 0 && Date.now() < deadline ? setTimeout(wait, 20) : process.exit(0));
  wait();
}
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, shutdown);
process.on('exit', cleanup);
