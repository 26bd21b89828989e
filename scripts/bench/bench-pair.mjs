// Times commands side by side in interleaved rounds (every round runs each once, in alternating
// order, so a slow phase of a shared machine hits all of them alike) and prints per command the
// median and minimum of the wall time and of the CPU-seconds (user + sys of all its threads, from
// /usr/bin/time). Output to /dev/null.
//
// usage: node scripts/bench/bench-pair.mjs ROUNDS 'LABEL|COMMAND' ['LABEL|COMMAND' ...]
//   e.g. node scripts/bench/bench-pair.mjs 5 "t1|node dist/cli/index.js analyze F --threads 1" \
//          "t2|node dist/cli/index.js analyze F --threads 2" "tcpdump|tcpdump -r F -w /dev/null"
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const rounds = Number(process.argv[2]);
const specs = process.argv.slice(3);
if (!Number.isInteger(rounds) || rounds < 1 || specs.length === 0 || specs.some((c) => !c.includes('|'))) {
  console.error("usage: node scripts/bench/bench-pair.mjs ROUNDS 'LABEL|COMMAND' ...");
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'bench-pair-'));
const timeFile = join(dir, 'time');
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const cmds = specs.map((c) => ({ label: c.slice(0, c.indexOf('|')), cmd: c.slice(c.indexOf('|') + 1), wall: [], cpu: [] }));
for (let r = 0; r < rounds; r++) {
  for (const c of r % 2 ? [...cmds].reverse() : cmds) {
    const t = spawnSync('bash', ['-c', `/usr/bin/time -f '%e %U %S' -o ${timeFile} ${c.cmd} > /dev/null 2>/dev/null`], { encoding: 'utf8' });
    const [w, u, s] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    if (t.status !== 0 || !Number.isFinite(w)) {
      console.error(`${c.label}: failed (exit ${t.status}): ${c.cmd}`);
      process.exit(1);
    }
    c.wall.push(w);
    c.cpu.push(u + s);
  }
}
const median = (a) => { const b = [...a].sort((x, y) => x - y); return b.length % 2 ? b[b.length >> 1] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2; };
const f = (x) => x.toFixed(2);
for (const c of cmds) {
  console.log(`${c.label.padEnd(16)} wall median ${f(median(c.wall))} s, min ${f(Math.min(...c.wall))}  cpu median ${f(median(c.cpu))} s, min ${f(Math.min(...c.cpu))}  (wall per round: ${c.wall.map(f).join(' ')})`);
}
