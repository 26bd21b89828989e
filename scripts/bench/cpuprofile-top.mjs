// Self time per function from a V8 .cpuprofile (node --cpu-prof), hottest first.
// CLI: node cpuprofile-top.mjs FILE.cpuprofile [N]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

export function topFunctions(file, n = 15, root = process.cwd()) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((nd) => [nd.id, nd]));
  // Self time from samples/timeDeltas (hitCount alone ignores uneven sampling intervals).
  const self = new Map();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    const id = p.samples[i];
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  }
  const agg = new Map();
  for (const [id, us] of self) {
    const cf = byId.get(id).callFrame;
    let url = cf.url.replace(/^file:\/\//, '');
    if (url.startsWith('/')) url = relative(root, url);
    const name = cf.functionName || (url ? '(anonymous)' : cf.url || '(native)');
    const k = url ? `${name}  ${url}:${cf.lineNumber + 1}` : name;
    agg.set(k, (agg.get(k) ?? 0) + us);
  }
  const rows = [...agg].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => ({ fn: k, ms: us / 1000, pct: (100 * us) / total }));
  return { totalMs: total / 1000, rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { totalMs, rows } = topFunctions(process.argv[2], Number(process.argv[3] ?? 15));
  console.log(`total sampled ${totalMs.toFixed(0)} ms`);
  for (const r of rows) console.log(`${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(6)} ms  ${r.fn}`);
}
