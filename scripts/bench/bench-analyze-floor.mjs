// What analyze cannot go below in this runtime: the same capture file read by tcpdump
// (`-r FILE -w /dev/null`, the yardstick), by a bare Node process, and by Node running
// only the first stages of slowshake's own pipeline (dist/, built), each a separate process, round
// robin, median wall and CPU of --runs:
//   node-start  node -e 0
//   read        the capture reader walking every record (src/sources/capture-file.ts)
//   decode      + link/IP/TCP decoding of every packet (src/decode/dispatch.ts)
//   flow        + the flow-table lookup (and insert) of every packet (src/flow/flow-table.ts)
//   analyze     the whole `slowshake analyze FILE --format ndjson > /dev/null --threads 1`
// and prints each as a ratio tcpdump ÷ it, the figure issue 13's "≥ 0.5× the raw tcpdump copy" is
// about: whatever the stages after "flow" cost, analyze cannot beat the "flow" row.
//
// CLI: node scripts/bench/bench-analyze-floor.mjs FILE [--runs N]      (run `npm run build` first)
// Stage mode (internal): node bench-analyze-floor.mjs --stage read|decode|flow FILE
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dist = (p) => pathToFileURL(join(ROOT, 'dist', p)).href;

async function stage(mode, file) {
  const { readCaptureFile } = await import(dist('sources/capture-file.js'));
  const { DecodedPacket } = await import(dist('decode/packet.js'));
  const { decodePacket } = await import(dist('decode/dispatch.js'));
  const { FlowTable } = await import(dist('flow/flow-table.js'));
  const { AnomalyCounters } = await import(dist('telemetry/anomalies.js'));
  const an = new AnomalyCounters();
  const table = new FlowTable(1 << 14, 1 << 19, an);
  const n = { packets: 0, bytes: 0, tcp: 0 };
  const sink = {
    onPacket(p) {
      n.packets++;
      n.bytes += p.caplen;
      if (mode === 'read') return;
      if (decodePacket(p, an) !== 0) return;
      n.tcp++;
      if (mode === 'decode') return;
      if (table.lookup(p) < 0) table.insert(1, null, p.tsSec);
    },
  };
  await readCaptureFile(file, new DecodedPacket(), sink);
  // Printed so the work cannot be optimised away, and for the check below.
  console.log(JSON.stringify({ ...n, flows: table.size }));
}

function timed(argv) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', ...argv], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr.trim().split('\n').at(-1)}`);
  const [wall, user, sys] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { wall, cpu: user + sys, stdout: r.stdout };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

async function main() {
  const { values: v, positionals } = parseArgs({ allowPositionals: true, options: { runs: { type: 'string' }, stage: { type: 'string' } } });
  if (v.stage) return stage(v.stage, positionals[0]);
  const file = positionals[0];
  if (!file || !existsSync(file)) throw new Error(`usage: bench-analyze-floor.mjs FILE [--runs N] (${file ?? 'no file'}: not found)`);
  if (!existsSync(join(ROOT, 'dist/cli/index.js'))) throw new Error('dist/ missing: run npm run build first');
  const runs = Number(v.runs ?? 5);
  const self = fileURLToPath(import.meta.url);
  const tools = [
    ['tcpdump -r -w /dev/null', ['tcpdump', '-r', file, '-w', '/dev/null']],
    ['node-start (node -e 0)', [process.execPath, '-e', '0']],
    ['read', [process.execPath, self, '--stage', 'read', file]],
    ['read+decode', [process.execPath, self, '--stage', 'decode', file]],
    ['read+decode+flow', [process.execPath, self, '--stage', 'flow', file]],
    ['analyze --threads 1', ['sh', '-c', `exec "${process.execPath}" "${join(ROOT, 'dist/cli/index.js')}" analyze --format ndjson --threads 1 --no-progress "${file}" > /dev/null`]],
  ];
  const res = new Map(tools.map(([name]) => [name, []]));
  for (let i = 0; i < runs; i++) {
    for (const [name, argv] of tools) res.get(name).push(timed(argv));
  }
  const flowOut = JSON.parse(res.get('read+decode+flow')[0].stdout);
  console.log(`file: ${file}: ${flowOut.packets.toLocaleString('en-US')} packets, ${flowOut.flows.toLocaleString('en-US')} flows; ${runs} rounds, round robin`);
  const base = median(res.get(tools[0][0]).map((r) => r.wall));
  const baseCpu = median(res.get(tools[0][0]).map((r) => r.cpu));
  console.log(`${'what'.padEnd(26)}${'wall s (median)'.padStart(16)}${'cpu s'.padStart(8)}   tcpdump ÷ it (wall, cpu)`);
  for (const [name] of tools) {
    const w = median(res.get(name).map((r) => r.wall)), c = median(res.get(name).map((r) => r.cpu));
    console.log(`${name.padEnd(26)}${w.toFixed(3).padStart(16)}${c.toFixed(2).padStart(8)}   ${(base / w).toFixed(2)}×, ${(baseCpu / Math.max(c, 0.005)).toFixed(2)}×`);
  }
  console.log(`0.5× tcpdump by wall allows ${(2 * base).toFixed(3)} s; what the stages after the flow table may cost within it: ${(2 * base - median(res.get('read+decode+flow').map((r) => r.wall))).toFixed(3)} s`);
}

main().catch((e) => { console.error(`bench-analyze-floor: ${e.message}`); process.exit(1); });
