// Kernel filter benchmark (root): what the per-flow eBPF filter (native/bpf/handshake_filter.bpf.c)
// saves against full capture, and what the classic fallback costs, on bulk TCP through a veth.
//
//   node scripts/bench/bench-kernel-filter.mjs [--bytes MiB] [--conns N] [--runs N] [--bpf-stats]
//
// 1. Topology: namespace sskf-<pid> with veth0 (10.222.0.2) and a discard server; its peer
//    sskf<pid> (10.222.0.1) stays in the root namespace and is the capture point. Offloads off:
//    MTU-sized segments, as a NIC hands them to libpcap.
// 2. For each mode (no capture, off = full capture, classic, ebpf), --runs times, alternating: a
//    capture process (LiveCapture with that kernelFilter, the ring follower feeding the analyzer on
//    a 20 ms clock, records marking flows done, as the live engine does) starts, then a sender
//    process pushes --bytes over --conns TCP connections to the discard server.
// 3. Measured over the transfer: the capture process's on-CPU time (all threads, schedstat), the
//    whole machine's busy CPU time (/proc/stat: user+nice+system+irq+softirq, where the filter
//    itself runs, in softirq of the sending CPU), wall time, packets that reached the ring and the
//    filter's counters. The machine is shared: the system figure carries other load, so compare
//    modes within one run of this script, and prefer the capture process figure.
//    --bpf-stats: also the filter program's own run time and run count (kernel.bpf_stats_enabled
//    set to 1 for the run and restored after; read with bpftool), i.e. its softirq cost per packet.
// Namespace, link and processes (by PID) are removed at the end, also on failure.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { destroyNamespace, killTracked, Proc } from './proc.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: a } = parseArgs({ options: { bytes: { type: 'string', default: '512' }, conns: { type: 'string', default: '4' }, runs: { type: 'string', default: '2' }, 'bpf-stats': { type: 'boolean', default: false } } });
const BYTES = Number(a.bytes) * 1024 * 1024, CONNS = Number(a.conns), RUNS = Number(a.runs);
const NS = `sskf-${process.pid}`, DEV = `sskf${process.pid}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sh = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

const CAPTURE = (mode) => `
import('${join(ROOT, 'dist/sources/live-capture.js')}').then(async ({ LiveCapture, CAPTURE_DEFAULTS }) => {
  const { Analyzer } = await import('${join(ROOT, 'dist/handshake/analyzer.js')}');
  const { RingFollower } = await import('${join(ROOT, 'dist/live/ring-follower.js')}');
  const { parseEndpoint } = await import('${join(ROOT, 'dist/correlate/journal-event.js')}');
  const cap = LiveCapture.open({ ...CAPTURE_DEFAULTS, device: '${DEV}', ringSize: 64 << 20,
    kernelFilter: { mode: '${mode}', flowPackets: 128, flowTimeMs: 10000, maxFlows: 65536 } });
  const an = new Analyzer({ slowMs: 200, keepPackets: false, flowFilter: null, onRecord: (r) => {
    const c = parseEndpoint(r.client), s = parseEndpoint(r.server);
    if (c && s) cap.markDone(c.addr.length === 16 ? 6 : 4, c.addr, c.port, s.addr, s.port);
  } });
  const f = new RingFollower(cap, an);
  const t = setInterval(() => { f.poll(); an.tick(Date.now() / 1000); }, 20);
  process.on('SIGTERM', () => { clearInterval(t); f.poll(); cap.stop();
    console.log(JSON.stringify({ kf: cap.kernelFilter, ring: cap.stats().packets, drops: cap.stats().kernelDrops, filter: cap.filterStats() })); process.exit(0); });
  console.log('ready ' + JSON.stringify(cap.kernelFilter));
});`;

const SENDER = `
const net = require('node:net'); let left = ${CONNS}; const chunk = Buffer.alloc(1 << 20, 0x61);
for (let i = 0; i < ${CONNS}; i++) {
  const s = net.connect(9, '10.222.0.2', () => { let n = ${Math.floor(BYTES / CONNS / (1 << 20))};
    const go = () => { while (n > 0) { n--; if (!s.write(chunk)) return s.once('drain', go); } s.end(); }; go(); });
  s.on('close', () => { if (--left === 0) process.exit(0); }); s.resume();
}`;

function taskCpuNs(pid) {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
  return ns;
}
function systemBusyS() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6]) / 100; // user nice system irq softirq, USER_HZ 100
}

async function one(mode) {
  let cap = null;
  if (mode !== 'none') {
    cap = new Proc(`capture ${mode}`, process.execPath, ['-e', CAPTURE(mode)]);
    await cap.waitFor(/ready/, 15_000);
    await sleep(300);
  }
  const c0 = cap ? taskCpuNs(cap.pid) : 0, s0 = systemBusyS(), t0 = process.hrtime.bigint();
  const snd = new Proc('sender', process.execPath, ['-e', SENDER]);
  const e = await snd.wait(300_000);
  if (e.code !== 0) throw new Error(`sender failed: ${snd.stderr}`);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  await sleep(300);
  const c1 = cap ? taskCpuNs(cap.pid) : 0, s1 = systemBusyS();
  let out = null, prog = null;
  if (cap && mode === 'ebpf' && a['bpf-stats']) {
    // The program the capture process holds: its bpf-prog fd's prog_id (/proc/PID/fdinfo).
    for (const fd of readdirSync(`/proc/${cap.pid}/fd`)) {
      const id = /^prog_id:\s*(\d+)/m.exec(readFileSync(`/proc/${cap.pid}/fdinfo/${fd}`, 'utf8'))?.[1];
      if (id) prog = JSON.parse(sh('bpftool', ['prog', 'show', 'id', id, '--json']));
    }
  }
  if (cap) {
    cap.kill('SIGTERM');
    await cap.wait(10_000);
    out = JSON.parse(cap.stdout.split('\n').find((l) => l.startsWith('{')));
  }
  return { mode, wall, capCpu: (c1 - c0) / 1e9, sysCpu: s1 - s0, out, prog };
}

let statsWas = null;
try {
  if (a['bpf-stats']) {
    statsWas = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
    sh('sysctl', ['-qw', 'kernel.bpf_stats_enabled=1']);
  }
  sh('ip', ['netns', 'add', NS]);
  sh('ip', ['link', 'add', DEV, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', NS]);
  sh('ethtool', ['-K', DEV, 'tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
  sh('ip', ['netns', 'exec', NS, 'ethtool', '-K', 'veth0', 'tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
  sh('ip', ['addr', 'add', '10.222.0.1/30', 'dev', DEV]);
  sh('ip', ['link', 'set', DEV, 'up']);
  sh('ip', ['-n', NS, 'addr', 'add', '10.222.0.2/30', 'dev', 'veth0']);
  sh('ip', ['-n', NS, 'link', 'set', 'veth0', 'up']);
  sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  const sink = new Proc('sink', 'ip', ['netns', 'exec', NS, process.execPath, '-e',
    "require('net').createServer((s) => { s.resume(); s.on('end', () => s.end()); s.on('error', () => {}); }).listen(9, () => console.log('listening'));"]);
  await sink.waitFor(/listening/);
  const rows = [];
  for (let r = 0; r < RUNS; r++) for (const m of ['none', 'off', 'classic', 'ebpf']) rows.push(await one(m));
  console.log(`bulk TCP through a veth: ${a.bytes} MiB over ${CONNS} connections, ${RUNS} runs per mode`);
  console.log('mode     wall s   MB/s   capture CPU s   system CPU s   ring pkts   filter passed   share');
  for (const x of rows) {
    const f = x.out?.filter, ring = x.out?.ring ?? 0;
    const total = f ? f.passed + f.droppedDone + f.droppedBudget + f.droppedUntracked + f.droppedNonTcp : 0;
    console.log(`${x.mode.padEnd(8)} ${x.wall.toFixed(2).padStart(6)} ${(BYTES / 1e6 / x.wall).toFixed(0).padStart(6)} ${x.capCpu.toFixed(3).padStart(15)} ${x.sysCpu.toFixed(2).padStart(14)} ${String(ring).padStart(11)} ` +
      `${f && x.mode === 'ebpf' ? String(f.passed).padStart(15) : '-'.padStart(15)} ${f && x.mode === 'ebpf' ? `${(100 * f.passed / total).toFixed(3)}%`.padStart(7) : ''}` +
      `${x.out && x.out.drops ? `  kernel drops ${x.out.drops}` : ''}`);
  }
  for (const x of rows.filter((r) => r.prog)) {
    const n = x.prog.run_cnt ?? 0, t = x.prog.run_time_ns ?? 0;
    console.log(`ebpf program: ${n} runs, ${(t / 1e9).toFixed(3)} s in the program, ${n ? (t / n).toFixed(0) : '-'} ns per packet`);
  }
} finally {
  if (statsWas !== null) spawnSync('sysctl', ['-qw', `kernel.bpf_stats_enabled=${statsWas}`]);
  killTracked();
  destroyNamespace(NS, [DEV]);
}
