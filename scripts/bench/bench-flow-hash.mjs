// Cost of the capture thread's per-packet flow hash (native/src/flow_hash.cc FlowHash), this
// work tree's version against another git revision's (the peer), on the same packets.
//
// 1. Compile a small C++ driver twice with the compiler flags of native/binding.gyp: once with
//    this tree's flow_hash.cc, once with `git show REV:native/src/flow_hash.cc`.
// 2. The driver loads every packet of the given classic pcaps into memory (contiguously, as in
//    the ring), runs untimed warm-up passes, then times --passes passes of FlowHash over all of
//    them (steady_clock) and repeats that --runs times; the two binaries alternate run by run.
// 3. Print median and minimum ns per packet for both (the minimum is the least disturbed by
//    other load on a shared machine), their ratios, and a checksum of the hashes of each (the
//    sum differs where the hash semantics changed, e.g. IPv6 AH or fragments).
// What it leaves out: libpcap, the ring write and the flow-table update around the hash (see
// scripts/bench-capture for the whole capture path against tcpdump).
//
// usage: node scripts/bench/bench-flow-hash.mjs [--peer REV (default HEAD~1)] [--passes N] [--runs N] [PCAP...]
//        (default pcaps: captures/tls/*.pcap)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: v, positionals } = parseArgs({
  allowPositionals: true,
  options: { peer: { type: 'string', default: 'HEAD~1' }, passes: { type: 'string', default: '2000' }, runs: { type: 'string', default: '9' } },
});
const pcaps = positionals.length > 0 ? positionals.map((p) => resolve(p))
  : readdirSync(join(ROOT, 'captures/tls')).filter((f) => f.endsWith('.pcap')).map((f) => join(ROOT, 'captures/tls', f));

const DRIVER = String.raw`
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "flow_hash.h"
struct Pkt { uint32_t off, len; int link; };
int main(int argc, char** argv) {
  const int passes = atoi(argv[1]);
  std::vector<uint8_t> mem;
  std::vector<Pkt> pkts;
  for (int f = 2; f < argc; f++) {
    FILE* fp = fopen(argv[f], "rb");
    if (!fp) { perror(argv[f]); return 2; }
    uint8_t gh[24];
    if (fread(gh, 1, 24, fp) != 24) return 2;
    uint32_t magic; memcpy(&magic, gh, 4);
    if (magic != 0xa1b2c3d4u && magic != 0xa1b23c4du) { fprintf(stderr, "%s: not a little-endian classic pcap\n", argv[f]); return 2; }
    uint32_t link; memcpy(&link, gh + 20, 4);
    uint8_t rh[16];
    while (fread(rh, 1, 16, fp) == 16) {
      uint32_t incl; memcpy(&incl, rh + 8, 4);
      const size_t at = mem.size();
      mem.resize(at + ((incl + 7) & ~7u));
      if (fread(mem.data() + at, 1, incl, fp) != incl) break;
      pkts.push_back({static_cast<uint32_t>(at), incl, static_cast<int>(link & 0xffff)});
    }
    fclose(fp);
  }
  uint64_t sum = 0;
  for (int w = 0; w < passes / 10 + 1; w++)
    for (const Pkt& p : pkts) sum += slowshake::FlowHash(mem.data() + p.off, p.len, p.link);
  sum = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < passes; r++)
    for (const Pkt& p : pkts) sum += slowshake::FlowHash(mem.data() + p.off, p.len, p.link);
  const auto t1 = std::chrono::steady_clock::now();
  const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
  printf("%zu %.3f %llu\n", pkts.size(), ns / (static_cast<double>(passes) * pkts.size()), static_cast<unsigned long long>(sum / passes));
  return 0;
}
`;

const dir = mkdtempSync(join(tmpdir(), 'bench-flow-hash-'));
try {
  const flags = ['-std=c++17', '-O2', '-Wall', '-Wextra', '-fno-exceptions'];
  writeFileSync(join(dir, 'driver.cc'), DRIVER);
  const build = (name, src) => {
    const d = join(dir, name);
    execFileSync('mkdir', ['-p', d]);
    writeFileSync(join(d, 'flow_hash.cc'), src);
    execFileSync('cp', [join(ROOT, 'native/src/flow_hash.h'), d]);
    const out = join(d, 'bench');
    execFileSync('g++', [...flags, '-I', d, join(dir, 'driver.cc'), join(d, 'flow_hash.cc'), '-o', out]);
    return out;
  };
  const mine = build('this', readFileSync(join(ROOT, 'native/src/flow_hash.cc'), 'utf8'));
  const peerSrc = execFileSync('git', ['-C', ROOT, 'show', `${v.peer}:native/src/flow_hash.cc`], { encoding: 'utf8' });
  const peer = build('peer', peerSrc);
  const results = { this: [], peer: [] };
  let packets = 0;
  const sums = {};
  for (let r = 0; r < Number(v.runs); r++) {
    for (const [name, bin] of r % 2 === 0 ? [['this', mine], ['peer', peer]] : [['peer', peer], ['this', mine]]) {
      const p = spawnSync(bin, [v.passes, ...pcaps], { encoding: 'utf8' });
      if (p.status !== 0) throw new Error(`${name}: ${p.stderr}`);
      const [n, ns, sum] = p.stdout.trim().split(' ');
      packets = Number(n);
      results[name].push(Number(ns));
      sums[name] = sum;
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const m = median(results.this), pm = median(results.peer);
  const lo = Math.min(...results.this), plo = Math.min(...results.peer);
  console.log(`packets: ${packets} from ${pcaps.length} pcaps, ${v.passes} passes x ${v.runs} runs`);
  console.log(`this tree    median ${m.toFixed(2)} min ${lo.toFixed(2)} ns/packet (runs ${results.this.map((x) => x.toFixed(2)).join(' ')})  hash sum ${sums.this}`);
  console.log(`peer ${v.peer.padEnd(7)} median ${pm.toFixed(2)} min ${plo.toFixed(2)} ns/packet (runs ${results.peer.map((x) => x.toFixed(2)).join(' ')})  hash sum ${sums.peer}`);
  console.log(`ratio this/peer: median ${(m / pm).toFixed(3)}, min ${(lo / plo).toFixed(3)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
