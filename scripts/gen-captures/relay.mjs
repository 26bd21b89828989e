#!/usr/bin/env node
// TCP relay that injects TLS "think time" for the capture generator (node builtins only).
//
//   node relay.mjs --mode client --listen 127.0.0.1:7001 --connect 203.0.113.1:443 \
//                  --local 198.51.100.2:40301 --hold-ms 300 [--once]
//   node relay.mjs --mode server --listen 203.0.113.1:8443 --connect 127.0.0.1:4433 \
//                  --hold-ms 300 [--once]
//
// --mode client  runs in the client's namespace. A TLS client connects to --listen; the relay
//                connects to --connect from --local (pinned source address and port, so the
//                generator knows the flow's 4-tuple). The ClientHello goes out at once; the
//                client's second flight — the first client bytes after the server's ServerHello
//                (a HelloRetryRequest does not count) — is held --hold-ms, then everything held
//                is forwarded in order: a slow client (CPU-bound between the server flight and
//                its CCS/Finished or ClientKeyExchange).
// --mode server  runs in the server's namespace in front of the real server. The first bytes the
//                server sends (its first flight: ServerHello..., or the HelloRetryRequest) are
//                held --hold-ms counted from the first byte, then forwarded: a slow server.
// --once         exit after the first connection has closed.
//
// Both modes parse TLS record boundaries so the hold starts exactly at a record boundary.
// Prints "relay: ready <listen>" on stdout when listening; logs what it held on stderr.
import net from 'node:net';

const HRR_RANDOM = Buffer.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

function fail(msg) {
  process.stderr.write(`relay: ${msg}\n`);
  process.exit(2);
}

function parseHostPort(opt, s) {
  if (!s) fail(`${opt} needs host:port`);
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) fail(`${opt} needs host:port, got '${s}'`);
  return { host: m[1], port: Number(m[2]) };
}

function parseArgs(argv) {
  const o = { mode: null, listen: null, connect: null, local: null, holdMs: 0, once: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--mode':
        if (v !== 'client' && v !== 'server') fail(`--mode needs client or server, got '${v}'`);
        o.mode = v; i++; break;
      case '--listen': o.listen = parseHostPort(a, v); i++; break;
      case '--connect': o.connect = parseHostPort(a, v); i++; break;
      case '--local': o.local = parseHostPort(a, v); i++; break;
      case '--hold-ms':
        if (!/^\d+$/.test(v ?? '') || Number(v) > 60000) fail(`--hold-ms needs 0..60000, got '${v}'`);
        o.holdMs = Number(v); i++; break;
      case '--once': o.once = true; break;
      default: fail(`unknown argument '${a}'`);
    }
  }
  if (!o.mode || !o.listen || !o.connect) fail('--mode, --listen and --connect are required');
  if (o.local && o.mode !== 'client') fail('--local only applies to --mode client');
  return o;
}

// Tracks TLS record boundaries in one direction of a byte stream.
class RecordScanner {
  constructor() {
    this.pos = 0;          // stream offset of the next byte fed
    this.next = 0;         // stream offset of the next record header
    this.hdr = [];         // partial header bytes
    this.body = null;      // bytes of the current record kept for inspection (first 64)
    this.records = [];     // completed headers: { start, type, length, head }
  }
  atBoundary() { return this.pos === this.next && this.hdr.length === 0; }
  // Feeds a chunk; returns records whose first up to 64 body bytes are known by now.
  feed(chunk) {
    const done = [];
    let i = 0;
    while (i < chunk.length) {
      const abs = this.pos + i;
      if (this.cur && abs < this.cur.end) {
        const take = Math.min(chunk.length - i, this.cur.end - abs);
        if (this.cur.head.length < 64) {
          this.cur.head = Buffer.concat([this.cur.head,
            chunk.subarray(i, i + Math.min(take, 64 - this.cur.head.length))]);
        }
        i += take;
        if (this.pos + i === this.cur.end) { done.push(this.cur); this.cur = null; }
        continue;
      }
      this.hdr.push(chunk[i]);
      i++;
      if (this.hdr.length === 5) {
        const length = (this.hdr[3] << 8) | this.hdr[4];
        const start = this.next;
        this.cur = { start, type: this.hdr[0], length, end: start + 5 + length, head: Buffer.alloc(0) };
        this.next = this.cur.end;
        this.hdr = [];
        if (length === 0) { done.push(this.cur); this.cur = null; }
      }
    }
    this.pos += chunk.length;
    return done;
  }
}

// Classifies a server handshake record: 'hrr', 'server_hello', or null.
function classifyServerRecord(rec) {
  if (rec.type !== 22 || rec.head.length < 38 || rec.head[0] !== 2) return null;
  const random = rec.head.subarray(6, 38);
  return random.equals(HRR_RANDOM) ? 'hrr' : 'server_hello';
}

const opts = parseArgs(process.argv.slice(2));
let connections = 0;

function log(id, msg) {
  process.stderr.write(`relay[${opts.mode} #${id}]: ${msg}\n`);
}

// A one-shot hold: write() passes through until hold() is called; then everything is queued
// until ms have passed since the hold started; afterwards it passes through again.
class Gate {
  constructor(sock, id, what) {
    this.sock = sock; this.id = id; this.what = what;
    this.state = 'open'; this.queue = []; this.bytes = 0;
  }
  hold(ms) {
    if (this.state !== 'open' || ms <= 0) return;
    this.state = 'holding';
    const t0 = process.hrtime.bigint();
    setTimeout(() => {
      const waited = Number(process.hrtime.bigint() - t0) / 1e6;
      log(this.id, `released ${this.what}: ${this.bytes} bytes after ${waited.toFixed(1)} ms`);
      const data = Buffer.concat(this.queue);
      this.queue = [];
      this.state = 'done';
      if (data.length) this.sock.write(data);
      if (this.pendingEnd) this.sock.end();
    }, ms);
  }
  write(chunk) {
    if (this.state === 'holding') { this.queue.push(chunk); this.bytes += chunk.length; return; }
    this.sock.write(chunk);
  }
  end() {
    if (this.state === 'holding') { this.pendingEnd = true; return; }
    this.sock.end();
  }
}

const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (down) => {
  const id = ++connections;
  if (opts.once && id > 1) { down.destroy(); return; }
  down.setNoDelay(true);
  const connectOpts = { host: opts.connect.host, port: opts.connect.port, allowHalfOpen: true, noDelay: true };
  if (opts.local) { connectOpts.localAddress = opts.local.host; connectOpts.localPort = opts.local.port; }
  const up = net.connect(connectOpts);
  up.setNoDelay(true);
  const toUp = new Gate(up, id, 'client second flight');
  const toDown = new Gate(down, id, 'server first flight');
  const cliScan = new RecordScanner();
  const srvScan = new RecordScanner();
  let serverHelloSeen = false;
  let upConnected = false;
  const pending = [];

  const closeBoth = (why) => {
    if (why) log(id, why);
    down.destroy(); up.destroy();
  };
  up.on('connect', () => {
    upConnected = true;
    log(id, `connected ${up.localAddress}:${up.localPort} -> ${up.remoteAddress}:${up.remotePort}`);
    for (const c of pending) up.write(c);
    pending.length = 0;
    if (down.readableEnded) up.end();
  });

  // client -> server
  down.on('data', (chunk) => {
    const boundary = cliScan.atBoundary();
    cliScan.feed(chunk);
    if (opts.mode === 'client' && serverHelloSeen && toUp.state === 'open') {
      if (!boundary) log(id, 'warning: client flight did not start at a record boundary');
      toUp.hold(opts.holdMs);
    }
    if (!upConnected) { pending.push(chunk); return; }
    toUp.write(chunk);
  });
  down.on('end', () => { if (upConnected) toUp.end(); });

  // server -> client
  up.on('data', (chunk) => {
    if (opts.mode === 'server' && toDown.state === 'open') {
      if (!srvScan.atBoundary()) log(id, 'warning: server flight did not start at a record boundary');
      toDown.hold(opts.holdMs);
    }
    for (const rec of srvScan.feed(chunk)) {
      const kind = classifyServerRecord(rec);
      if (kind === 'hrr') log(id, 'server sent a HelloRetryRequest (not the flight to wait for)');
      if (kind === 'server_hello') serverHelloSeen = true;
    }
    toDown.write(chunk);
  });
  up.on('end', () => toDown.end());

  down.on('error', (e) => closeBoth(`client side: ${e.message}`));
  up.on('error', (e) => closeBoth(`server side: ${e.message}`));
  let closed = 0;
  const onClose = () => {
    if (++closed === 2 && opts.once) { log(id, 'closed; exiting (--once)'); server.close(); process.exit(0); }
  };
  down.on('close', onClose);
  up.on('close', onClose);
});

server.on('error', (e) => fail(`listen ${opts.listen.host}:${opts.listen.port}: ${e.message}`));
server.listen({ host: opts.listen.host, port: opts.listen.port }, () => {
  process.stdout.write(`relay: ready ${opts.listen.host}:${opts.listen.port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
