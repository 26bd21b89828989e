// Always-on cost benchmark (issue 9): `slowshake watch` on its defaults against `slowshake capture`
// (full capture) and `tcpdump -w /dev/null`, one after the other in the same run, on a veth fed by
// tcpreplay with ~100k packets/s of TLS flows carrying ~500 handshakes/s. Run through
// scripts/bench-watch (root only); see usage().
//
// 1. Replay material: gen-capture.mjs builds flows from the REAL handshakes in captures/tls/*.pcap,
//    each extended with bulk TLS application data after its handshake (--bulk segments, a client
//    ACK every second one), so each flow is ~200 packets: at 100k pps that is ~500 new TLS flows
//    (handshakes) per second. The file is replayed --loops times (the same 4-tuples again: each
//    copy starts with a new SYN, a new connection for every tool).
// 2. Topology: namespace ssw-<tag> holding veth0 (the capture point, no address, offloads off); its
//    peer in the root namespace is where tcpreplay sends. The namespace's stack drops every packet
//    after the capture taps saw it.
// 3. For each tool and run: start it in the namespace, wait until it captures and is idle,
//    with --warmup, replay that many loops unmeasured first (V8 compiles the analysis during
//    a fresh process's first minute: its compiler threads' CPU is start-up, not the daemon's
//    running cost), snapshot the exact on-CPU time of every thread of it and of its children (watch's and
//    capture's journalctl), replay at --pps, wait until it is idle again, snapshot; CPU share =
//    CPU seconds / replay seconds. VmHWM at the end. watch's own counters come from its
//    /metrics (handshakes measured, packets the kernel filter passed and kept back).
// 4. Print one table and the goal (watch ≤ 5% of one core in total).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCapture, loadTemplates } from './gen-capture.mjs';
import { createVethTopology, destroyNamespace, killTracked, Proc } from './proc.mjs';
import { buildRef } from './build-ref.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const TAG = process.env.BENCH_WATCH_TAG ?? String(process.pid);
const NS = `ssw-${TAG}`;
const TX_DEV = `ssw${TAG}r`;
const RX_DEV = 'veth0';
const WORK = join(ROOT, 'bench-out', `bench-watch-${TAG}`);
const PIDS = join(ROOT, 'bench-out', `bench-watch-${TAG}.pids`);
const GOAL_CORE_SHARE = 0.05;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function usage() {
  return `usage: scripts/bench-watch [options]          (root; needs tcpreplay, tcpdump, ethtool, a running journald)

  --pps N        replay rate in packets per second (default 100000)
  --packets N    packets in the generated file (default 400k; k/M ok)
  --loops N      times the file is replayed per measurement (default 5: ~20 s at 100k pps)
  --bulk A-B     bulk segments per flow after its handshake (default 120-140: ~200 packets per flow)
  --slow-share F share of flows made from the slow scenarios (delay, loss, slow client; default 0.02)
  --warmup N     times the file is replayed before each measurement starts (default 0): a daemon's
                 steady state, after V8 has compiled the analysis, instead of its first minute
  --runs N       measurements per tool (default 2; tools alternate)
  --tools LIST   any of watch,capture,tcpdump (default all three), and the variants watch-full (watch with
                 --kernel-filter off) and capture-hs (capture --handshake-only)
  --before REF   also measure watch as git REF had it (its src/ built with git archive + tsc; this tree's
                 native addon), as the tool watch-before right after each watch run
  --keep         keep bench-out/bench-watch-<tag>/`;
}

function num(s, name) {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s ?? '');
  if (!m) throw new Error(`${name}: expected a number (k/M suffix ok), got "${s}"`);
  return Math.round(Number(m[1]) * (m[2].toLowerCase() === 'k' ? 1e3 : m[2].toLowerCase() === 'm' ? 1e6 : 1));
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? (r.stderr || r.stdout).trim()}`);
  return r.stdout;
}


/** The process and its descendants (journalctl under watch/capture). */
function tree(pid) {
  const kids = new Map();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(e));
    } catch { /* gone */ }
  }
  const out = [];
  const walk = (p) => { out.push(p); for (const c of kids.get(p) ?? []) walk(c); };
  walk(pid);
  return out;
}

/** On-CPU nanoseconds of every thread of the process tree, by pid/tid (schedstat: exact), with its name. */
function cpuSnapshot(pid) {
  const m = new Map();
  for (const p of tree(pid)) {
    let tids;
    try { tids = readdirSync(`/proc/${p}/task`); } catch { continue; }
    for (const t of tids) {
      try {
        const comm = readFileSync(`/proc/${p}/task/${t}/comm`, 'utf8').trim();
        m.set(`${p}/${t}/${p === pid && t === String(pid) ? 'main' : comm}`, Number(readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0]));
      } catch { /* gone */ }
    }
  }
  return m;
}

function cpuSeconds(a, b) {
  let ns = 0;
  for (const [k, v] of b) ns += v - (a.get(k) ?? 0);
  return ns / 1e9;
}

// The main thread's user and system CPU-seconds (utime, stime of /proc/PID/task/PID/stat, in clock
// ticks of 10 ms): where its time goes when the JS profile shows little (system calls, fsync).
function mainUserSys(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return { user: Number(rest[11]) / 100, sys: Number(rest[12]) / 100 };
  } catch { return { user: 0, sys: 0 }; }
}

/** CPU seconds by thread name (main = the process's main thread), largest first. */
function cpuByThread(a, b) {
  const by = new Map();
  for (const [k, v] of b) {
    const name = k.split('/')[2];
    by.set(name, (by.get(name) ?? 0) + (v - (a.get(k) ?? 0)) / 1e9);
  }
  return [...by].filter(([, s]) => s >= 0.005).sort((x, y) => y[1] - x[1]).map(([n, s]) => `${n} ${s.toFixed(2)}`).join(', ');
}

function total(snap) { let n = 0; for (const v of snap.values()) n += v; return n / 1e9; }

async function waitIdle(pid, timeoutMs = 30_000) {
  const t0 = Date.now();
  const hist = [];
  for (;;) {
    hist.push(total(cpuSnapshot(pid)));
    if (hist.length >= 4 && hist.at(-1) - hist.at(-4) <= 0.015) return true;
    if (Date.now() - t0 > timeoutMs) return false;
    await sleep(250);
  }
}

function hwm(pid) {
  let sum = 0;
  for (const p of tree(pid)) {
    try { sum += Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) * 1024; } catch { /* gone */ }
  }
  return sum;
}

async function replay(file, pps, loops) {
  const p = new Proc('tcpreplay', 'tcpreplay', ['-i', TX_DEV, '-K', '-q', `--pps=${pps}`, `--loop=${loops}`, file], { pidsFile: PIDS });
  const e = await p.wait(30 * 60_000);
  const text = p.stdout + p.stderr;
  if (e.code !== 0) throw new Error(`tcpreplay exited ${JSON.stringify(e)}: ${text.slice(-800)}`);
  const m = /Actual: (\d+) packets \((\d+) bytes\) sent in ([\d.]+) seconds/.exec(text);
  if (!m) throw new Error(`cannot read tcpreplay's summary: ${text.slice(-800)}`);
  return { sent: Number(m[1]), seconds: Number(m[3]) };
}

function metricSum(text, name) {
  let s = 0;
  for (const l of text.split('\n')) if (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) s += Number(l.slice(l.lastIndexOf(' ') + 1));
  return s;
}

async function measure(kind, file, o, i) {
  const cli = join(ROOT, 'dist/cli/index.js');
  const beforeCli = o.before ? join(o.before.app, 'dist/cli/index.js') : null;
  const out = join(WORK, `${kind}-out-${i}`);
  const port = 29000 + (process.pid % 1000) + i;
  // BENCH_WATCH_NODE_FLAGS: extra node flags for watch and capture (e.g. --cpu-prof --cpu-prof-dir=DIR).
  const nodeFlags = (process.env.BENCH_WATCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const argv = {
    // BENCH_WATCH_ARGS: extra watch flags, for experiments (e.g. --no-rdns, --slow 10s).
    watch: [process.execPath, ...nodeFlags, cli, 'watch', '-i', RX_DEV, '--out', out, '--state-dir', join(WORK, `state-${i}`), '--metrics-listen', `127.0.0.1:${port}`,
      ...(process.env.BENCH_WATCH_ARGS ?? '').split(' ').filter(Boolean)],
    // BENCH_CAPTURE_ARGS: extra capture flags, for experiments (e.g. --no-journal).
    capture: [process.execPath, ...nodeFlags, cli, 'capture', '-i', RX_DEV, '--out', out, ...(process.env.BENCH_CAPTURE_ARGS ?? '').split(' ').filter(Boolean)],
    // Variants, to see what the kernel filter itself changes: watch with full capture, capture with the filter.
    'watch-full': [process.execPath, ...nodeFlags, cli, 'watch', '-i', RX_DEV, '--kernel-filter', 'off', '--out', out, '--state-dir', join(WORK, `state-f${i}`), '--metrics-listen', `127.0.0.1:${port + 100}`],
    'watch-before': [process.execPath, ...nodeFlags, beforeCli, 'watch', '-i', RX_DEV, '--out', out, '--state-dir', join(WORK, `state-b${i}`), '--metrics-listen', `127.0.0.1:${port + 200}`,
      ...(process.env.BENCH_WATCH_ARGS ?? '').split(' ').filter(Boolean)],
    'capture-hs': [process.execPath, ...nodeFlags, cli, 'capture', '-i', RX_DEV, '--handshake-only', '--out', out],
    tcpdump: ['tcpdump', '-i', RX_DEV, '-w', '/dev/null', '-n', '-Z', 'root'],
  }[kind];
  const p = new Proc(kind, 'ip', ['netns', 'exec', NS, ...argv], { pidsFile: PIDS });
  await p.waitFor(kind === 'tcpdump' ? /listening on/ : kind.startsWith('watch') ? /^Watching /m : /^Capturing on /m, 30_000);
  await sleep(1500);
  if (o.warmup > 0) await replay(file, o.pps, o.warmup);
  await waitIdle(p.pid);
  const a = cpuSnapshot(p.pid);
  const us0 = mainUserSys(p.pid);
  const r = await replay(file, o.pps, o.loops);
  await waitIdle(p.pid);
  const b = cpuSnapshot(p.pid);
  const us1 = mainUserSys(p.pid);
  const cpu = cpuSeconds(a, b);
  const threads = `${cpuByThread(a, b)} (main: user ${(us1.user - us0.user).toFixed(2)}, sys ${(us1.sys - us0.sys).toFixed(2)})`;
  const peak = hwm(p.pid);
  let extra = {};
  if (kind.startsWith('watch')) {
    await sleep(1200); // one metrics publication after the replay
    // watch listens on loopback inside the namespace.
    const text = run('ip', ['netns', 'exec', NS, 'curl', '-sf', `http://127.0.0.1:${port + { watch: 0, 'watch-full': 100, 'watch-before': 200 }[kind]}/metrics`]);
    const passed = metricSum(text, 'slowshake_kernel_filter_passed_packets_total');
    const dropped = metricSum(text, 'slowshake_kernel_filter_dropped_packets_total');
    const mode = /^slowshake_kernel_filter_mode\{mode="(\w+)"\} 1$/m.exec(text)?.[1] ?? '?';
    const why = /kernel filter \w+ \(([^)]*)\)/.exec(p.stderr)?.[1];
    if (why) console.log(`    ${kind}: the kernel filter is ${mode}: ${why}`);
    extra = { handshakes: metricSum(text, 'slowshake_handshakes_total'), passed, dropped, mode, captured: metricSum(text, 'slowshake_capture_packets_total') };
  }
  p.kill('SIGINT');
  await p.wait(20_000);
  if (process.env.BENCH_WATCH_VERBOSE) console.log((p.stdout + p.stderr).trim().split('\n').map((l) => `    ${kind}: ${l}`).join('\n'));
  rmSync(out, { recursive: true, force: true });
  return { kind, cpu, threads, seconds: r.seconds, sent: r.sent, share: cpu / r.seconds, peak, ...extra };
}

async function main() {
  const { values: v } = parseArgs({
    options: {
      pps: { type: 'string' }, packets: { type: 'string' }, loops: { type: 'string' }, bulk: { type: 'string' },
      runs: { type: 'string' }, warmup: { type: 'string' }, tools: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean' }, 'slow-share': { type: 'string' },
      before: { type: 'string' },
    },
  });
  if (v.help) { console.log(usage()); return; }
  const o = {
    pps: num(v.pps ?? '100k', '--pps'), packets: num(v.packets ?? '400k', '--packets'), loops: num(v.loops ?? '5', '--loops'), warmup: num(v.warmup ?? '0', '--warmup'),
    runs: num(v.runs ?? '2', '--runs'), tools: (v.tools ?? 'watch,capture,tcpdump').split(','),
    bulk: (v.bulk ?? '120-140').split('-').map(Number),
    slowShare: Number(v['slow-share'] ?? '0.02'),
    before: null,
  };
  if (!existsSync('/run/systemd/journal/socket')) throw new Error('no journald running: watch and capture follow the system journal (start systemd-journald first)');
  // 0711: watch and capture drop to an unprivileged user that must reach its directories inside.
  mkdirSync(WORK, { recursive: true, mode: 0o711 });
  spawnSync('chmod', ['0711', WORK]);
  if (v.before) {
    o.before = buildRef(ROOT, v.before, join(WORK, 'before'));
    spawnSync('chmod', ['-R', 'a+rX', o.before.app]);
    const w = o.tools.indexOf('watch');
    o.tools.splice(w < 0 ? 0 : w + 1, 0, 'watch-before');
    console.log(`before: ${v.before} = ${o.before.rev}`);
  }
  const file = join(WORK, 'replay.pcap');
  const templates = loadTemplates(readdirSync(join(ROOT, 'captures/tls')).filter((f) => f.endsWith('.pcap')).map((f) => join(ROOT, 'captures/tls', f)));
  // An edge's handshakes are mostly fast: the templates that took under 50 ms make up all but
  // --slow-share of the flows (the delayed, lossy and slow-client scenarios the rest).
  const span = (f) => f.pkts[f.pkts.length - 1].tsUs - f.pkts[0].tsUs;
  const fast = templates.flows.filter((f) => f.tls && span(f) < 50_000), slow = templates.flows.filter((f) => f.tls && span(f) >= 50_000);
  const mix = [...fast, ...slow];
  const pick = (r) => r < o.slowShare && slow.length > 0 ? fast.length + Math.floor((r / o.slowShare) * slow.length) : Math.floor(((r - Math.min(r, o.slowShare)) / (1 - o.slowShare)) * fast.length);
  const gen = generateCapture({ templates: mix, out: file, minPackets: o.packets, bulk: o.bulk, rate: 500, seed: 7, pick });
  console.log(`templates: ${fast.length} fast and ${slow.length} slow real TLS flows from captures/tls; ${(100 * o.slowShare).toFixed(1)}% of the generated flows are made from the slow ones`);
  const perFlow = gen.packets / gen.flows;
  console.log(`replay file: ${gen.packets} packets, ${gen.flows} TLS flows (${perFlow.toFixed(0)} packets per flow: ~${Math.round(o.pps / perFlow)} handshakes/s at ${o.pps} pps), ${(statSync(file).size / 2 ** 20).toFixed(0)} MiB; replayed ${o.loops}× per measurement${o.warmup ? `, after ${o.warmup}× unmeasured (warm-up)` : ''}`);
  createVethTopology(NS, TX_DEV, RX_DEV, { promisc: true });
  const results = [];
  for (let i = 0; i < o.runs; i++) {
    for (const kind of o.tools) {
      const r = await measure(kind, file, o, i);
      results.push(r);
      console.log(`  run ${i + 1} ${kind}: ${r.cpu.toFixed(2)} CPU-s over ${r.seconds.toFixed(1)} s of replay (${(100 * r.share).toFixed(1)}% of a core; by thread: ${r.threads})` +
        (r.handshakes !== undefined ? `; ${r.handshakes} handshakes measured since start (${gen.flows * (o.loops + o.warmup)} replayed), kernel filter ${r.mode} passed ${r.passed} and kept back ${r.dropped} packets (${(100 * r.passed / Math.max(1, r.passed + r.dropped)).toFixed(1)}% passed)` : ''));
    }
  }
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
  console.log('\ntool      CPU % of one core (median)   per 100k pps   peak RSS (process + children)');
  const byTool = {};
  for (const kind of o.tools) {
    const rs = results.filter((r) => r.kind === kind);
    const share = med(rs.map((r) => r.share));
    const pps = med(rs.map((r) => r.sent / r.seconds));
    byTool[kind] = share;
    console.log(`${kind.padEnd(9)} ${(100 * share).toFixed(2).padStart(8)}%                      ${(100 * share * 1e5 / pps).toFixed(2).padStart(6)}%       ${(med(rs.map((r) => r.peak)) / 2 ** 20).toFixed(0)} MiB`);
  }
  if (byTool['watch-before'] !== undefined && byTool.watch !== undefined) {
    const w = results.filter((r) => r.kind === 'watch'), b = results.filter((r) => r.kind === 'watch-before');
    console.log(`\nbefore (${o.before.rev}) → after, paired per run: CPU-s ${b.map((r, i) => `${r.cpu.toFixed(2)} → ${w[i].cpu.toFixed(2)}`).join(', ')}` +
      `; median ${(100 * byTool['watch-before']).toFixed(2)}% → ${(100 * byTool.watch).toFixed(2)}% of a core`);
    for (let i = 0; i < w.length; i++) console.log(`  run ${i + 1} by thread: before ${b[i].threads} | after ${w[i].threads}`);
  }
  if (byTool.watch !== undefined) {
    const ratio = (k) => byTool[k] !== undefined ? `, ${(byTool.watch / byTool[k]).toFixed(2)}× ${k}` : '';
    console.log(`\ngoal: watch ≤ ${100 * GOAL_CORE_SHARE}% of one core: ${(100 * byTool.watch).toFixed(2)}% ${byTool.watch <= GOAL_CORE_SHARE ? 'MET' : 'NOT MET'}${ratio('capture')}${ratio('tcpdump')}`);
  }
}

let code = 0;
try {
  await main();
} catch (err) {
  console.error(`bench-watch: ${err.message}`);
  code = 1;
} finally {
  killTracked();
  destroyNamespace(NS, [TX_DEV]);
  if (!process.argv.includes('--keep')) rmSync(WORK, { recursive: true, force: true });
  rmSync(PIDS, { force: true });
}
process.exit(code);
