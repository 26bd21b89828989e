/**
 * DNS servers on loopback for the reverse-DNS tests:
 * - `startDnsmasq`: Debian's dnsmasq answering fixed PTR records (--ptr-record), NXDOMAIN for
 *   every other reverse name, logging each query so a test can count what the server saw;
 * - `startUdpDns`: a server in this process that never answers (timeouts), answers with a
 *   truncated message (garbage), or answers a PTR whose name is not a host name.
 * Both are stopped by the returned `stop()` (dnsmasq by its PID).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseAddress } from '../../src/correlate/journal-event.js';
import { tempDir } from './cli.js';
import { until } from './wait.js';

/** The reverse name of an address (RFC 1035 §3.5, RFC 3596 §2.5). */
export function ptrName(ip: string): string {
  const a = parseAddress(ip)!;
  if (a.length === 4) return `${[...a].reverse().join('.')}.in-addr.arpa`;
  const nibbles = [...a].flatMap((b) => [b >> 4, b & 15]).reverse().map((n) => n.toString(16));
  return `${nibbles.join('.')}.ip6.arpa`;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Dnsmasq {
  server: string;
  /** PTR queries the server has logged so far (all, or for one address). */
  ptrQueries(ip?: string): number;
  stop(): Promise<void>;
}

export async function startDnsmasq(ptrs: readonly (readonly [string, string])[]): Promise<Dnsmasq> {
  const dir = tempDir('slowshake-dnsmasq-');
  const log = join(dir, 'queries.log');
  const port = await freeUdpPort();
  const args = [
    '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--listen-address=127.0.0.1', '--bind-interfaces',
    `--port=${port}`, '--user=root', '--pid-file=', '--cache-size=0', '--log-queries', `--log-facility=${log}`,
    // answer every other reverse name locally (NXDOMAIN) instead of REFUSED for want of upstreams
    '--local=/in-addr.arpa/', '--local=/ip6.arpa/',
    ...ptrs.map(([ip, name]) => `--ptr-record=${ptrName(ip)},${name}`),
  ];
  const child: ChildProcess = spawn('dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const read = (): string => { try { return readFileSync(log, 'utf8'); } catch { return ''; } };
  try {
    await until(() => /started, version/.test(read()) || child.exitCode !== null, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  if (child.exitCode !== null) throw new Error(`dnsmasq exited ${child.exitCode}: ${stderr}`);
  return {
    server: `127.0.0.1:${port}`,
    ptrQueries: (ip?: string) => {
      const want = ip === undefined ? null : ptrName(ip);
      return read().split('\n').filter((l) => /query\[PTR\] (\S+) from/.test(l) && (want === null || l.includes(`query[PTR] ${want} from`))).length;
    },
    stop: async () => {
      if (child.exitCode === null && child.pid !== undefined) {
        const gone = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type UdpDnsMode = 'silent' | 'truncated' | 'bad-name';

export interface UdpDns { server: string; queries: number; stop(): Promise<void> }

/** DNS header flags of a response: QR, RD, RA, NOERROR (RFC 1035 §4.1.1). */
const RESPONSE_FLAGS = 0x8180;

export async function startUdpDns(mode: UdpDnsMode): Promise<UdpDns> {
  const sock: Socket = createSocket('udp4');
  const state: UdpDns = { server: '', queries: 0, stop: () => new Promise<void>((r) => sock.close(() => r())) };
  sock.on('message', (q, rinfo) => {
    state.queries++;
    if (mode === 'silent' || q.length < 12) return;
    let reply: Buffer;
    if (mode === 'truncated') {
      // the query's ID and a response header that promises one answer, then nothing
      reply = Buffer.alloc(14);
      q.copy(reply, 0, 0, 2);
      reply.writeUInt16BE(RESPONSE_FLAGS, 2);
      reply.writeUInt16BE(1, 4); // QDCOUNT
      reply.writeUInt16BE(1, 6); // ANCOUNT
      reply[12] = 0xc0; reply[13] = 0xff; // a name pointer past the end
    } else {
      // a well-formed PTR answer whose name holds bytes no host name has (RFC 1035 §3.3.12)
      const qEnd = q.indexOf(0, 12) + 5; // question: QNAME, QTYPE, QCLASS
      const label = Buffer.from('bad name\x01!', 'latin1');
      const rdata = Buffer.concat([Buffer.from([label.length]), label, Buffer.from([7]), Buffer.from('example'), Buffer.from([0])]);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question's
      rr.writeUInt16BE(12, 2); // PTR
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(300, 6);
      rr.writeUInt16BE(rdata.length, 10);
      const head = Buffer.from(q.subarray(0, qEnd));
      head.writeUInt16BE(RESPONSE_FLAGS, 2);
      head.writeUInt16BE(1, 6);
      reply = Buffer.concat([head, rr, rdata]);
    }
    sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  state.server = `127.0.0.1:${sock.address().port}`;
  return state;
}
