// SYN-flood benchmark (issue 8): memory of `slowshake analyze` on a flood of SYNs from distinct
// sources mixed with real handshakes, whether those handshakes still get their exact records, and
// the same flood replayed live into `slowshake capture`. Run through scripts/bench-synflood; see
// usage() for the options.
//
// 1. Build (npm run build, unless --no-build) and run a private copy of dist/ and of the addon.
//    With --before REF, REF's src/ is also built (git archive + tsc, no checkout) for "before".
// 2. Generate: real.pcap with --handshakes real flows (gen-capture.mjs: whole flows of
//    captures/tls/*.pcap replicated with new client addresses, no bulk data) spread over the
//    flood's duration; flood.pcap = real.pcap merged in time order with --syns SYNs from distinct
//    sources in 100.64.0.0/10 to 203.0.113.1:443 at --flood-rate, each answered by one SYN-ACK
//    100 µs later (a server with SYN cookies answers every SYN once; --no-synacks: SYNs only).
//    With --ack-flood each flood client also sends an ACK 200 µs after its SYN whose number is
//    random (about half of them acknowledge bytes past the SYN-ACK that were never sent).
//    Nobody sends payload or a FIN: the flood never leaves the table by itself.
// 3. Offline: `analyze --format ndjson` on real.pcap (the reference records) and on flood.pcap
//    (under GNU time: peak RSS, wall time), for this build and the --before one. Records correct
//    = the sorted ndjson lines of flood.pcap equal those of real.pcap.
// 4. Live (root; unless --no-live): namespace ssflood-<tag> holding veth0 (no address, IPv6 and
//    offloads off), its peer in the root namespace; `capture -i veth0 --no-journal --duration`
//    in the namespace while tcpreplay sends flood.pcap on the peer at --live-pps. Capture's
//    VmHWM/VmRSS are polled from /proc/PID/status; drops come from its own summary, tcpreplay's
//    and the veth's counters. capture analyses only on journal events, so this measures the ring
//    under the flood, not the analyzer.
// 5. Print the figures. Namespace, link and processes (by PID) are removed at the end, also on
//    failure; the wrapper sweeps again if this process dies.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, copyFileSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createVethTopology, destroyNamespace, killTracked, Proc as TrackedProc } from './proc.mjs';
import { generateCapture, loadTemplates } from './gen-capture.mjs';
import { buildRef } from './build-ref.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const TAG = process.env.BENCH_SYNFLOOD_TAG ?? String(process.pid);
const NS = `ssflood-${TAG}`;
const TX_DEV = `ssflood${TAG}r`;
const RX_DEV = 'veth0';
const WORK = join(ROOT, 'bench-out', `bench-synflood-${TAG}`);
const PIDS = join(ROOT, 'bench-out', `bench-synflood-${TAG}.pids`);
const GNU_TIME = '/usr/bin/time';
const MiB = 1024 * 1024;
const BASE_SEC = 1_750_000_000; // gen-capture.mjs's time origin
const GOAL_RSS = 200 * MiB;

function usage() {
  return `usage: scripts/bench-synflood [options]     (the live part: root, tcpreplay, ethtool)

  --syns N           flood SYNs, each from its own source address (default 2M; at most 4M)
  --flood-rate R     flood SYNs per simulated second (default 100k)
  --handshakes N     real handshakes mixed in, spread over the flood (default 2000)
  --no-synacks       SYNs only (default: the server answers each SYN with one SYN-ACK)
  --ack-flood        each flood client also sends an ACK with a random acknowledgment number
  --max-flows N      pass --max-flows N to analyze (default: analyze's own default)
  --with-out         also measure analyze --out DIR (per-flow pcaps: packets are kept), for --before too
  --before REF       also measure the analyzer of git REF (built from git archive, e.g. HEAD~3)
  --no-live          skip the live replay into capture
  --live-pps R       tcpreplay rate, packets per second, or "topspeed" (default 200k)
  --ring-size SIZE   capture's ring (default 256MiB)
  --keep             keep bench-out/bench-synflood-<tag>/ (the generated captures)
  --no-build         do not run npm run build first`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const fmtMiB = (b) => (Number.isFinite(b) ? `${(b / MiB).toFixed(0)} MiB` : '-');
const log = (...a) => console.error('bench-synflood:', ...a);

function num(s, name) {
  const m = /^([0-9]*\.?[0-9]+)\s*([kKmM]?)$/.exec(String(s).trim());
  if (!m) throw new Error(`--${name}: expected a number like 2000000, 2M or 100k, got "${s}"`);
  return Math.round(Number(m[1]) * (m[2].toLowerCase() === 'k' ? 1e3 : m[2].toLowerCase() === 'm' ? 1e6 : 1));
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, cwd: opts.cwd, maxBuffer: 256 * MiB });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0 && !opts.ok) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(-800)}`);
  return r.stdout;
}
const tryRun = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 }).status === 0;

// ---------------------------------------------------------------------------------------------
// Processes, tracked by PID (killed on exit; listed in PIDS for the wrapper)

/** A tracked child (proc.mjs), listed in PIDS; `stdoutFd` sends its stdout to a file. */
class Proc extends TrackedProc {
  constructor(name, cmd, args, opts = {}) { super(name, cmd, args, { pidsFile: PIDS, stdin: 'ignore', stdout: opts.stdoutFd ?? 'pipe' }); }
}

function memOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { vmRss: kib('VmRSS'), vmHwm: kib('VmHWM') };
  } catch { return null; }
}

// ---------------------------------------------------------------------------------------------
// Builds

/** A private copy of this build: dist/, package.json, the addon as a real package, other packages linked. */
function privateApp() {
  const app = join(WORK, 'app');
  mkdirSync(join(app, 'node_modules', 'slowshake-capture', 'build', 'Release'), { recursive: true });
  cpSync(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  for (const f of ['index.cjs', 'package.json']) copyFileSync(join(ROOT, 'native', f), join(app, 'node_modules', 'slowshake-capture', f));
  const addon = join(ROOT, 'native/build/Release/slowshake_capture.node');
  if (existsSync(addon)) copyFileSync(addon, join(app, 'node_modules/slowshake-capture/build/Release/slowshake_capture.node'));
  for (const e of readdirSync(join(ROOT, 'node_modules'))) {
    if (e !== 'slowshake-capture') symlinkSync(join(ROOT, 'node_modules', e), join(app, 'node_modules', e));
  }
  return app;
}

/** REF's analyzer, built into WORK/before (build-ref.mjs). */
const buildBefore = (ref) => buildRef(ROOT, ref, join(WORK, 'before'));

// ---------------------------------------------------------------------------------------------
// Flood generation

function sum16(b, start, end, s = 0) {
  let i = start;
  for (; i + 1 < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < end) s += b[i] << 8;
  return s;
}
const fold = (s) => { while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000); return s; };

const SRV_ADDR = [203, 0, 113, 1];
const SYN_LEN = 14 + 20 + 32; // Ethernet, IPv4, TCP with MSS, NOP, WS, NOP, NOP, SACK-permitted (12 bytes of options)
const ACK_LEN = 14 + 20 + 20;
const FRAME_LEN = [SYN_LEN, SYN_LEN, ACK_LEN];
const SYN = 0, SYN_ACK = 1, ACK = 2;

/** A random-looking but reproducible acknowledgment number for flood flow i's ACK. */
const randomAck = (i) => { let x = Math.imul(i ^ 0x5bd1e995, 0x85ebca6b); x ^= x >>> 13; return Math.imul(x, 0xc2b2ae35) >>> 0; };

/** Writes flood flow i's SYN, SYN-ACK or ACK into buf at o (valid IPv4 and TCP checksums). */
function floodFrame(buf, o, i, kind) {
  if (kind === ACK) return floodAck(buf, o, i);
  const synAck = kind === SYN_ACK;
  const f = buf;
  const src = [100, 64 + ((i >>> 16) & 63), (i >>> 8) & 255, i & 255];
  const port = 1024 + ((i * 7919) % 64000);
  const cIsn = Math.imul(i + 1, 2654435761) >>> 0, sIsn = Math.imul(i + 7, 2246822519) >>> 0;
  f.fill(0, o, o + SYN_LEN);
  const mac = synAck ? [2, 0x53, 0x46, 0, 0, 2, 2, 0x53, 0x46, 0, 0, 1] : [2, 0x53, 0x46, 0, 0, 1, 2, 0x53, 0x46, 0, 0, 2];
  for (let k = 0; k < 12; k++) f[o + k] = mac[k];
  f[o + 12] = 8; f[o + 13] = 0;
  const ip = o + 14;
  f[ip] = 0x45; f.writeUInt16BE(20 + 32, ip + 2); f.writeUInt16BE(synAck ? 0 : i & 0xffff, ip + 4); f[ip + 6] = 0x40; f[ip + 8] = 64; f[ip + 9] = 6;
  const [s, d] = synAck ? [SRV_ADDR, src] : [src, SRV_ADDR];
  for (let k = 0; k < 4; k++) { f[ip + 12 + k] = s[k]; f[ip + 16 + k] = d[k]; }
  f.writeUInt16BE(~fold(sum16(f, ip, ip + 20)) & 0xffff, ip + 10);
  const t = ip + 20;
  f.writeUInt16BE(synAck ? 443 : port, t); f.writeUInt16BE(synAck ? port : 443, t + 2);
  f.writeUInt32BE(synAck ? sIsn : cIsn, t + 4); f.writeUInt32BE(synAck ? (cIsn + 1) >>> 0 : 0, t + 8);
  f[t + 12] = (32 / 4) << 4; f[t + 13] = synAck ? 0x12 : 0x02; f.writeUInt16BE(synAck ? 65160 : 64240, t + 14);
  const opts = [2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2];
  for (let k = 0; k < 12; k++) f[t + 20 + k] = opts[k];
  const pseudo = sum16(f, ip + 12, ip + 20) + 6 + 32;
  let c = ~fold(sum16(f, t, t + 32, pseudo)) & 0xffff;
  if (c === 0) c = 0xffff;
  f.writeUInt16BE(c, t + 16);
}

/** Flood flow i's client ACK: the next sequence number after its SYN, a random ACK number. */
function floodAck(f, o, i) {
  const src = [100, 64 + ((i >>> 16) & 63), (i >>> 8) & 255, i & 255];
  const port = 1024 + ((i * 7919) % 64000);
  const cIsn = Math.imul(i + 1, 2654435761) >>> 0;
  f.fill(0, o, o + ACK_LEN);
  const mac = [2, 0x53, 0x46, 0, 0, 1, 2, 0x53, 0x46, 0, 0, 2];
  for (let k = 0; k < 12; k++) f[o + k] = mac[k];
  f[o + 12] = 8; f[o + 13] = 0;
  const ip = o + 14;
  f[ip] = 0x45; f.writeUInt16BE(40, ip + 2); f.writeUInt16BE((i + 1) & 0xffff, ip + 4); f[ip + 6] = 0x40; f[ip + 8] = 64; f[ip + 9] = 6;
  for (let k = 0; k < 4; k++) { f[ip + 12 + k] = src[k]; f[ip + 16 + k] = SRV_ADDR[k]; }
  f.writeUInt16BE(~fold(sum16(f, ip, ip + 20)) & 0xffff, ip + 10);
  const t = ip + 20;
  f.writeUInt16BE(port, t); f.writeUInt16BE(443, t + 2);
  f.writeUInt32BE((cIsn + 1) >>> 0, t + 4); f.writeUInt32BE(randomAck(i), t + 8);
  f[t + 12] = (20 / 4) << 4; f[t + 13] = 0x10; f.writeUInt16BE(502, t + 14);
  const pseudo = sum16(f, ip + 12, ip + 20) + 6 + 20;
  let c = ~fold(sum16(f, t, t + 20, pseudo)) & 0xffff;
  if (c === 0) c = 0xffff;
  f.writeUInt16BE(c, t + 16);
}

/** Reads a classic µs pcap written by gen-capture (LE): [{ us, data }]. */
function readPcapRecords(file) {
  const b = readFileSync(file);
  const out = [];
  for (let o = 24; o + 16 <= b.length;) {
    const incl = b.readUInt32LE(o + 8);
    out.push({ us: (b.readUInt32LE(o) - BASE_SEC) * 1e6 + b.readUInt32LE(o + 4), data: b.subarray(o + 16, o + 16 + incl) });
    o += 16 + incl;
  }
  return out;
}

/** flood.pcap: the real records merged in time order with the flood. */
function writeFlood(out, real, { syns, rate, synacks, acks }) {
  const fd = openSync(out, 'w', 0o600);
  const buf = Buffer.alloc(8 * MiB);
  let pos = 0, packets = 0, bytes = 0;
  const flush = () => { let w = 0; while (w < pos) w += writeSync(fd, buf, w, pos - w); bytes += pos; pos = 0; };
  buf.writeUInt32LE(0xa1b2c3d4, 0); buf.writeUInt16LE(2, 4); buf.writeUInt16LE(4, 6);
  buf.writeUInt32LE(262144, 16); buf.writeUInt32LE(1, 20);
  pos = 24;
  const rec = (us, len) => {
    if (pos + 16 + len > buf.length) flush();
    buf.writeUInt32LE(BASE_SEC + Math.floor(us / 1e6), pos); buf.writeUInt32LE(us % 1e6, pos + 4);
    buf.writeUInt32LE(len, pos + 8); buf.writeUInt32LE(len, pos + 12);
    pos += 16;
    packets++;
  };
  // SYN i at i/rate, its SYN-ACK 100 µs later, its ACK 200 µs later (later SYNs may come first):
  // a merge by time of the real packets, the SYNs and one queue each of SYN-ACKs and ACKs.
  const gap = 1e6 / rate;
  const queues = [[], []]; // SYN-ACKs and ACKs not yet written, [us, i, …], each in time order
  const heads = [0, 0];
  let r = 0, i = 0;
  for (;;) {
    const tSyn = i < syns ? Math.floor(i * gap) : Infinity;
    const tReal = r < real.length ? real[r].us : Infinity;
    let q = -1, tq = Infinity;
    for (let k = 0; k < 2; k++) if (heads[k] < queues[k].length && queues[k][heads[k]] < tq) { q = k; tq = queues[k][heads[k]]; }
    if (tReal === Infinity && tSyn === Infinity && q < 0) break;
    if (tReal <= tSyn && tReal <= tq) {
      const d = real[r++].data;
      rec(tReal, d.length);
      d.copy(buf, pos);
      pos += d.length;
    } else if (tq <= tSyn) {
      const kind = q === 0 ? SYN_ACK : ACK;
      rec(tq, FRAME_LEN[kind]);
      floodFrame(buf, pos, queues[q][heads[q] + 1], kind);
      pos += FRAME_LEN[kind];
      heads[q] += 2;
      if (heads[q] > 131072) { queues[q].splice(0, heads[q]); heads[q] = 0; }
    } else {
      rec(tSyn, SYN_LEN);
      floodFrame(buf, pos, i, SYN);
      pos += SYN_LEN;
      if (synacks) queues[0].push(tSyn + 100, i);
      if (acks) queues[1].push(tSyn + 200, i);
      i++;
    }
  }
  flush();
  closeSync(fd);
  return { packets, bytes };
}

// ---------------------------------------------------------------------------------------------
// Offline

/** analyze FILE --format ndjson under GNU time: { lines (sorted), summary (stderr), rssBytes, wallSec }. */
function analyzeFile(app, file, extra, tag) {
  const out = join(WORK, `${tag}.ndjson`);
  const timeFile = join(WORK, `${tag}.time`);
  const cli = join(app, 'dist/cli/index.js');
  const fd = openSync(out, 'w', 0o600);
  const t0 = process.hrtime.bigint();
  const useTime = existsSync(GNU_TIME);
  const argv = [process.execPath, cli, 'analyze', '--format', 'ndjson', '--no-progress', ...extra, file];
  const r = spawnSync(useTime ? GNU_TIME : argv[0], useTime ? ['-v', '-o', timeFile, ...argv] : argv.slice(1), { stdio: ['ignore', fd, 'pipe'], maxBuffer: 64 * MiB, timeout: 3_600_000 });
  const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
  closeSync(fd);
  const stderr = r.stderr?.toString() ?? '';
  const time = useTime && existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
  const rssBytes = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(time)?.[1] ?? NaN) * 1024;
  const killed = /Command terminated by signal (\d+)/.exec(time)?.[1];
  const lines = readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').sort();
  return { status: r.status, killed, stderr, summary: stderr.split('\n').filter((l) => /^(Summary|Flow limit|Skipped|Kept)/.test(l)), lines, rssBytes, wallSec };
}

function compare(ref, got) {
  const want = new Map();
  for (const l of ref) want.set(l, (want.get(l) ?? 0) + 1);
  let same = 0, extra = 0;
  for (const l of got) {
    const n = want.get(l) ?? 0;
    if (n > 0) { same++; want.set(l, n - 1); } else extra++;
  }
  return { expected: ref.length, same, missing: ref.length - same, extra, ok: same === ref.length && extra === 0 };
}

// ---------------------------------------------------------------------------------------------
// Live

function destroyTopology() {
  destroyNamespace(NS, [TX_DEV]);
}


function rxCounters() {
  const j = JSON.parse(run('ip', ['-n', NS, '-s', '-j', 'link', 'show', RX_DEV]))[0];
  return { packets: j.stats64?.rx?.packets ?? 0, dropped: j.stats64?.rx?.dropped ?? 0 };
}

async function live(app, file, o) {
  createVethTopology(NS, TX_DEV, RX_DEV);
  await sleep(300);
  const rx0 = rxCounters();
  // --duration is only a safety net: tcpreplay -K first loads the whole file (seconds for millions
  // of packets), so capture is stopped with SIGINT once the replay is over.
  const seconds = Math.ceil(o.filePackets / (o.pps ?? 1e5)) * 3 + 120;
  const cap = new Proc('capture', 'ip', ['netns', 'exec', NS, process.execPath, join(app, 'dist/cli/index.js'), 'capture', '-i', RX_DEV,
    '--no-journal', '--duration', `${seconds}s`, '--ring-size', o.ringSize, '--out', join(WORK, 'capture-out')]);
  await cap.waitFor(/Capturing on/);
  let mem = memOf(cap.pid);
  let peak = mem?.vmHwm ?? NaN, rssMax = mem?.vmRss ?? NaN;
  const poll = setInterval(() => {
    const m = memOf(cap.pid);
    if (m) { mem = m; peak = Math.max(peak, m.vmHwm); rssMax = Math.max(rssMax, m.vmRss); }
  }, 200);
  const args = ['-i', TX_DEV, '-K', '-q', o.pps ? `--pps=${o.pps}` : '--topspeed', file];
  const tr = new Proc('tcpreplay', 'tcpreplay', args);
  const tStart = Date.now();
  const te = await tr.wait(30 * 60_000);
  const replayWallSec = (Date.now() - tStart) / 1000;
  await sleep(2000); // the capture thread drains the kernel buffer
  cap.kill('SIGINT');
  const text = tr.stdout + tr.stderr;
  if (te.code !== 0) throw new Error(`tcpreplay exited ${JSON.stringify(te)}: ${text.slice(-800)}`);
  const m = /Actual: (\d+) packets \((\d+) bytes\) sent in ([\d.]+) seconds/.exec(text);
  const sent = Number(m?.[1] ?? NaN), sentSec = Number(m?.[3] ?? NaN);
  const failed = Number(/Failed packets:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const ce = await cap.wait(seconds * 1000 + 30_000);
  clearInterval(poll);
  const rx1 = rxCounters();
  const s = cap.stdout;
  const g = (re) => Number(re.exec(s)?.[1] ?? NaN);
  destroyTopology();
  return {
    exit: ce, replayWallSec, sent, sentSec, pps: sent / sentSec, failed, vethRx: rx1.packets - rx0.packets, vethDropped: rx1.dropped - rx0.dropped,
    captured: g(/Packets: (\d+) captured/), kernelReceived: g(/kernel received (\d+)/), kernelDrops: g(/kernel drops (\d+)/),
    ifDrops: g(/interface drops (\d+)/), overwrites: g(/(\d+) records overwritten/), reach: g(/reaches ([\d.]+) s/), tooBig: g(/(\d+) packets too large/),
    vmHwm: peak, vmRssMax: rssMax, summary: s.trim().split('\n').slice(-3),
  };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const { values: v } = parseArgs({
    options: {
      syns: { type: 'string', default: '2M' }, 'flood-rate': { type: 'string', default: '100k' }, handshakes: { type: 'string', default: '2000' },
      'no-synacks': { type: 'boolean' }, 'ack-flood': { type: 'boolean' }, 'max-flows': { type: 'string' }, 'with-out': { type: 'boolean' }, before: { type: 'string' }, 'no-live': { type: 'boolean' },
      'live-pps': { type: 'string', default: '200k' }, 'ring-size': { type: 'string', default: '256MiB' }, keep: { type: 'boolean' },
      'no-build': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) { console.log(usage()); return; }
  const syns = num(v.syns, 'syns');
  const rate = num(v['flood-rate'], 'flood-rate');
  const handshakes = num(v.handshakes, 'handshakes');
  if (syns < 1 || syns > 4 * 1024 * 1024) throw new Error(`--syns: 1 to ${4 * 1024 * 1024} (one source address each in 100.64.0.0/10), got ${syns}`);
  if (rate < 1) throw new Error('--flood-rate: at least 1');
  const pps = v['live-pps'] === 'topspeed' ? null : num(v['live-pps'], 'live-pps');
  const extra = v['max-flows'] !== undefined ? ['--max-flows', v['max-flows']] : [];
  const doLive = !v['no-live'];
  if (doLive) {
    if (process.getuid?.() !== 0) throw new Error('the live part needs root (or pass --no-live)');
    for (const t of ['tcpreplay', 'ethtool', 'ip']) if (!tryRun('which', [t])) throw new Error(`${t} is missing (scripts/install.sh)`);
  }
  mkdirSync(WORK, { recursive: true, mode: 0o700 });
  if (!v['no-build']) { log('npm run build'); run('npm', ['run', 'build'], { cwd: ROOT, timeoutMs: 300_000 }); }
  const app = privateApp();
  const before = v.before ? buildBefore(v.before) : null;
  const git = (...a) => spawnSync('git', a, { cwd: ROOT }).stdout?.toString().trim() ?? '';
  const version = `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src') !== '' ? ' + uncommitted src changes' : ''}`;

  // ---- generate
  const floodSec = syns / rate;
  const templateFiles = readdirSync(join(ROOT, 'captures/tls')).filter((f) => f.endsWith('.pcap')).map((f) => join(ROOT, 'captures/tls', f));
  const { flows: templates } = loadTemplates(templateFiles);
  const realFile = join(WORK, 'real.pcap');
  const t0 = Date.now();
  const g = generateCapture({ templates, out: realFile, minPackets: 0, minFlows: handshakes, bulk: [0, 0], rate: handshakes / floodSec, seed: 8 });
  const floodFile = join(WORK, 'flood.pcap');
  const synacks = !v['no-synacks'];
  const acks = v['ack-flood'] ?? false;
  chmodSync(realFile, 0o600); // client addresses
  const f = writeFlood(floodFile, readPcapRecords(realFile), { syns, rate, synacks, acks });
  log(`generated in ${((Date.now() - t0) / 1000).toFixed(1)} s: real.pcap ${fmtInt(g.packets)} packets (${fmtInt(g.flows)} flows, ${fmtInt(g.tlsFlows)} TLS); ` +
    `flood.pcap ${fmtInt(f.packets)} packets, ${(f.bytes / MiB).toFixed(0)} MiB`);

  // ---- offline
  const ref = analyzeFile(app, realFile, extra, 'real');
  if (ref.status !== 0) throw new Error(`analyze real.pcap exited ${ref.status}: ${ref.stderr.slice(-800)}`);
  const runs = [];
  // Every build's flood records are compared with this build's records of the real flows alone;
  // the --before build's records of the real flows alone must be byte-identical to those too.
  let beforeRealSame = null;
  const measure = (label, a, more = []) => {
    log(`analyze flood.pcap (${label})`);
    const r = analyzeFile(a, floodFile, label.startsWith('before') ? more : [...extra, ...more], `flood-${label.replace(/\W+/g, '-')}`);
    // with --out, slow records carry the path of their pcap: compare without it
    if (more.length > 0) r.lines = r.lines.map((l) => l.replace(/,"pcap":"[^"]*"/, '')).sort();
    runs.push({ label, ...r, cmp: compare(ref.lines, r.lines) });
  };
  if (before) {
    beforeRealSame = compare(ref.lines, analyzeFile(before.app, realFile, [], 'real-before').lines).ok;
    measure('before', before.app);
    if (v['with-out']) measure('before --out', before.app, ['--out', join(WORK, 'pcaps-before')]);
  }
  measure('after', app);
  if (v['with-out']) measure('after --out', app, ['--out', join(WORK, 'pcaps')]);

  // ---- live
  let L = null;
  if (doLive) {
    log(`live: tcpreplay ${pps ? `${fmtInt(pps)} pps` : 'topspeed'} into capture -i ${RX_DEV} in ${NS}`);
    L = await live(app, floodFile, { pps, ringSize: v['ring-size'], filePackets: f.packets });
  }

  // ---- report
  const out = [];
  out.push('', `SYN flood benchmark — slowshake ${version}${before ? ` (before: ${v.before} = ${before.rev})` : ''}, node ${process.version}`);
  out.push(`flood.pcap: ${fmtInt(syns)} SYNs from distinct sources at ${fmtInt(rate)}/s (${floodSec.toFixed(1)} s)${synacks ? ', each answered by one SYN-ACK' : ''}${acks ? ', each client then sending an ACK with a random number' : ''}, ` +
    `mixed with ${fmtInt(g.flows)} real flows (${fmtInt(g.tlsFlows)} TLS) from captures/tls: ${fmtInt(f.packets)} packets, ${(f.bytes / MiB).toFixed(0)} MiB.`);
  out.push('', `analyze --format ndjson${extra.length ? ` ${extra.join(' ')}` : ''} (peak RSS from GNU time; records correct = identical to analyze of the real flows alone):`);
  out.push(`${'build'.padEnd(12)} ${'peak RSS'.padStart(10)} ${'wall s'.padStart(8)} ${'records'.padStart(16)}  correct  summary`);
  for (const r of runs) {
    const rec = `${fmtInt(r.cmp.same)}/${fmtInt(r.cmp.expected)}${r.cmp.extra ? ` +${r.cmp.extra}` : ''}`;
    const status = r.status === 0 ? '' : ` (exit ${r.status}${r.killed ? `, signal ${r.killed}` : ''})`;
    out.push(`${r.label.padEnd(12)} ${fmtMiB(r.rssBytes).padStart(10)} ${r.wallSec.toFixed(1).padStart(8)} ${rec.padStart(16)}  ${r.cmp.ok ? 'yes' : 'NO '}      ${r.summary.join(' | ')}${status}`);
  }
  if (beforeRealSame !== null) out.push(`Records of the real flows alone, before vs after: ${beforeRealSame ? 'byte-identical' : 'DIFFERENT'}.`);
  for (const r of runs.filter((x) => !x.label.startsWith('before'))) {
    out.push(`Goal (${r.label}): peak RSS ≤ ${fmtMiB(GOAL_RSS)} and every real handshake's record correct: ${r.rssBytes <= GOAL_RSS && r.cmp.ok ? 'met' : 'NOT met'}.`);
  }
  if (L) {
    out.push('', `Live: tcpreplay ${pps ? `--pps=${fmtInt(pps)}` : '--topspeed'} of flood.pcap onto a veth; capture -i ${RX_DEV} --no-journal --ring-size ${v['ring-size']} in the namespace.`);
    out.push(`  tcpreplay: ${fmtInt(L.sent)} packets sent in ${L.sentSec.toFixed(1)} s (${fmtInt(L.pps)} pps; ${L.replayWallSec.toFixed(1)} s with loading), ${fmtInt(L.failed)} failed; veth rx ${fmtInt(L.vethRx)}, rx dropped ${fmtInt(L.vethDropped)}`);
    out.push(`  capture: ${fmtInt(L.captured)} captured, kernel received ${fmtInt(L.kernelReceived)}, kernel drops ${fmtInt(L.kernelDrops)}, interface drops ${fmtInt(L.ifDrops)}, ` +
      `ring overwrites ${fmtInt(L.overwrites)}, reach ${L.reach} s; VmHWM ${fmtMiB(L.vmHwm)} (VmRSS max ${fmtMiB(L.vmRssMax)}); exit ${JSON.stringify(L.exit)}`);
    out.push(`  capture's summary: ${L.summary.join(' | ')}`);
    out.push('  (capture analyses only on journal events: this exercises the capture thread and the ring under the flood, not the analyzer)');
  }
  console.log(out.join('\n'));
}

let cleaned = false;
function cleanup(keep) {
  if (cleaned) return;
  cleaned = true;
  killTracked();
  destroyTopology();
  rmSync(PIDS, { force: true });
  if (!keep) rmSync(WORK, { recursive: true, force: true });
}
const keepArg = process.argv.includes('--keep');
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(keepArg); process.exit(sig === 'SIGINT' ? 130 : 143); });
main().then(() => cleanup(keepArg), (err) => {
  console.error(`bench-synflood: ${err.message}`);
  cleanup(keepArg);
  process.exitCode = 1;
});

