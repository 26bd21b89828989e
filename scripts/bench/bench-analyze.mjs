// Throughput and memory benchmark of `slowshake analyze` against tshark and a raw tcpdump copy.
// Run through scripts/bench-analyze; see usage() for the options.
//
// 1. Build slowshake (npm run build) unless --no-build, and run a private copy of dist/ so a
//    rebuild in the work tree during the benchmark cannot mix two builds into one set of runs.
// 2. Generate the capture (gen-capture.mjs): real flows from captures/tls/*.pcap replicated with
//    new client addresses/ports, bulk data after each handshake, Poisson flow arrivals.
// 3. Check: slowshake's ndjson has one line per generated TLS flow; tshark sees the same number of
//    TCP streams with a ClientHello.
// 4. Time each tool --runs times (median wall time; peak RSS from /usr/bin/time -v, or from
//    polling /proc/PID/status VmHWM when GNU time is missing); files are in the page cache.
// 5. Run analyze on the other --scales sizes for the RSS-vs-size check.
// 6. Print the table, the goals, and (with --profile) slowshake's hottest functions.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, cpSync, existsSync, fsyncSync, symlinkSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCapture, loadTemplates } from './gen-capture.mjs';
import { topFunctions } from './cpuprofile-top.mjs';
import { buildRef } from './build-ref.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const CLI = join(ROOT, 'dist/cli/index.js');
const GNU_TIME = '/usr/bin/time';

const GOAL_TSHARK = 100; // slowshake at least 100× tshark
const GOAL_TCPDUMP = 0.5; // and at least 0.5× a raw tcpdump copy (issue 13; was 0.3)
const GOAL_RSS_GROWTH = 1.2; // peak RSS at the largest size ≤ 1.2× that at the smallest

function usage() {
  return `usage: scripts/bench-analyze [options]

  --packets N        at least N packets in the 1× capture (default 1.2M; k/M suffixes ok)
  --handshakes N     at least N TLS handshakes in the 1× capture (default 50k); the capture is
                     grown until both floors hold
  --runs N           timed runs per tool, median reported (default 3)
  --scales LIST      capture sizes for the analyze RSS check, relative to 1× (default 0.5,1,2)
  --tshark-packets N time tshark on the first N packets only (default: whole capture)
  --bulk LO-HI       1448-byte data segments injected per flow after the handshake (default 15-20)
  --rate R           new flows per simulated second (default 2500)
  --threads N        pass --threads N to analyze (default: analyze's own default, one per CPU)
  --profile          also run analyze once under node --cpu-prof and list the hottest functions
  --dir DIR          where the captures go (default bench-out/, gitignored)
  --keep             keep the generated captures (default: deleted at the end)
  --no-build         do not run npm run build first
  --before REF       also time the analyzer of git REF (git archive + tsc, the work tree is not
                     touched) in the same rounds, check that its records are byte-identical, and
                     print before and after ratios to each round's own tcpdump run`;
}

function num(s, name) {
  const m = /^([0-9]*\.?[0-9]+)\s*([kKmM]?)$/.exec(String(s).trim());
  if (!m) throw new Error(`--${name}: expected a number like 1200000, 1.2M or 50k, got "${s}"`);
  return Math.round(Number(m[1]) * (m[2].toLowerCase() === 'k' ? 1e3 : m[2].toLowerCase() === 'm' ? 1e6 : 1));
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmt = (n, d = 2) => n.toFixed(d);
const log = (...a) => console.error('bench:', ...a);

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
/** CPU seconds spent by the whole machine (all CPUs, excluding idle and iowait) so far. */
function machineBusySec() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user … steal (guest is inside user)
  return (total - f[3] - f[4]) / CLK_TCK;
}

/**
 * Runs cmd with stdout to a file (or /dev/null); returns wall seconds, peak RSS KiB, user+sys
 * CPU seconds, and `otherCpu`: CPU seconds used by everything else on the machine meanwhile.
 */
function measure(cmd, args, { stdoutFile = '/dev/null', tmpDir }) {
  return new Promise((resolvePromise, reject) => {
    const out = openSync(stdoutFile, 'w');
    const useTime = existsSync(GNU_TIME);
    const timeFile = join(tmpDir, 'time.txt');
    const argv = useTime ? [GNU_TIME, ['-v', '-o', timeFile, cmd, ...args]] : [cmd, args];
    let stderr = '';
    let hwm = 0;
    const busy0 = machineBusySec();
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv[1], { stdio: ['ignore', out, 'pipe'] });
    child.stderr.on('data', (d) => { if (stderr.length < 1 << 16) stderr += d; });
    let poll = null;
    if (!useTime) {
      poll = setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) hwm = Math.max(hwm, Number(m[1]));
        } catch { /* exited */ }
      }, 5);
    }
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const busy = machineBusySec() - busy0;
      if (poll) clearInterval(poll);
      closeSync(out);
      let rssKiB = hwm;
      let cpu = NaN;
      if (useTime) {
        const t = readFileSync(timeFile, 'utf8');
        rssKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(t)?.[1] ?? NaN);
        cpu = Number(/User time \(seconds\): ([\d.]+)/.exec(t)?.[1] ?? NaN) + Number(/System time \(seconds\): ([\d.]+)/.exec(t)?.[1] ?? NaN);
        const st = /Exit status: (\d+)/.exec(t);
        if (st) code = Number(st[1]);
      }
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      resolvePromise({ wall, rssKiB, cpu, otherCpu: Number.isFinite(cpu) ? Math.max(0, busy - cpu) : NaN, stderr });
    });
  });
}

function warmCache(file) {
  const fd = openSync(file, 'r');
  const b = Buffer.allocUnsafe(16 << 20);
  while (readSync(fd, b, 0, b.length, null) > 0);
  closeSync(fd);
}

function countLines(file) {
  const fd = openSync(file, 'r');
  const b = Buffer.allocUnsafe(16 << 20);
  let n = 0, k;
  while ((k = readSync(fd, b, 0, b.length, null)) > 0) for (let i = 0; i < k; i++) if (b[i] === 10) n++;
  closeSync(fd);
  return n;
}

/** TCP streams in tshark's fields output (type, stream, time, retrans) that carry a ClientHello. */
function tsharkHelloStreams(file) {
  const seen = new Set();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [types, stream] = line.split('\t');
    if (types && types.split(',').includes('1')) seen.add(stream);
  }
  return seen.size;
}

const summarize = (rs) => ({
  wall: median(rs.map((r) => r.wall)), rssKiB: Math.max(...rs.map((r) => r.rssKiB)), cpu: median(rs.map((r) => r.cpu)),
  walls: rs.map((r) => r.wall),
  runs: rs,
  // averaged over the runs: one 10 ms clock tick is already 20% of a 50 ms tcpdump run
  otherPct: (100 * rs.reduce((a, r) => a + r.otherCpu, 0)) / rs.reduce((a, r) => a + r.wall, 0),
});
const logRun = (label, i, runs, r) =>
  log(`  ${label} run ${i + 1}/${runs}: ${fmt(r.wall, 3)} s, cpu ${fmt(r.cpu, 2)} s, peak RSS ${fmt(r.rssKiB / 1024, 1)} MiB, other processes ${fmt((100 * r.otherCpu) / r.wall, 0)}% of a CPU`);

/** Times the jobs round-robin (job 1, job 2, …, job 1, …) so slow drifts in the machine hit all alike. */
async function timeRoundRobin(jobs, runs) {
  const rs = jobs.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [j, job] of jobs.entries()) {
      const r = await measure(job.cmd, job.args, job.opts);
      logRun(job.label, i, runs, r);
      rs[j].push(r);
    }
  }
  return rs.map(summarize);
}

function table(headers, rows, align) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (align[i] === 'l' ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  return [line(headers), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

async function main() {
  let v;
  try {
    v = parseArgs({
      options: {
        packets: { type: 'string' }, handshakes: { type: 'string' }, runs: { type: 'string' }, scales: { type: 'string' },
        'tshark-packets': { type: 'string' }, threads: { type: 'string' }, bulk: { type: 'string' }, rate: { type: 'string' }, profile: { type: 'boolean' },
        dir: { type: 'string' }, keep: { type: 'boolean' }, 'no-build': { type: 'boolean' }, before: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    console.error(`bench-analyze: ${err.message}\n${usage()}`);
    return 2;
  }
  if (v.help) { console.log(usage()); return 0; }
  const packets = num(v.packets ?? '1.2M', 'packets');
  const handshakes = num(v.handshakes ?? '50k', 'handshakes');
  const runs = num(v.runs ?? '3', 'runs');
  const tsharkPackets = v['tshark-packets'] ? num(v['tshark-packets'], 'tshark-packets') : 0;
  const scales = (v.scales ?? '0.5,1,2').split(',').map(Number);
  if (!scales.includes(1)) scales.push(1);
  scales.sort((a, b) => a - b);
  const bulk = (v.bulk ?? '15-20').split('-').map(Number);
  if (bulk.length === 1) bulk.push(bulk[0]);
  const rate = Number(v.rate ?? 2500);
  if (runs < 1 || scales.some((s) => !(s > 0)) || bulk.some((b) => !(b >= 0)) || bulk[0] > bulk[1] || !(rate > 0)) {
    console.error(`bench-analyze: bad option value\n${usage()}`);
    return 2;
  }

  for (const tool of ['tshark', 'tcpdump']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) { console.error(`bench-analyze: ${tool} not found (scripts/install.sh installs it)`); return 1; }
  }
  if (!existsSync(GNU_TIME)) log(`${GNU_TIME} missing (Debian package "time"): peak RSS from polling /proc/PID/status VmHWM instead`);
  if (!v['no-build']) {
    log('npm run build');
    const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (b.status !== 0) { console.error('bench-analyze: build failed'); return 1; }
  }
  if (!existsSync(CLI)) { console.error(`bench-analyze: ${CLI} missing (npm run build)`); return 1; }

  const capDir = join(ROOT, 'captures/tls');
  // captures/tls may be being regenerated (scripts/gen-captures): wait until it has been quiet for 10 s.
  for (let waited = 0; waited < 120; waited += 2) {
    const newest = Math.max(0, ...readdirSync(capDir).map((f) => statSync(join(capDir, f)).mtimeMs));
    if (Date.now() - newest > 10_000) break;
    if (waited === 0) log('captures/tls changed in the last 10 s (being regenerated?): waiting for it to settle');
    await new Promise((r) => setTimeout(r, 2000));
  }
  const templateFiles = readdirSync(capDir).filter((f) => f.endsWith('.pcap')).sort().map((f) => join(capDir, f));
  const { flows: templates, perFile } = loadTemplates(templateFiles);
  for (const p of perFile) if (p.skipped || p.flows === 0) log(`template ${p.file}: ${p.flows} flows${p.skipped ? ` (${p.skipped})` : ' (no whole IPv4 flow)'}`);
  if (templates.length === 0) { console.error('bench-analyze: no whole IPv4 TCP flows in captures/tls/*.pcap'); return 1; }

  const baseDir = resolve(ROOT, v.dir ?? 'bench-out');
  mkdirSync(baseDir, { recursive: true });
  const dir = mkdtempSync(join(baseDir, 'bench-'));
  const cleanup = () => { if (!v.keep) rmSync(dir, { recursive: true, force: true }); };
  process.on('SIGINT', () => { cleanup(); process.exit(130); });
  try {
    return await bench({ v, packets, handshakes, runs, tsharkPackets, scales, bulk, rate, templates, perFile, dir });
  } finally {
    cleanup();
    if (v.keep) log(`captures kept in ${dir}`);
  }
}

async function bench({ v, packets, handshakes, runs, tsharkPackets, scales, bulk, rate, templates, perFile, dir }) {
  const opts = { tmpDir: dir };
  const gen = (scale) => {
    const out = join(dir, `bench-${scale}x.pcap`);
    const t = process.hrtime.bigint();
    const g = generateCapture({ templates, out, minPackets: Math.round(packets * scale), minFlows: Math.round(handshakes * scale), bulk, rate, seed: 1 });
    g.genSec = Number(process.hrtime.bigint() - t) / 1e9;
    log(`generated ${out}: ${fmtInt(g.packets)} packets, ${fmt(g.bytes / 1e6, 0)} MB, ${fmtInt(g.flows)} flows in ${fmt(g.genSec, 1)} s`);
    return g;
  };
  // Private copy of the build (ESM needs package.json; packages resolve through the symlink).
  const snap = join(dir, 'slowshake');
  mkdirSync(snap);
  cpSync(join(ROOT, 'dist'), join(snap, 'dist'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(snap, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(snap, 'node_modules'));
  const git = (...a) => spawnSync('git', a, { cwd: ROOT }).stdout?.toString().trim() ?? '';
  const version = `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src') !== '' ? ' + uncommitted src changes' : ''}`;
  const cli = join(snap, 'dist/cli/index.js');
  const argsFor = (c, file) => [c, 'analyze', file, '--format', 'ndjson', ...(v.threads ? ['--threads', v.threads] : [])];
  const analyzeArgs = (file) => argsFor(cli, file);
  let before = null;
  if (v.before) {
    log(`building ${v.before} for the before runs`);
    before = buildRef(ROOT, v.before, join(dir, 'before'));
  }

  // ---- captures: 1× plus the other sizes (all on disk at once so every job joins one round-robin).
  const caps = new Map(scales.map((sc) => [sc, gen(sc)]));
  const main = caps.get(1);
  // Flush to disk now, or kernel writeback of the fresh gigabytes competes with the first timed runs.
  for (const g of caps.values()) { const fd = openSync(g.file, 'r'); fsyncSync(fd); closeSync(fd); warmCache(g.file); }
  log('check: slowshake ndjson lines vs generated TLS flows');
  const ndjson = join(dir, 'check.ndjson');
  const chk = await measure(process.execPath, analyzeArgs(main.file), { ...opts, stdoutFile: ndjson });
  const ssFlows = countLines(ndjson);
  const ssSummary = chk.stderr.split('\n').find((l) => l.startsWith('Summary:')) ?? '';
  let beforeSame = null;
  if (before) {
    const bj = join(dir, 'check-before.ndjson');
    await measure(process.execPath, argsFor(join(before.app, 'dist/cli/index.js'), main.file), { ...opts, stdoutFile: bj });
    beforeSame = readFileSync(bj).equals(readFileSync(ndjson));
    rmSync(bj);
    log(`check: records of ${v.before} vs this build: ${beforeSame ? 'byte-identical' : 'DIFFERENT'}`);
  }
  rmSync(ndjson);

  let tsFile = main.file, tsPackets = main.packets, tsBytes = main.bytes;
  if (tsharkPackets > 0 && tsharkPackets < main.packets) {
    tsFile = join(dir, 'tshark-subset.pcap');
    spawnSync('tcpdump', ['-r', main.file, '-c', String(tsharkPackets), '-w', tsFile], { stdio: 'ignore' });
    tsPackets = tsharkPackets;
    tsBytes = statSync(tsFile).size;
    warmCache(tsFile);
  }
  const tsharkArgs = ['-r', tsFile, '-T', 'fields', '-e', 'tls.handshake.type', '-e', 'tcp.stream', '-e', 'frame.time_epoch', '-e', 'tcp.analysis.retransmission'];
  const tsOut = join(dir, 'tshark-fields.txt');
  const others = scales.filter((sc) => sc !== 1);
  log(`timing round-robin ×${runs}: slowshake, tcpdump, tshark (${fmtInt(tsPackets)} packets, ~${fmt((tsPackets / 30000) * runs / 60, 1)} min in all)` +
    others.map((sc) => `, slowshake ${sc}×`).join(''));
  const timed = await timeRoundRobin([
    { label: 'slowshake', cmd: process.execPath, args: analyzeArgs(main.file), opts },
    // right after this build's run, so both meet the same state of the machine
    ...(before ? [{ label: `slowshake ${before.rev}`, cmd: process.execPath, args: argsFor(join(before.app, 'dist/cli/index.js'), main.file), opts }] : []),
    { label: 'tcpdump', cmd: 'tcpdump', args: ['-r', main.file, '-w', '/dev/null'], opts },
    { label: 'tshark', cmd: 'tshark', args: tsharkArgs, opts: { ...opts, stdoutFile: tsOut } },
    ...others.map((sc) => ({ label: `slowshake ${sc}×`, cmd: process.execPath, args: analyzeArgs(caps.get(sc).file), opts })),
  ], runs);
  const b = before ? 1 : 0;
  const res = { slowshake: timed[0], tcpdump: timed[1 + b], tshark: timed[2 + b] };
  const resBefore = before ? timed[1] : null;
  const tsHello = tsharkHelloStreams(tsOut);
  rmSync(tsOut);
  const sizes = scales.map((sc) => ({ scale: sc, g: caps.get(sc), r: sc === 1 ? res.slowshake : timed[3 + b + others.indexOf(sc)] }));
  if (!v.keep) for (const sc of others) rmSync(caps.get(sc).file);

  let prof = null;
  if (v.profile) {
    log('profiling slowshake analyze (node --cpu-prof)');
    const pdir = join(dir, 'prof');
    await measure(process.execPath, ['--cpu-prof', '--cpu-prof-dir', pdir, ...analyzeArgs(main.file)], opts);
    const pf = readdirSync(pdir).find((f) => f.endsWith('.cpuprofile'));
    prof = topFunctions(join(pdir, pf), 15, snap);
  }

  // ---- report
  const out = [];
  const p = (s = '') => out.push(s);
  const ss = res.slowshake;
  const ssPps = main.packets / ss.wall;
  p();
  p(`slowshake analyze benchmark — ${new Date().toISOString()}, slowshake ${version} (built at start), node ${process.version}, ${spawnSync('nproc').stdout.toString().trim()} CPUs, analyze --threads ${v.threads ?? 'default'}`);
  p(`capture: ${fmtInt(main.packets)} packets, ${fmt(main.bytes / 1e6, 1)} MB, ${fmtInt(main.flows)} flows (${fmtInt(main.tlsFlows)} TLS handshakes), ` +
    `${fmt(main.simulatedSec, 1)} s simulated, up to ${fmtInt(main.maxConcurrent)} flows in flight`);
  p(`  from ${templates.length} real flows in ${perFile.filter((f) => f.flows > 0).length} captures/tls/*.pcap files, ${bulk[0]}–${bulk[1]} × 1448-byte ` +
    `data segments per flow after the handshake (${fmt(main.bulkBytes / main.bytes * 100, 0)}% of bytes), ${rate} new flows/s, ${fmt(main.avgPacketsPerFlow, 1)} packets/flow`);
  p(`  floors asked: ≥ ${fmtInt(packets)} packets and ≥ ${fmtInt(handshakes)} handshakes` +
    (main.packets >= 1e6 && main.tlsFlows >= 50000 ? '' : '  (NOTE: below the 1M packets / 50k handshakes of the issue)'));
  const flowsOk = ssFlows === main.tlsFlows;
  p(`TLS flows: generated ${fmtInt(main.tlsFlows)}, slowshake ndjson lines ${fmtInt(ssFlows)} → ${flowsOk ? 'OK' : 'MISMATCH'}`);
  if (tsFile === main.file) {
    p(`  tshark TCP streams with a ClientHello: ${fmtInt(tsHello)}` + (tsHello === main.tlsFlows ? '' :
      ` (${fmtInt(main.tlsFlows - tsHello)} fewer: tshark picks dissectors by port, and a flow to a server port it does not map to TLS ` +
      '(4433, 8443, 9901 in the templates) whose client port it maps to another protocol is not decoded as TLS)'));
  }
  if (ssSummary) p(`  slowshake: ${ssSummary}`);
  p();
  const rows = [];
  const row = (name, r, pk, by) => {
    const pps = pk / r.wall;
    rows.push([name, fmt(r.wall, 2), r.walls.map((w) => fmt(w, 2)).join(' '), fmt(r.cpu, 2), fmtInt(pps), fmt(by / 1e6 / r.wall, 1), fmt(r.rssKiB / 1024, 1), fmt(ssPps / pps, pps > ssPps ? 2 : 1) + '×']);
    return pps;
  };
  row('slowshake analyze', ss, main.packets, main.bytes);
  const tdPps = row('tcpdump -r -w /dev/null', res.tcpdump, main.packets, main.bytes);
  const tsPps = row(`tshark -T fields${tsFile === main.file ? '' : ` (first ${fmtInt(tsPackets)} pkts)`}`, res.tshark, tsPackets, tsBytes);
  p(table(['tool', 'wall s (median)', `wall s of the ${runs} runs`, 'cpu s (median)', 'packets/s', 'MB/s', 'peak RSS MiB', 'slowshake ÷ tool'], rows, ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r']));
  p(`  (packets/s, MB/s and ratios from the median wall time, which includes process start; cpu = user+sys of all threads; MB = 10^6 bytes of pcap file; RSS = max over runs from ${existsSync(GNU_TIME) ? '/usr/bin/time -v' : '/proc VmHWM polling'}; ` +
    `slowshake → /dev/null, tshark → a file counted afterwards; tools run round-robin)`);
  const otherPct = Math.max(...Object.values(res).map((r) => r.otherPct), ...sizes.map((s) => s.r.otherPct));
  p(`  other processes used up to ${fmt(otherPct, 0)}% of a CPU while a tool was timed (average over its runs) (of ${spawnSync('nproc').stdout.toString().trim()} CPUs)` +
    (otherPct > 15 ? ' — the machine was not quiet; figures are noisy' : ''));
  if (tsFile !== main.file) p(`  tshark timed on a ${fmtInt(tsPackets)}-packet prefix; its packets/s is compared with slowshake's on the whole capture`);
  p();
  const vsTs = ssPps / tsPps, vsTd = ssPps / tdPps;
  p('goals');
  p(`  speed vs tshark fields:     ${fmt(vsTs, 1)}× (goal ≥ ${GOAL_TSHARK}×)  ${vsTs >= GOAL_TSHARK ? 'MET' : 'NOT MET'}`);
  p(`  speed vs tcpdump raw copy:  ${fmt(vsTd, 2)}× (goal ≥ ${GOAL_TCPDUMP}×)  ${vsTd >= GOAL_TCPDUMP ? 'MET' : 'NOT MET'}`);
  const rs = sizes.map((s) => s.r.rssKiB);
  const growth = rs[rs.length - 1] / rs[0];
  const span = sizes[sizes.length - 1].scale / sizes[0].scale;
  p(`  peak RSS flat with size:    ${sizes.map((s) => `${s.scale}× ${fmt(s.r.rssKiB / 1024, 0)} MiB`).join(', ')} → ${fmt(growth, 2)}× over a ${fmt(span, 0)}× larger file ` +
    `(goal ≤ ${GOAL_RSS_GROWTH}×)  ${growth <= GOAL_RSS_GROWTH ? 'MET' : 'NOT MET'}`);
  p();
  p('slowshake analyze by capture size');
  p(table(['size', 'packets', 'MB', 'handshakes', 'wall s (median)', 'packets/s', 'MB/s', 'peak RSS MiB'],
    sizes.map(({ scale, g, r }) => [`${scale}×`, fmtInt(g.packets), fmt(g.bytes / 1e6, 0), fmtInt(g.tlsFlows), fmt(r.wall, 2), fmtInt(g.packets / r.wall), fmt(g.bytes / 1e6 / r.wall, 1), fmt(r.rssKiB / 1024, 1)]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
  if (resBefore) {
    p();
    p(`before (${v.before} = ${before.rev}) and after (${version}), paired: each round's slowshake runs ÷ that round's tcpdump run; records ${beforeSame ? 'byte-identical' : 'DIFFERENT'}`);
    const ratios = (r, key) => r.runs.map((x, i) => res.tcpdump.runs[i][key] / x[key]);
    const span = (xs, d) => `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})`;
    p(table(['build', 'cpu s median (range)', 'wall s median (range)', 'tcpdump ÷ slowshake by cpu', 'by wall'], [
      [`before ${before.rev}`, span(resBefore.runs.map((x) => x.cpu), 2), span(resBefore.runs.map((x) => x.wall), 2), span(ratios(resBefore, 'cpu'), 3), span(ratios(resBefore, 'wall'), 3)],
      [`after ${version}`, span(ss.runs.map((x) => x.cpu), 2), span(ss.runs.map((x) => x.wall), 2), span(ratios(ss, 'cpu'), 3), span(ratios(ss, 'wall'), 3)],
      ['tcpdump', span(res.tcpdump.runs.map((x) => x.cpu), 2), span(res.tcpdump.runs.map((x) => x.wall), 2), '', ''],
    ], ['l', 'r', 'r', 'r', 'r']));
    const cpuGain = ss.runs.map((x, i) => resBefore.runs[i].cpu / x.cpu);
    p(`  before ÷ after cpu, per round: ${cpuGain.map((x) => fmt(x, 2)).join(' ')} (median ${fmt(median(cpuGain), 2)})`);
  }
  if (prof) {
    p();
    p(`slowshake hottest functions (self time, node --cpu-prof, ${fmt(prof.totalMs / 1000, 1)} s sampled)`);
    for (const r of prof.rows) p(`  ${fmt(r.pct, 1).padStart(5)}%  ${fmt(r.ms, 0).padStart(6)} ms  ${r.fn}`);
  }
  p();
  p(`commands: node dist/cli/index.js analyze FILE --format ndjson > /dev/null | tcpdump -r FILE -w /dev/null | tshark ${tsharkArgs.join(' ').replace(tsFile, 'FILE')}`);
  console.log(out.join('\n'));
  return flowsOk && beforeSame !== false ? 0 : 1;
}

main().then((c) => { process.exitCode = c; }, (err) => { console.error(`bench-analyze: ${err.message}`); process.exitCode = 1; });
