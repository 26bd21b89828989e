// Live-capture benchmark: `slowshake capture` against `tcpdump -w /dev/null`, run through
// scripts/bench-capture (root only); see usage() for the options.
//
// 1. Build (npm run build, unless --no-build) and run a private copy of dist/ and of the addon,
//    so a rebuild in the work tree during the benchmark cannot mix two builds.
// 2. Generate the replay material: one classic pcap of many small TCP flows (64–600 byte frames,
//    one distinct 5-tuple per flow, a pool of flows in flight so their packets interleave), with
//    the veth MACs below and valid IPv4/TCP checksums.
// 3. Topology: namespace sscap-<tag> holding veth0 (the capture point, no address, IPv6 off,
//    offloads off); its peer sscap<tag>r stays in the root namespace and tcpreplay sends on it.
//    Destination MAC = veth0's MAC, destination addresses not local: the namespace's stack drops
//    every packet after the capture taps have seen it, and nothing is sent back.
// 4. Drops and CPU: for every rate (topspeed and fixed --pps rates) and each tool, --runs
//    separate captures (tools alternate), same filter, snaplen and kernel buffer; tcpreplay
//    pinned to CPU 0, the capturing process to CPU 1 (unless --no-pin). Each capture is a fresh
//    process measured over two replays: "fill" (the file at topspeed until slowshake's ring has
//    wrapped: first touch of its pages) and the measured replay at the rate (steady state).
//    slowshake runs here through bench-capture-ring.mjs --mode capture (LiveCapture as the CLI
//    drives it, counters on demand; tcpdump's come from SIGUSR1), and the CLI itself is run too
//    (its counters appear only at exit). CPU = exact on-CPU time of all the process's threads
//    (/proc/PID/task/*/schedstat) from just before a replay until the tool went idle after it
//    (≥ 1.5 s later: tcpdump hands a partly filled block over only after its 1 s timeout).
//    Where drops begin: the same at topspeed with smaller kernel buffers (--drop-buffers).
// 5. Ring lookup: bench-capture-ring.mjs captures one replay into a ring holding ≥ 1M packets,
//    then times RingReader.lookupFlow for random flows over a 10 s window and the flow's lifetime.
// 6. RSS: `slowshake capture` with each --rss-rings size, replaying the file as many times as it
//    takes to write ≥ 1.3× the ring (so it wrapped), VmRSS/VmHWM and big mappings read from
//    /proc before stopping; tcpdump's for scale.
// 7. Print the tables and the goals. Temporary files live in bench-out/bench-capture-<tag>/ and
//    are removed at the end; namespace, link and processes (by PID) too, also on failure.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, copyFileSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { destroyNamespace, killTracked, Proc as TrackedProc } from './proc.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const TAG = process.env.BENCH_CAPTURE_TAG ?? String(process.pid);
const NS = `sscap-${TAG}`;
const TX_DEV = `sscap${TAG}r`; // root namespace: tcpreplay sends here
const RX_DEV = 'veth0'; // inside NS: both tools capture here
const TX_MAC = '02:53:53:00:00:01';
const RX_MAC = '02:53:53:00:00:02';
const WORK = join(ROOT, 'bench-out', `bench-capture-${TAG}`);
const PIDS = join(ROOT, 'bench-out', `bench-capture-${TAG}.pids`);
const MiB = 1024 * 1024;

const GOAL_CPU_RATIO = 1.2;
const GOAL_LOOKUP_P99_MS = 5;
const GOAL_RSS = (ring) => 1.05 * ring + 80 * MiB;

function usage() {
  return `usage: scripts/bench-capture [options]          (root; needs tcpreplay, tcpdump, ethtool, taskset)

  --packets N          packets in the generated replay file (default 1.2M; k/M suffixes ok)
  --rates LIST         replay rates: topspeed and/or packets per second (default topspeed,500k,300k,100k)
  --seconds S          at fixed rates, replay at most rate×S packets (default 6; topspeed: whole file)
  --runs N             captures per tool and rate, median reported (default 3)
  --filter BPF         capture filter for both tools (default "tcp port 443", matches every packet)
  --buffer-size SIZE   kernel buffer for both tools (default 64MiB)
  --snaplen N          snaplen for both tools (default 262144)
  --ring-size SIZE     slowshake's ring in the drop/CPU runs (default 256MiB)
  --lookup-ring SIZE   ring for the lookup test, must hold the whole file (default 512MiB)
  --lookups N          timed lookups per window (default 200)
  --rss-rings LIST     ring sizes for the RSS check (default 64MiB,256MiB,1GiB)
  --drop-buffers LIST  smaller kernel buffers tried at topspeed to see where drops begin
                       (default 4MiB,1MiB,256KiB)
  --only LIST          parts to run: cpu,drops,lookup,rss (default all)
  --wait-quiet         first wait (poll every 30 s, up to 20 min) until no bench-analyze, tshark or
                       bench-spot runs
  --no-pin             do not pin tcpreplay to CPU 0 and the capturing process to CPU 1
  --no-build           do not run npm run build first
  --keep               keep bench-out/bench-capture-<tag>/ (generated pcap)
  --quick              short check: --packets 200k --runs 1 --rates topspeed,100k --seconds 2
                       --lookups 50 --rss-rings 64MiB --drop-buffers 1MiB`;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] : NaN; };
const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const fmtMiB = (b) => (b < MiB ? `${(b / 1024).toFixed(0)} KiB` : `${(b / MiB).toFixed(0)} MiB`);
const fmtRate = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : String(Math.round(n)));
const log = (...a) => console.error('bench-capture:', ...a);
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

function num(s, name) {
  const m = /^([0-9]*\.?[0-9]+)\s*([kKmM]?)$/.exec(String(s).trim());
  if (!m) throw new Error(`--${name}: expected a number like 1200000, 1.2M or 500k, got "${s}"`);
  return Math.round(Number(m[1]) * (m[2].toLowerCase() === 'k' ? 1e3 : m[2].toLowerCase() === 'm' ? 1e6 : 1));
}

function size(s, name) {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(|b|kib|mib|gib|k|m|g)\s*$/i.exec(s);
  if (!m) throw new Error(`--${name}: expected a size such as 64MiB or 1GiB, got "${s}"`);
  const u = { '': 1, b: 1, k: 1024, kib: 1024, m: MiB, mib: MiB, g: 1024 * MiB, gib: 1024 * MiB }[m[2].toLowerCase()];
  return Math.floor(Number(m[1]) * u);
}

/** Runs a command synchronously; throws with its stderr on failure. */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, input: opts.input });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0 && !opts.ok) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}
const tryRun = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 }).status === 0;

// ---------------------------------------------------------------------------------------------
// Tracked processes (killed by PID on exit; also listed in PIDS for the bash wrapper)

/** A tracked child (proc.mjs), run in WORK and listed in PIDS. */
class Proc extends TrackedProc {
  constructor(name, cmd, args) { super(name, cmd, args, { pidsFile: PIDS, cwd: existsSync(WORK) ? WORK : undefined }); }
}

// ---------------------------------------------------------------------------------------------
// Topology

function destroyTopology() {
  destroyNamespace(NS, [TX_DEV]);
}

/** Namespaces/links of earlier runs whose wrapper is dead (name carries its PID). */
function removeLeftovers() {
  const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
  for (const line of run('ip', ['netns', 'list']).split('\n')) {
    const m = /^sscap-(\d+)\b/.exec(line);
    if (m && m[1] !== TAG && !alive(Number(m[1]))) {
      log(`removing leftover namespace sscap-${m[1]}`);
      const r = spawnSync('ip', ['netns', 'pids', `sscap-${m[1]}`], { encoding: 'utf8' });
      for (const p of (r.stdout ?? '').split('\n')) if (Number(p) > 0) { try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ } }
      tryRun('ip', ['netns', 'del', `sscap-${m[1]}`]);
    }
  }
  for (const line of run('ip', ['-o', 'link', 'show']).split('\n')) {
    const m = /^\d+: (sscap(\d+)r)[@:]/.exec(line);
    if (m && m[2] !== TAG && !alive(Number(m[2]))) { log(`removing leftover link ${m[1]}`); tryRun('ip', ['link', 'del', m[1]]); }
  }
}

function createTopology() {
  run('ip', ['netns', 'add', NS]);
  run('ip', ['link', 'add', TX_DEV, 'address', TX_MAC, 'type', 'veth', 'peer', 'name', RX_DEV, 'address', RX_MAC, 'netns', NS]);
  const inNs = (cmd, args) => run('ip', ['netns', 'exec', NS, cmd, ...args]);
  // Quiet link: no IPv6 (no MLD/ND/RS), no addresses, offloads off.
  run('sysctl', ['-qw', `net.ipv6.conf.${TX_DEV}.disable_ipv6=1`]);
  inNs('sysctl', ['-qw', `net.ipv6.conf.${RX_DEV}.disable_ipv6=1`]);
  const off = ['tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'];
  run('ethtool', ['-K', TX_DEV, ...off]);
  inNs('ethtool', ['-K', RX_DEV, ...off]);
  run('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  run('ip', ['-n', NS, 'link', 'set', RX_DEV, 'up']);
  run('ip', ['link', 'set', TX_DEV, 'up']);
}

/** Counters of the receiving veth (in NS) and the machine's backlog drops (softnet_stat col 2). */
function linkCounters() {
  const j = JSON.parse(run('ip', ['-n', NS, '-s', '-j', 'link', 'show', RX_DEV]))[0];
  const rx = j.stats64?.rx ?? {};
  let backlogDrops = 0;
  for (const line of readFileSync('/proc/net/softnet_stat', 'utf8').trim().split('\n')) backlogDrops += parseInt(line.split(/\s+/)[1], 16);
  return { rxPackets: rx.packets ?? 0, rxDropped: rx.dropped ?? 0, backlogDrops };
}

// ---------------------------------------------------------------------------------------------
// Replay material

function mulberry32(seed) {
  let s = seed >>> 0;
  return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

function csumAdd(sum, b, off, len) {
  for (let i = 0; i + 1 < len; i += 2) sum += (b[off + i] << 8) | b[off + i + 1];
  if (len & 1) sum += b[off + len - 1] << 8;
  return sum;
}
const csumFold = (sum) => { while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536); return (~sum) & 0xffff; };

/**
 * Writes `packets` Ethernet/IPv4/TCP packets: flows of 8–40 packets (SYN, SYN/ACK, ACK, then
 * data segments of 70–600 byte frames and 64-byte pure ACKs in random directions, FIN/ACK last);
 * `active` flows in flight at any moment, each packet from a random one of them. Flow i: client
 * 10.x.y.z (unique per flow) port 1024+, server 203.0.113.(1–50):443. Timestamps 2 µs apart.
 */
function generatePcap(path, packets, { active = 2000, seed = 1 } = {}) {
  const rnd = mulberry32(seed);
  const mac = (s) => Buffer.from(s.split(':').map((h) => parseInt(h, 16)));
  const dstMac = mac(RX_MAC), srcMac = mac(TX_MAC);
  const fd = openSync(path, 'w');
  const out = Buffer.alloc(8 << 20);
  let o = 0;
  const flush = () => { writeSync(fd, out, 0, o); o = 0; };
  out.writeUInt32LE(0xa1b2c3d4, 0); out.writeUInt16LE(2, 4); out.writeUInt16LE(4, 6);
  out.writeInt32LE(0, 8); out.writeUInt32LE(0, 12); out.writeUInt32LE(65535, 16); out.writeUInt32LE(1, 20);
  o = 24;
  let flowsStarted = 0;
  const newFlow = () => {
    const i = flowsStarted++;
    const c = 0x0a000000 + 1 + i; // 10.0.0.1 + i
    return { c, s: (203 << 24 | 0 << 16 | 113 << 8 | (1 + (i % 50))) >>> 0, cport: 1024 + ((i * 7919) % 64000), sport: 443,
      left: 8 + Math.floor(rnd() * 33), j: 0, cseq: Math.floor(rnd() * 2 ** 32), sseq: Math.floor(rnd() * 2 ** 32), id: Math.floor(rnd() * 65536) };
  };
  const pool = Array.from({ length: active }, newFlow);
  let bytes = 0, ringBytes = 0;
  let usec = 0;
  const pkt = Buffer.alloc(600);
  for (let n = 0; n < packets; n++) {
    const k = Math.floor(rnd() * active);
    const f = pool[k];
    const last = f.left === 1;
    let fromClient, flags, payload, frame;
    if (f.j === 0) { fromClient = true; flags = 0x02; payload = 0; }
    else if (f.j === 1) { fromClient = false; flags = 0x12; payload = 0; }
    else if (f.j === 2) { fromClient = true; flags = 0x10; payload = 0; }
    else if (last) { fromClient = rnd() < 0.5; flags = 0x11; payload = 0; }
    else if (rnd() < 0.35) { fromClient = rnd() < 0.5; flags = 0x10; payload = 0; }
    else { fromClient = rnd() < 0.4; flags = 0x18; payload = 70 + Math.floor(rnd() * 531) - 54; }
    frame = payload ? 54 + payload : 64; // pure ACK/SYN/FIN: 40-byte IP packet plus 10 bytes of Ethernet trailer
    pkt.fill(0, 0, frame);
    dstMac.copy(pkt, 0); srcMac.copy(pkt, 6); pkt.writeUInt16BE(0x0800, 12);
    const ipLen = 40 + payload;
    const src = fromClient ? f.c : f.s, dst = fromClient ? f.s : f.c;
    const sp = fromClient ? f.cport : f.sport, dp = fromClient ? f.sport : f.cport;
    pkt[14] = 0x45; pkt.writeUInt16BE(ipLen, 16); pkt.writeUInt16BE(f.id = (f.id + 1) & 0xffff, 18); pkt.writeUInt16BE(0x4000, 20);
    pkt[22] = 64; pkt[23] = 6; pkt.writeUInt32BE(src, 26); pkt.writeUInt32BE(dst, 30);
    pkt.writeUInt16BE(csumFold(csumAdd(0, pkt, 14, 20)), 24);
    pkt.writeUInt16BE(sp, 34); pkt.writeUInt16BE(dp, 36);
    const seq = fromClient ? f.cseq : f.sseq, ack = fromClient ? f.sseq : f.cseq;
    pkt.writeUInt32BE(seq >>> 0, 38); pkt.writeUInt32BE(f.j === 0 ? 0 : ack >>> 0, 42);
    pkt[46] = 0x50; pkt[47] = flags; pkt.writeUInt16BE(65535, 48);
    for (let i = 0; i < payload; i++) pkt[54 + i] = (n + i) & 0xff;
    let sum = csumAdd(0, pkt, 26, 8) + 6 + 20 + payload; // pseudo header
    sum = csumAdd(sum, pkt, 34, 20 + payload);
    pkt.writeUInt16BE(csumFold(sum), 50);
    const adv = payload + (flags & 0x03 ? 1 : 0);
    if (fromClient) f.cseq = (f.cseq + adv) % 2 ** 32; else f.sseq = (f.sseq + adv) % 2 ** 32;
    f.j++;
    if (--f.left === 0) pool[k] = newFlow();
    if (o + 16 + frame > out.length) flush();
    usec += 2;
    out.writeUInt32LE(1_750_000_000 + Math.floor(usec / 1e6), o); out.writeUInt32LE(usec % 1e6, o + 4);
    out.writeUInt32LE(frame, o + 8); out.writeUInt32LE(frame, o + 12);
    pkt.copy(out, o + 16, 0, frame);
    o += 16 + frame;
    bytes += frame;
    ringBytes += (32 + frame + 7) & ~7;
  }
  flush();
  closeSync(fd);
  return { path, packets, flows: flowsStarted, meanFrame: bytes / packets, bytes, ringBytes };
}

// ---------------------------------------------------------------------------------------------
// Replay and measurement

/**
 * CPU of every thread of `pid`: on-CPU ns from /proc/PID/task/TID/schedstat (exact), user/sys
 * clock ticks and minor faults from .../stat (10 ms ticks: only used to split the exact total).
 */
function cpuSnapshot(pid) {
  const threads = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      threads.set(tid, { ns, comm, utime: Number(f[11]), stime: Number(f[12]), minflt: Number(f[7]) });
    } catch { /* thread gone */ }
  }
  return threads;
}

/** CPU used between two snapshots: total seconds, user/sys split, per-thread seconds, minor faults. */
function cpuDelta(a, b, pid) {
  let ns = 0, ut = 0, stt = 0, minflt = 0;
  const perThread = [];
  for (const [tid, t] of b) {
    const z = a.get(tid) ?? { ns: 0, utime: 0, stime: 0, minflt: 0 };
    const d = (t.ns - z.ns) / 1e9;
    ns += t.ns - z.ns; ut += t.utime - z.utime; stt += t.stime - z.stime; minflt += t.minflt - z.minflt;
    perThread.push({ tid: Number(tid), main: Number(tid) === pid, comm: t.comm, cpu: d });
  }
  const total = ns / 1e9;
  const userShare = ut + stt > 0 ? ut / (ut + stt) : 0.5;
  perThread.sort((x, y) => y.cpu - x.cpu);
  return { cpu: total, user: total * userShare, sys: total * (1 - userShare), minflt, perThread };
}

function procStatus(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
  // Mappings of ≥ 8 MiB (the ring, libpcap's packet buffer, V8's heap reservations) with their Rss.
  const big = [];
  let cur = null;
  for (const l of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(l);
    if (m) { cur = { size: parseInt(m[2], 16) - parseInt(m[1], 16), name: m[3] || '[anon]', rss: 0 }; if (cur.size >= 8 * MiB) big.push(cur); continue; }
    const r = /^Rss:\s+(\d+) kB/.exec(l);
    if (r && cur) cur.rss = Number(r[1]) * 1024;
  }
  return { vmRss: kib('VmRSS'), vmHwm: kib('VmHWM'), rssAnon: kib('RssAnon'), rssFile: kib('RssFile'), rssShmem: kib('RssShmem'), big };
}

async function replay(file, { pps = null, limit = null, loops = 1, pin }) {
  const args = ['-i', TX_DEV, '-K', '-q'];
  if (pps) args.push(`--pps=${pps}`); else args.push('--topspeed');
  if (limit) args.push(`--limit=${limit}`);
  if (loops > 1) args.push(`--loop=${loops}`);
  args.push(file);
  const p = pin ? new Proc('tcpreplay', 'taskset', ['-c', '0', 'tcpreplay', ...args]) : new Proc('tcpreplay', 'tcpreplay', args);
  const e = await p.wait(30 * 60_000);
  const text = p.stdout + p.stderr;
  if (e.code !== 0) throw new Error(`tcpreplay exited ${JSON.stringify(e)}: ${text.slice(-800)}`);
  const m = /Actual: (\d+) packets \((\d+) bytes\) sent in ([\d.]+) seconds/.exec(text);
  const failed = Number(/Failed packets:\s+(\d+)/.exec(text)?.[1] ?? 0);
  if (!m) throw new Error(`cannot read tcpreplay's summary: ${text.slice(-800)}`);
  return { sent: Number(m[1]), seconds: Number(m[3]), pps: Number(m[1]) / Number(m[3]), failed };
}

/** Waits until the process has used ≤ 12 ms of CPU in 600 ms (false after 20 s). */
const NOT_IDLE = [];
async function waitIdle(pid, timeoutMs = 20_000) {
  const t0 = Date.now();
  const hist = [];
  for (;;) {
    let ns = 0;
    for (const t of cpuSnapshot(pid).values()) ns += t.ns;
    hist.push(ns / 1e9);
    if (hist.length >= 4 && hist.at(-1) - hist.at(-4) <= 0.012) return true; // ≤ 2% of a core
    if (Date.now() - t0 > timeoutMs) return false;
    await sleep(200);
  }
}

/**
 * Starts one capturing process in NS (pinned to CPU 1 unless --no-pin) and waits until it listens.
 *   'tcpdump'   tcpdump -w /dev/null; mark() = SIGUSR1 (it prints its counters), stop() = SIGINT
 *   'slowshake' the CLI, `slowshake capture`; counters only from its final summary (no mark())
 *   'lib'       bench-capture-ring.mjs --mode capture: LiveCapture as the CLI uses it, with
 *               counters on demand (mark()), so one process can be measured over two replays
 * mark()/stop() resolve to cumulative { received, kernelReceived, drops, ifDrops, overwrites }.
 */
async function startTool(kind, app, o, ringSize) {
  const common = ['--buffer-size', String(o.bufferSize), '--snaplen', String(o.snaplen), ...(o.filter ? ['--filter', o.filter] : [])];
  const argv = {
    tcpdump: ['tcpdump', '-i', RX_DEV, '-w', '/dev/null', '-B', String(Math.floor(o.bufferSize / 1024)), '-s', String(o.snaplen), '-n', '-Z', 'root', ...(o.filter ? [o.filter] : [])],
    // Capture only: no journal follower (its work depends on the machine's journal traffic), and
    // whatever the CLI writes goes under WORK, not into the work tree.
    slowshake: [process.execPath, join(app, 'dist/cli/index.js'), 'capture', '-i', RX_DEV, '--ring-size', String(ringSize), ...common,
      '--out', join(WORK, 'cli-out'), ...(o.cliNoJournal ? ['--no-journal'] : [])],
    lib: [process.execPath, join(HERE, 'bench-capture-ring.mjs'), '--mode', 'capture', '--app', app, '--device', RX_DEV, '--ring-size', String(ringSize), ...common],
  }[kind];
  // `ip netns exec` and taskset exec the tool: the PID we spawn is the tool's.
  const p = new Proc(kind, 'ip', ['netns', 'exec', NS, ...(o.pin ? ['taskset', '-c', '1'] : []), ...argv]);
  try { appendFileSync(PIDS, `${p.pid}\t${argv[0]}\n`); } catch { /* best effort */ }
  await p.waitFor({ tcpdump: /listening on/, slowshake: /Capturing on/, lib: /READY/ }[kind]);
  const tdRe = /(\d+) packets? captured, (\d+) packets? received by filter, (\d+) packets? dropped by kernel/g;
  const libStats = () => [...p.stdout.matchAll(/^STATS (.*)$/gm)].map((m) => JSON.parse(m[1]));
  const tool = {
    kind, p, pid: p.pid,
    async mark() {
      if (kind === 'tcpdump') {
        const n = [...p.stderr.matchAll(tdRe)].length;
        process.kill(p.pid, 'SIGUSR1');
        const t0 = Date.now();
        for (;;) {
          const all = [...p.stderr.matchAll(tdRe)];
          if (all.length > n) { const m = all.at(-1); return { received: Number(m[1]), kernelReceived: Number(m[2]), drops: Number(m[3]), ifDrops: 0, overwrites: null }; }
          if (Date.now() - t0 > 10_000 || p.exit) throw new Error(`tcpdump did not print its counters on SIGUSR1: ${p.stderr.slice(-500)}`);
          await sleep(20);
        }
      }
      if (kind === 'lib') {
        const n = libStats().length;
        p.child.stdin.write('MARK\n');
        const t0 = Date.now();
        while (libStats().length <= n) {
          if (Date.now() - t0 > 10_000 || p.exit) throw new Error(`capture helper did not answer MARK: ${p.stderr.slice(-500)}`);
          await sleep(20);
        }
        return libStats().at(-1);
      }
      throw new Error('the slowshake CLI prints its counters only when it stops');
    },
    async stop() {
      if (kind === 'lib') p.child.stdin.write('QUIT\n'); else process.kill(p.pid, 'SIGINT');
      const e = await p.wait(60_000);
      if (kind === 'lib') {
        if (e.code !== 0) throw new Error(`capture helper exited ${JSON.stringify(e)}: ${p.stderr.slice(-800)}`);
        return libStats().at(-1);
      }
      if (kind === 'tcpdump') {
        const m = /(\d+) packets? captured\n(\d+) packets? received by filter\n(\d+) packets? dropped by kernel/.exec(p.stderr);
        if (!m) throw new Error(`tcpdump: cannot read its counts (exit ${JSON.stringify(e)}): ${p.stderr.slice(-800)}`);
        return { received: Number(m[1]), kernelReceived: Number(m[2]), drops: Number(m[3]), ifDrops: Number(/(\d+) packets? dropped by interface/.exec(p.stderr)?.[1] ?? 0), overwrites: null };
      }
      const m = /Packets: (\d+) captured .*kernel received (\d+), kernel drops (\d+), interface drops (\d+)/.exec(p.stdout);
      if (!m) throw new Error(`slowshake capture: cannot read its summary (exit ${JSON.stringify(e)}): ${p.stdout.slice(-800)} ${p.stderr.slice(-800)}`);
      return { received: Number(m[1]), kernelReceived: Number(m[2]), drops: Number(m[3]), ifDrops: Number(m[4]), overwrites: Number(/(\d+) records overwritten/.exec(p.stdout)?.[1]), summary: p.stdout.trim() };
    },
  };
  return tool;
}

const ZERO = { received: 0, kernelReceived: 0, drops: 0, ifDrops: 0, overwrites: 0 };

/**
 * One capturing process measured over one or more replays (phases). For each phase: the replay's
 * figures, the tool's counters (differences of cumulative ones), CPU from just before the replay
 * until the tool went idle afterwards (≥ 1.5 s after the replay, as tcpdump hands over a partly
 * filled block only after its 1 s timeout), and memory at that point.
 */
async function measuredRun(kind, app, file, o, ringSize, phases, { idleProbeMs = 0 } = {}) {
  const t = await startTool(kind, app, o, ringSize);
  const results = [];
  try {
    await sleep(300);
    if (idleProbeMs) {
      // CPU with no traffic at all (timers, polling), per second, and by thread.
      const a = cpuSnapshot(t.pid);
      await sleep(idleProbeMs);
      const d = cpuDelta(a, cpuSnapshot(t.pid), t.pid);
      results.idleMsPerSec = (d.cpu * 1000) / (idleProbeMs / 1000);
      results.idleMainMsPerSec = (d.perThread.filter((x) => x.main).reduce((x, y) => x + y.cpu, 0) * 1000) / (idleProbeMs / 1000);
    }
    let c0 = cpuSnapshot(t.pid), l0 = linkCounters(), k0 = ZERO;
    for (let i = 0; i < phases.length; i++) {
      const rp = await replay(file, { ...phases[i], pin: o.pin });
      await sleep(1500);
      const idle = await waitIdle(t.pid);
      const c1 = cpuSnapshot(t.pid), mem = procStatus(t.pid), l1 = linkCounters();
      // The CLI has no counters before it stops: its earlier phases get none, its last one the totals.
      const last = i === phases.length - 1;
      const k1 = kind === 'slowshake' ? (last ? await t.stop() : null) : await t.mark();
      const cpu = cpuDelta(c0, c1, t.pid);
      if (!idle) NOT_IDLE.push(`${kind} (ring ${fmtMiB(ringSize)}, buffer ${fmtMiB(o.bufferSize)}) replay ${i + 1} of ${phases.length}: ${cpu.cpu.toFixed(1)} s CPU, ` +
        cpu.perThread.slice(0, 3).map((x) => `${x.main ? 'main' : 'tid ' + x.tid} ${x.cpu.toFixed(1)} s`).join(', '));
      const k = k1 ?? { received: NaN, kernelReceived: NaN, drops: NaN, ifDrops: NaN, overwrites: null };
      results.push({
        tool: kind, replay: rp, idle, mem, ...cpu,
        received: k.received - k0.received, kernelReceived: k.kernelReceived - k0.kernelReceived, drops: k.drops - k0.drops, ifDrops: k.ifDrops - k0.ifDrops,
        overwrites: k.overwrites ?? null, summary: k.summary,
        rxPackets: l1.rxPackets - l0.rxPackets, rxDropped: l1.rxDropped - l0.rxDropped, backlogDrops: l1.backlogDrops - l0.backlogDrops,
      });
      c0 = c1; l0 = l1; if (k1) k0 = k1;
    }
    if (!t.p.exit) {
      const k = await t.stop();
      // Anything counted after the last mark (there should be nothing: the tool was idle).
      const last = results.at(-1);
      last.lateReceived = k.received - k0.received;
      last.lateDrops = k.drops - k0.drops;
    }
    return results;
  } finally {
    t.p.kill('SIGKILL');
    await t.p.exited;
  }
}

async function lookupRun(app, file, o, gen) {
  const args = ['netns', 'exec', NS, ...(o.pin ? ['taskset', '-c', '1'] : []), process.execPath, '--expose-gc', join(HERE, 'bench-capture-ring.mjs'),
    '--app', app, '--device', RX_DEV, '--filter', o.filter, '--buffer-size', String(o.bufferSize), '--ring-size', String(o.lookupRing),
    '--snaplen', String(o.snaplen), '--lookups', String(o.lookups)];
  const p = new Proc('lookup', 'ip', args);
  try {
    await p.waitFor(/READY/);
    await sleep(300);
    const rp = await replay(file, { pin: o.pin });
    await sleep(500);
    p.child.stdin.write('GO\n');
    await p.waitFor(/RESULT /, 10 * 60_000);
    await p.wait(30_000);
    const r = JSON.parse(/RESULT (.*)/.exec(p.stdout)[1]);
    r.replay = rp;
    return r;
  } finally {
    p.kill('SIGKILL');
    await p.exited;
  }
}

// ---------------------------------------------------------------------------------------------
// Main

function otherBenchmarks() {
  const q = (args) => spawnSync('pgrep', args, { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number).filter((p) => p !== process.pid);
  // bench-spot (another live-ring benchmark) loads the CPUs the same way.
  return [...q(['-f', 'bench-analyze']), ...q(['-x', 'tshark']), ...q(['-f', 'bench-spot'])];
}

async function waitQuiet() {
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    const busy = otherBenchmarks();
    if (busy.length === 0) return true;
    if (Date.now() > deadline) return false;
    log(`waiting for bench-analyze/tshark/bench-spot to finish (PIDs ${busy.join(', ')}), polling every 30 s`);
    await sleep(30_000);
  }
}

function privateApp() {
  // Private copy of the build: dist/, and the addon as a real package; other packages via symlinks.
  const app = join(WORK, 'app');
  mkdirSync(join(app, 'node_modules', 'slowshake-capture', 'build', 'Release'), { recursive: true });
  cpSync(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  for (const f of ['index.cjs', 'package.json']) copyFileSync(join(ROOT, 'native', f), join(app, 'node_modules', 'slowshake-capture', f));
  copyFileSync(join(ROOT, 'native/build/Release/slowshake_capture.node'), join(app, 'node_modules/slowshake-capture/build/Release/slowshake_capture.node'));
  for (const e of readdirSync(join(ROOT, 'node_modules'))) {
    if (e !== 'slowshake-capture') symlinkSync(join(ROOT, 'node_modules', e), join(app, 'node_modules', e));
  }
  return app;
}

async function main() {
  const { values: v } = parseArgs({
    options: {
      packets: { type: 'string' }, rates: { type: 'string' }, seconds: { type: 'string' }, runs: { type: 'string' },
      filter: { type: 'string', default: 'tcp port 443' }, 'buffer-size': { type: 'string', default: '64MiB' },
      snaplen: { type: 'string', default: '262144' }, 'ring-size': { type: 'string', default: '256MiB' },
      'lookup-ring': { type: 'string', default: '512MiB' }, lookups: { type: 'string' }, 'rss-rings': { type: 'string' },
      'drop-buffers': { type: 'string' }, only: { type: 'string', default: 'cpu,drops,lookup,rss' }, 'wait-quiet': { type: 'boolean' }, 'no-pin': { type: 'boolean' },
      'no-build': { type: 'boolean' }, keep: { type: 'boolean' }, quick: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) { console.log(usage()); return 0; }
  if (process.getuid() !== 0) throw new Error('needs root (network namespaces, veth, packet capture)');
  for (const t of ['tcpreplay', 'tcpdump', 'ethtool', 'taskset']) if (!tryRun('which', [t])) throw new Error(`${t} is missing (scripts/install.sh)`);
  const q = v.quick;
  const o = {
    packets: num(v.packets ?? (q ? '200k' : '1.2M'), 'packets'),
    rates: (v.rates ?? (q ? 'topspeed,100k' : 'topspeed,500k,300k,100k')).split(',').map((r) => (r.trim() === 'topspeed' ? null : num(r, 'rates'))),
    seconds: Number(v.seconds ?? (q ? 2 : 6)),
    runs: num(v.runs ?? (q ? '1' : '3'), 'runs'),
    filter: v.filter, bufferSize: size(v['buffer-size'], 'buffer-size'), snaplen: Number(v.snaplen),
    ringSize: size(v['ring-size'], 'ring-size'), lookupRing: size(v['lookup-ring'], 'lookup-ring'),
    lookups: num(v.lookups ?? (q ? '50' : '200'), 'lookups'),
    rssRings: (v['rss-rings'] ?? (q ? '64MiB' : '64MiB,256MiB,1GiB')).split(',').map((s) => size(s, 'rss-rings')),
    dropBuffers: (v['drop-buffers'] ?? (q ? '1MiB' : '4MiB,1MiB,256KiB')).split(',').map((s) => size(s, 'drop-buffers')),
    only: new Set(v.only.split(',').map((s) => s.trim())),
    pin: !v['no-pin'] && cpus().length >= 2,
  };

  if (!v['no-build']) {
    log('npm run build');
    const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`npm run build failed: ${(b.stdout + b.stderr).trim().slice(-1500)}`);
  }
  removeLeftovers();
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  writeFileSync(PIDS, '');
  const app = privateApp();
  const cliHelp = spawnSync(process.execPath, [join(app, 'dist/cli/index.js'), 'capture', '--help'], { encoding: 'utf8', cwd: WORK }).stdout ?? '';
  o.cliNoJournal = cliHelp.includes('--no-journal');
  const addonTime = statSync(join(ROOT, 'native/build/Release/slowshake_capture.node')).mtimeMs;
  const staleAddon = readdirSync(join(ROOT, 'native/src')).filter((f) => statSync(join(ROOT, 'native/src', f)).mtimeMs > addonTime);
  if (staleAddon.length) log(`WARNING: native/src/{${staleAddon.join(',')}} newer than the built addon (npm rebuild slowshake-capture)`);
  const head = spawnSync('git', ['-C', ROOT, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).stdout.trim().slice(0, 100);
  const dirty = spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'native'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);

  log(`generating ${fmtInt(o.packets)} packets`);
  const gen = generatePcap(join(WORK, 'replay.pcap'), o.packets);
  log(`${fmtInt(gen.flows)} flows, mean frame ${gen.meanFrame.toFixed(0)} B, ${fmtMiB(gen.bytes)} of frames, ${fmtMiB(gen.ringBytes)} as ring records`);

  createTopology();

  let quiet = null;
  if (v['wait-quiet']) {
    quiet = await waitQuiet();
    if (!quiet) log('WARNING: bench-analyze/tshark/bench-spot still running after 20 minutes; measuring anyway');
  }
  const busyAtStart = otherBenchmarks();
  const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const started = new Date();

  const file = join(WORK, 'replay.pcap');
  // Replaying the whole file this many times writes ≥ 1.05× the drop/CPU ring: it has wrapped.
  const fillLoops = Math.max(1, Math.ceil((1.05 * o.ringSize) / gen.ringBytes));
  const rateName = (pps) => (pps ? `${fmtRate(pps)} pps` : 'topspeed');
  const runLine = (label, r) => log(`${label}: sent ${fmtInt(r.replay.sent)} at ${fmtRate(r.replay.pps)} pps, veth rx ${fmtInt(r.rxPackets)}, ` +
    `received ${fmtInt(r.received)}, kernel drops ${fmtInt(r.drops)}, CPU ${r.cpu.toFixed(3)} s = ${(r.cpu / r.rxPackets * 1e6).toFixed(3)} s/Mpkt, ` +
    `${fmtInt(r.minflt)} minor faults, RSS ${fmtMiB(r.mem.vmRss)}${r.idle ? '' : ' (NEVER WENT IDLE)'}`);

  // 4. Drops and CPU. Each run: a fresh process; phase "fill" replays the file at topspeed until
  //    the ring has wrapped (first touch of the ring's pages), phase "at" is the measured replay.
  const cpuRows = [];
  const cliRuns = [];
  const idleCost = {};
  if (o.only.has('cpu')) {
    for (const pps of o.rates) {
      const limit = pps ? Math.min(o.packets, Math.round(pps * o.seconds)) : null;
      const runs = { tcpdump: [], lib: [] };
      for (let i = 0; i < o.runs; i++) {
        for (const tool of i % 2 ? ['lib', 'tcpdump'] : ['tcpdump', 'lib']) {
          const [fill, at] = await measuredRun(tool, app, file, o, o.ringSize, [{ loops: fillLoops }, { pps, limit }]);
          runs[tool].push({ fill, at });
          runLine(`${rateName(pps)} run ${i + 1} ${pad(tool, 7)} fill`, fill);
          runLine(`${rateName(pps)} run ${i + 1} ${pad(tool, 7)} ${pad(rateName(pps), 4)}`, at);
        }
      }
      cpuRows.push({ pps, limit, runs });
    }
    // Idle cost (no traffic) of tcpdump and of the helper, for comparison with the CLI's.
    for (const kind of ['tcpdump', 'lib']) {
      const rs = await measuredRun(kind, app, file, o, o.ringSize, [{ limit: 1000 }], { idleProbeMs: 3000 });
      idleCost[kind] = rs.idleMsPerSec;
    }
    // The product itself: `slowshake capture`, same two phases at topspeed (its counters are only
    // printed at the end, so drops are for both phases together).
    for (let i = 0; i < o.runs; i++) {
      const rs = await measuredRun('slowshake', app, file, o, o.ringSize, [{ loops: fillLoops }, {}], { idleProbeMs: 3000 });
      const [fill, at] = rs;
      cliRuns.push({ fill, at, idleMsPerSec: rs.idleMsPerSec, idleMainMsPerSec: rs.idleMainMsPerSec });
      log(`CLI run ${i + 1}: fill CPU ${fill.cpu.toFixed(3)} s, topspeed CPU ${at.cpu.toFixed(3)} s, total received ${fmtInt(at.received)} of ${fmtInt(fill.rxPackets + at.rxPackets)}, ` +
        `kernel drops ${fmtInt(at.drops)}, ${fmtInt(fill.minflt + at.minflt)} minor faults${fill.idle && at.idle ? '' : ' (NEVER WENT IDLE)'}`);
    }
  }

  // 4b. Where drops begin: the same two-phase runs at topspeed with smaller kernel buffers.
  const dropRows = [];
  if (o.only.has('drops')) {
    for (const buf of o.dropBuffers) {
      const ob = { ...o, bufferSize: buf };
      const runs = { tcpdump: [], lib: [] };
      for (let i = 0; i < o.runs; i++) {
        for (const tool of i % 2 ? ['lib', 'tcpdump'] : ['tcpdump', 'lib']) {
          const [fill, at] = await measuredRun(tool, app, file, ob, o.ringSize, [{ loops: fillLoops }, {}]);
          runs[tool].push({ fill, at });
          runLine(`buffer ${fmtMiB(buf)} run ${i + 1} ${pad(tool, 7)} fill`, fill);
          runLine(`buffer ${fmtMiB(buf)} run ${i + 1} ${pad(tool, 7)} topspeed`, at);
        }
      }
      dropRows.push({ buf, runs });
    }
  }

  // 5. Lookup
  let look = null;
  if (o.only.has('lookup')) {
    log(`lookup: filling a ${fmtMiB(o.lookupRing)} ring with the whole file`);
    look = await lookupRun(app, file, o, gen);
  }

  // 6. RSS (the CLI), then tcpdump for scale.
  const rssRows = [];
  let tcpdumpMem = null;
  if (o.only.has('rss')) {
    for (const ring of o.rssRings) {
      const loops = Math.max(1, Math.ceil((1.3 * ring) / gen.ringBytes));
      const [r] = await measuredRun('slowshake', app, file, o, ring, [{ loops }]);
      rssRows.push({ ring, loops, r });
      log(`rss ring ${fmtMiB(ring)}: ${loops} loop(s), ${fmtInt(r.received)} packets, ${fmtInt(r.overwrites)} overwrites, VmRSS ${fmtMiB(r.mem.vmRss)}, VmHWM ${fmtMiB(r.mem.vmHwm)}`);
    }
    [tcpdumpMem] = await measuredRun('tcpdump', app, file, o, 0, [{ loops: 1 }]);
  }
  const busyAtEnd = otherBenchmarks();

  // 7. Report
  const L = [];
  const uname = run('uname', ['-r']).trim();
  const trv = /tcpreplay version: (\S+)/.exec(spawnSync('tcpreplay', ['--version'], { encoding: 'utf8' }).stderr)?.[1] ?? '?';
  const tdv = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' }).stdout.split('\n').slice(0, 2).join(', ');
  L.push(`slowshake live-capture benchmark, ${started.toISOString()}; kernel ${uname}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}`);
  L.push(`Code: ${head}${dirty.length ? ` + uncommitted changes in ${dirty.length} file(s) under src/ native/` : ''}${staleAddon.length ? '; WARNING: addon older than native/src' : ''}; ` +
    `CLI run as \`slowshake capture${o.cliNoJournal ? ' --no-journal' : ''}\``);
  L.push(`tcpreplay ${trv}; ${tdv}`);
  L.push(`Replay file: ${fmtInt(gen.packets)} packets, ${fmtInt(gen.flows)} TCP flows (distinct 5-tuples), frames 64–600 B (mean ${gen.meanFrame.toFixed(0)} B), ${fmtMiB(gen.bytes)}`);
  L.push(`Both tools: filter "${o.filter}" (matches every replayed packet), snaplen ${o.snaplen}, kernel buffer ${fmtMiB(o.bufferSize)}, promiscuous, on veth0 in a netns ` +
    `(offloads off), fed by tcpreplay -K from the root-namespace peer. tcpdump -w /dev/null; slowshake ring ${fmtMiB(o.ringSize)}. ` +
    `${o.pin ? 'tcpreplay pinned to CPU 0, capturing process to CPU 1.' : 'No CPU pinning.'}`);
  L.push(`Other benchmarks (bench-analyze/tshark/bench-spot) running: at start ${busyAtStart.length ? 'YES (PIDs ' + busyAtStart.join(',') + ')' : 'none'}, ` +
    `at end ${busyAtEnd.length ? 'YES (PIDs ' + busyAtEnd.join(',') + ')' : 'none'}${quiet === null ? ' (did not wait for quiet)' : ''}; load average at start ${load0}`);
  L.push('');
  const agg = (rs) => ({
    sent: median(rs.map((r) => r.replay.sent)), pps: median(rs.map((r) => r.replay.pps)), rx: median(rs.map((r) => r.rxPackets)),
    received: median(rs.map((r) => r.received)), drops: median(rs.map((r) => r.drops)),
    dmin: Math.min(...rs.map((r) => r.drops)), dmax: Math.max(...rs.map((r) => r.drops)), ifd: Math.max(...rs.map((r) => r.ifDrops)),
    // per million packets delivered to the veth (= matched by the filter), whether captured or dropped
    cpm: median(rs.map((r) => (r.cpu / r.rxPackets) * 1e6)), upm: median(rs.map((r) => (r.user / r.rxPackets) * 1e6)),
    spm: median(rs.map((r) => (r.sys / r.rxPackets) * 1e6)), fpm: median(rs.map((r) => (r.minflt / r.rxPackets) * 1e6)),
    main: median(rs.map((r) => r.perThread.filter((t) => t.main).reduce((x, t) => x + t.cpu, 0) / Math.max(r.cpu, 1e-9))),
    top: median(rs.map((r) => (r.perThread.filter((t) => !t.main)[0]?.cpu ?? 0) / Math.max(r.cpu, 1e-9))),
  });
  const header = [pad('rate', 15), lpad('sent', 10), lpad('sent pps', 9), ' ', pad('tool', 10), lpad('received', 10), lpad('kernel drops (min–max)', 23), lpad('if drops', 8),
    lpad('CPU s/Mpkt', 11), lpad('(user + sys)', 17), lpad('ratio', 6), '  goals'].join(' ');
  const line = (rate, a, name, extra) => [pad(rate, 15), lpad(rate ? fmtInt(a.sent) : '', 10), lpad(rate ? fmtRate(a.pps) : '', 9), ' ', pad(name, 10), lpad(fmtInt(a.received), 10),
    lpad(`${fmtInt(a.drops)} (${fmtInt(a.dmin)}–${fmtInt(a.dmax)})`, 23), lpad(fmtInt(a.ifd), 8), lpad(a.cpm.toFixed(3), 11), lpad(`(${a.upm.toFixed(3)} + ${a.spm.toFixed(3)})`, 17), ...extra].join(' ');
  const goals = (t, s) => {
    const ratio = s.cpm / t.cpm;
    const d = t.dmax === 0 ? (s.dmax === 0 ? 'drops OK' : 'drops FAIL') : `drops n/a: tcpdump drops too (slowshake ${s.drops <= t.drops ? '≤' : '>'} tcpdump)`;
    return [lpad(`${ratio.toFixed(2)}×`, 6), ` ${d}; ${ratio <= GOAL_CPU_RATIO ? 'CPU OK' : 'CPU FAIL'}`];
  };
  if (cpuRows.length) {
    L.push(`A. Steady state (ring already wrapped once): ${o.runs} separate captures per tool and rate, tools alternating; median (drops: median and min–max).`);
    L.push(`   CPU = user+sys of the capturing process, all threads (exact on-CPU time from /proc/PID/task/*/schedstat; user/sys split from tick counts), from`);
    L.push(`   just before the replay until the tool went idle, per million packets delivered to the veth. slowshake = LiveCapture as the CLI drives it (helper).`);
    L.push(`   Goals: slowshake has zero kernel drops wherever tcpdump has zero; slowshake CPU per packet ≤ ${GOAL_CPU_RATIO}× tcpdump's.`);
    L.push(header);
    L.push('-'.repeat(header.length + 40));
    for (const row of cpuRows) {
      const t = agg(row.runs.tcpdump.map((x) => x.at)), s = agg(row.runs.lib.map((x) => x.at));
      L.push(line(rateName(row.pps), t, 'tcpdump', [lpad('', 6)]));
      L.push(line('', s, 'slowshake', goals(t, s)));
    }
    L.push('');
    const tf = agg(cpuRows.flatMap((r) => r.runs.tcpdump.map((x) => x.fill))), sf = agg(cpuRows.flatMap((r) => r.runs.lib.map((x) => x.fill)));
    const cf = agg(cliRuns.map((x) => x.fill)), ca = agg(cliRuns.map((x) => x.at));
    L.push(`B. First fill: a freshly started capture, the file replayed ${fillLoops}× at topspeed so the ${fmtMiB(o.ringSize)} ring wraps once (its pages are touched for the first time);`);
    L.push(`   median over the fill phase of all runs above (${tf.received ? cpuRows.length * o.runs : 0} per tool), and ${cliRuns.length} runs of the CLI \`slowshake capture\` itself (fill, then the whole file once more;`);
    L.push('   the CLI prints its counters only at exit, so its drops cover both phases).');
    L.push(header + lpad('faults/Mpkt', 13));
    L.push('-'.repeat(header.length + 40));
    L.push(line('fill', tf, 'tcpdump', [lpad('', 6), lpad('', 40), lpad(fmtInt(tf.fpm), 13)]));
    L.push(line('', sf, 'slowshake', [...goals(tf, sf), lpad(fmtInt(sf.fpm), 13)]));
    if (cliRuns.length) {
      const cliBoth = { ...cf, received: NaN, drops: median(cliRuns.map((x) => x.at.drops)), dmin: Math.min(...cliRuns.map((x) => x.at.drops)), dmax: Math.max(...cliRuns.map((x) => x.at.drops)) };
      L.push(line('', cliBoth, 'CLI', [lpad(`${(cf.cpm / tf.cpm).toFixed(2)}×`, 6), ` (drops: both phases)`.padEnd(39), lpad(fmtInt(cf.fpm), 13)]));
      L.push(line('topspeed', { ...ca, received: median(cliRuns.map((x) => x.at.received)) }, 'CLI', [lpad(`${(ca.cpm / agg(cpuRows.find((r) => r.pps === null)?.runs.tcpdump.map((x) => x.at) ?? []).cpm).toFixed(2)}×`, 6),
        ' (2nd phase, ring wrapped; ratio to tcpdump topspeed in A; received = whole run)'.padEnd(39), lpad(fmtInt(ca.fpm), 13)]));
    }
    L.push('');
    L.push('   CPU by thread (share of the process\'s CPU, median): ' +
      `slowshake helper steady state: main JS thread ${(agg(cpuRows.flatMap((r) => r.runs.lib.map((x) => x.at))).main * 100).toFixed(0)}%, ` +
      `busiest other thread (capture) ${(agg(cpuRows.flatMap((r) => r.runs.lib.map((x) => x.at))).top * 100).toFixed(0)}%; ` +
      `CLI fill: main ${(cf.main * 100).toFixed(0)}%, capture ${(cf.top * 100).toFixed(0)}%; tcpdump: one thread.`);
    if (cliRuns.length) {
      L.push(`   Idle cost (no traffic, 3 s): tcpdump ${idleCost.tcpdump?.toFixed(1)} ms CPU/s, slowshake helper ${idleCost.lib?.toFixed(1)} ms/s, ` +
        `CLI ${median(cliRuns.map((x) => x.idleMsPerSec)).toFixed(1)} ms/s (main JS thread ${median(cliRuns.map((x) => x.idleMainMsPerSec)).toFixed(1)} ms/s).`);
    }
    L.push('');
    L.push('Per run, steady-state phase: sent / veth rx / backlog drops | received, kernel received, kernel drops, CPU s (user+sys), minor faults');
    for (const row of cpuRows) {
      for (const tool of ['tcpdump', 'lib']) {
        L.push(`  ${pad(rateName(row.pps), 9)} ${pad(tool === 'lib' ? 'slowshake' : tool, 9)} ` + row.runs[tool].map(({ at: r }) =>
          `[${fmtInt(r.replay.sent)}/${fmtInt(r.rxPackets)}/${fmtInt(r.backlogDrops)} | ${fmtInt(r.received)}, ${fmtInt(r.kernelReceived)}, ${fmtInt(r.drops)}, ${r.cpu.toFixed(3)} (${r.user.toFixed(2)}+${r.sys.toFixed(2)}), ${fmtInt(r.minflt)}]`).join(' '));
      }
    }
    L.push('');
  }
  if (dropRows.length) {
    L.push(`C. Where drops begin: topspeed with smaller kernel buffers (otherwise as A; "fill" = first pass of a fresh process, "steady" = the pass after the ring wrapped).`);
    L.push(header);
    L.push('-'.repeat(header.length + 40));
    for (const { buf, runs } of dropRows) {
      for (const phase of ['fill', 'at']) {
        const t = agg(runs.tcpdump.map((x) => x[phase])), s = agg(runs.lib.map((x) => x[phase]));
        L.push(line(`${fmtMiB(buf)} ${phase === 'at' ? 'steady' : 'fill'}`, t, 'tcpdump', [lpad('', 6)]));
        L.push(line('', s, 'slowshake', goals(t, s)));
      }
    }
    L.push('');
  }
  if (look) {
    const R = look.ring;
    L.push(`D. Ring lookup: ${fmtMiB(R.size)} ring holding ${fmtInt(R.records)} records of ${fmtInt(look.flows)} flows (reach ${R.reachSeconds.toFixed(2)} s; filled by one topspeed replay at ` +
      `${fmtRate(look.replay.pps)} pps, kernel drops ${fmtInt(R.kernelDrops)}); ${o.lookups} random flows after 100 warm-up lookups; RingReader.lookupFlow timed with performance.now(),`);
    L.push(`   capture still running (idle); the harness's own garbage (a full ring walk to learn the flows) collected before timing.`);
    L.push(`   Windows: (a) [first packet − 5 s, first packet + 5 s], (b) [first packet, last packet] of the flow; (c) a flow the ring does not hold`);
    L.push(`   (a real flow's 4-tuple with another client port) over (a)'s window, as for an event about a connection that was never captured.`);
    L.push(`   Goal: p99 ≤ ${GOAL_LOOKUP_P99_MS} ms with ≥ 1M packets in the ring${R.records < 1e6 ? ` — NOTE: only ${fmtInt(R.records)} records in the ring` : ''}.`);
    L.push([pad('window', 18), lpad('p50 ms', 8), lpad('p99 ms', 8), lpad('max ms', 8), lpad('scanned p50', 12), lpad('scanned max', 12), lpad('pkts/flow p50', 14), lpad('ns/record', 10), lpad('wrong', 6), lpad('torn', 5), '  goal'].join(' '));
    for (const [name, x] of Object.entries(look.windows)) {
      const p99 = quantile(x.ms, 0.99);
      L.push([pad(name, 18), lpad(quantile(x.ms, 0.5).toFixed(2), 8), lpad(p99.toFixed(2), 8), lpad(Math.max(...x.ms).toFixed(2), 8), lpad(fmtInt(median(x.scanned)), 12),
        lpad(fmtInt(Math.max(...x.scanned)), 12), lpad(fmtInt(median(x.packets)), 14),
        lpad(median(x.ms.map((ms, i) => (ms * 1e6) / Math.max(1, x.scanned[i]))).toFixed(1), 10), lpad(x.wrong, 6), lpad(x.torn, 5), `  ${p99 <= GOAL_LOOKUP_P99_MS ? 'OK' : 'FAIL'}`].join(' '));
    }
    if (look.stalls) L.push(`   Machine stalls in a 2 s busy loop on the same CPU just before: ${look.stalls.over1ms} gaps > 1 ms, largest ${look.stalls.top.map((g) => g.toFixed(1)).join(', ')} ms (a lookup hit by one is slow for that reason alone).`);
    L.push(`   (scanned = record headers read; wrong = lookups whose packet count differed from the flow's count in a full ring walk, which took ${R.walkMs.toFixed(0)} ms)`);
    L.push('');
  }
  if (rssRows.length) {
    L.push(`E. RSS of \`slowshake capture\` (kernel buffer ${fmtMiB(o.bufferSize)}), from /proc/PID/status after the ring wrapped (file replayed at topspeed until ≥ 1.3× the ring was written), before stopping.`);
    L.push('   Goal: VmHWM ≤ 1.05 × ring + 80 MiB.');
    L.push([pad('ring', 9), lpad('replayed', 11), lpad('overwrites', 11), lpad('VmRSS', 10), lpad('VmHWM', 10), lpad('RssAnon', 10), lpad('RssFile', 10), lpad('RssShmem', 10), lpad('limit', 10), lpad('HWM − ring', 11), '  goal'].join(' '));
    for (const { ring, r } of rssRows) {
      const lim = GOAL_RSS(ring);
      L.push([pad(fmtMiB(ring), 9), lpad(fmtInt(r.received), 11), lpad(fmtInt(r.overwrites), 11), lpad(fmtMiB(r.mem.vmRss), 10), lpad(fmtMiB(r.mem.vmHwm), 10), lpad(fmtMiB(r.mem.rssAnon), 10),
        lpad(fmtMiB(r.mem.rssFile), 10), lpad(fmtMiB(r.mem.rssShmem), 10), lpad(fmtMiB(lim), 10), lpad(fmtMiB(r.mem.vmHwm - ring), 11),
        `  ${r.mem.vmHwm <= lim ? 'OK' : 'FAIL'}${r.overwrites > 0 ? '' : ' (ring did not wrap!)'}`].join(' '));
    }
    for (const { ring, r } of rssRows) {
      L.push(`   ring ${fmtMiB(ring)}: mappings ≥ 8 MiB (size: resident) ` + r.mem.big.filter((m) => m.rss >= MiB).map((m) => `${m.name} ${fmtMiB(m.size)}: ${fmtMiB(m.rss)}`).join(', ') +
        `; everything else ${fmtMiB(r.mem.vmRss - r.mem.big.reduce((x, m) => x + m.rss, 0))}`);
    }
    const t = tcpdumpMem;
    if (t) L.push(`   For scale, tcpdump -w /dev/null with the same kernel buffer: VmRSS ${fmtMiB(t.mem.vmRss)}, VmHWM ${fmtMiB(t.mem.vmHwm)} (RssAnon ${fmtMiB(t.mem.rssAnon)}, RssFile ${fmtMiB(t.mem.rssFile)}, RssShmem ${fmtMiB(t.mem.rssShmem)}).`);
  }
  if (NOT_IDLE.length) {
    L.push('');
    L.push(`WARNING: ${NOT_IDLE.length} capture(s) never went idle after a replay (still using CPU 20 s later; their CPU figures include that):`);
    for (const n of NOT_IDLE) L.push(`  ${n}`);
  }
  console.log(L.join('\n'));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Cleanup on every way out

let keep = process.argv.includes('--keep');
function cleanup() {
  killTracked();
  destroyTopology();
  if (!keep) rmSync(WORK, { recursive: true, force: true });
  rmSync(PIDS, { force: true });
}
process.on('exit', cleanup);
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) process.on(sig, () => { log(`${sig}: cleaning up`); process.exit(code); });

main().then((code) => { process.exitCode = code; }, (err) => { log(`error: ${err.stack ?? err.message}`); process.exitCode = 1; });
