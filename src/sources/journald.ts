/**
 * Journal source: follows the systemd journal through a `journalctl --follow --output=json`
 * child (the approach Vector's journald source takes) and hands each entry to a callback.
 *
 * 1. `buildJournalctlArgs` turns the config and the last cursor into arguments: journal matches
 *    (unit, SYSLOG_IDENTIFIER), `--directory` for a journal directory, `--after-cursor` to resume
 *    exactly after the last entry seen, or `--lines=0` to start at "now".
 * 2. stdout is split into lines; each line is one JSON object. Malformed lines are counted and
 *    skipped; stderr is drained and surfaced as warnings.
 * 3. When the child exits (killed, journal rotated away, crash) it is restarted with exponential
 *    backoff from the last cursor, so no entry is lost or repeated.
 * 4. stop() SIGTERMs the child; nothing is left running.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { holdsJournalFiles, journalAccessProblem, journalDirectories, journalLocation } from './journal-files.js';
import { DEFAULTS } from '../config/defaults.js';

export interface JournalConfig {
  /** Follow this journal directory instead of the system journal (`journalctl --directory`). */
  directory: string | null;
  /** systemd units to match (`_SYSTEMD_UNIT=`; ".service" added when no suffix). */
  units: string[];
  /** SYSLOG_IDENTIFIER values to match. */
  identifiers: string[];
  /** journalctl binary (tests point this at a fixture). */
  journalctl: string;
}

export const JOURNAL_DEFAULTS: JournalConfig = {
  directory: DEFAULTS.journal.directory, units: DEFAULTS.journal.units, identifiers: DEFAULTS.journal.identifiers, journalctl: DEFAULTS.journal.journalctl,
};

/**
 * Pure: the journalctl command line for `config`, resuming after `cursor` when given.
 * Matches (unit, identifier) are NOT passed to journalctl: systemd 252 following with a match on
 * a value new to the journal file delivered only the last entry of a burst (three back-to-back
 * entries, only the third arrived, every time). Entries are filtered in-process instead.
 */
export function buildJournalctlArgs(config: JournalConfig, cursor: string | null, fromStart = false): string[] {
  const args = ['--follow', '--output=json', '--no-pager', '--all'];
  if (config.directory) args.push(`--directory=${config.directory}`);
  // --follow without --lines shows only the first 10 entries after the cursor, and the rest only
  // once the journal changes again (systemd 252): on a quiet host, what a restart had to catch
  // up on beyond 10 entries (of any program) waited for the next entry anyone logged.
  if (cursor) args.push(`--after-cursor=${cursor}`, '--lines=all');
  else args.push(fromStart ? '--lines=all' : '--lines=0'); // spot checks start at "now"
  return args;
}

/** Where journald listens (systemd-journald.service(8)); its files: journal-files.ts. */
export const JOURNAL_SOCKET = '/run/systemd/journal/socket';

/**
 * Why following the system journal cannot deliver events, or null when it can: no journal files
 * anywhere journalctl looks (journalctl then follows nothing and says nothing), or no journald
 * socket (nothing logged from now on would reach the files). Checked once at start. `dirs`: other
 * roots to look in instead (for tests; every subdirectory counts as a machine folder there).
 */
export function systemJournalProblem(socket = JOURNAL_SOCKET, dirs?: string[]): string | null {
  const loc = dirs !== undefined ? journalDirectories(dirs) : journalLocation(null);
  const files = holdsJournalFiles(loc);
  const listening = existsSync(socket);
  const where = loc.roots.join(' and ');
  if (!files && !listening) return `no system journal is reachable: no systemd-journald is running (no ${socket}) and ${where} hold no journal files; events arrive only once a journald runs (start systemd-journald, or follow a journal directory with --journal-dir)`;
  if (!files) return `the system journal has no files yet (${where} are empty): following starts when journald writes its first one`;
  if (!listening) return `no systemd-journald is running (no ${socket}): the journal files are read, but nothing logged from now on will arrive`;
  return null;
}

/** Unit names as journald records them (".service" added when there is no suffix). */
function unitNames(config: JournalConfig): string[] {
  return config.units.map((u) => (/\.[a-z]+$/.test(u) ? u : `${u}.service`));
}

export interface JournalStats {
  entries: number;
  /** Entries of other units/identifiers, skipped. */
  filtered: number;
  malformedLines: number;
  restarts: number;
  stderrLines: number;
}

export interface JournalFollowerOptions {
  onEntry: (entry: Record<string, unknown>) => void;
  /**
   * `once`: a state change said at most once per follower (journal files appeared, or appeared
   * unreadable): a caller that rate-limits warnings must still show it (the repeated journalctl
   * restarts of an unreadable journal used to use up capture's five and hide the one that says why).
   */
  onWarning?: (message: string, once?: boolean) => void;
  /** First restart delay; doubles up to maxBackoffMs, resets after a child ran for 10 s. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Resume after this cursor (daemons); null starts at "now". */
  cursor?: string | null;
}

const MAX_LINE = 1024 * 1024;
const CURSOR_RE = /"__CURSOR":"((?:[^"\\]|\\.)*)"/;

export class JournalFollower {
  readonly stats: JournalStats = { entries: 0, filtered: 0, malformedLines: 0, restarts: 0, stderrLines: 0 };
  readonly #units: string[];
  readonly #needles: string[];
  #child: ChildProcessWithoutNullStreams | null = null;
  #cursor: string | null;
  #stopped = false;
  #backoff: number;
  #timer: NodeJS.Timeout | null = null;
  #partial = '';
  #startedAt = 0;
  #readyResolve: (() => void) | null = null;
  /**
   * Set when no journal file existed at start: journalctl then watches nothing and never sees the
   * files a journald started later creates, so they are polled for (1 s) and journalctl restarted
   * on them, from their first entry (all of which are newer than our start).
   */
  #filesPoll: NodeJS.Timeout | null = null;
  #fromStart = false;
  #quietRestart = false;

  constructor(readonly config: JournalConfig, readonly opts: JournalFollowerOptions) {
    this.#cursor = opts.cursor ?? null;
    this.#backoff = opts.backoffMs ?? 250;
    this.#units = unitNames(config);
    // Cheap pre-filter on the raw JSON text before parsing (journalctl prints `"KEY":"value"`).
    this.#needles = [
      ...this.#units.map((u) => `"_SYSTEMD_UNIT":${JSON.stringify(u)}`),
      ...config.identifiers.map((i) => `"SYSLOG_IDENTIFIER":${JSON.stringify(i)}`),
    ];
  }

  /** The cursor of the last entry handed out (persist it to resume a daemon). */
  get cursor(): string | null {
    return this.#cursor;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * Starts following; resolves once journalctl is running. Without a saved cursor the journal's
   * current tail cursor is taken first, so even a restart before the first event resumes exactly
   * where following began (journalctl's "--lines=0" would start at a later "now" and lose what
   * was logged in between).
   */
  start(): Promise<void> {
    if (this.#cursor === null) this.#cursor = this.#tailCursor();
    // The same folders and readability rule as capture's start check (journal-files.ts).
    const loc = journalLocation(this.config.directory);
    // Also when files are there but unreadable (no cursor, yet files: a journald starting with us
    // created them after the tail cursor above): the user capture dropped to could never read
    // them, unsaid; the poll says so, once, within 1 s.
    const existed = holdsJournalFiles(loc);
    if (this.#cursor === null && (!existed || journalAccessProblem(loc) !== null)) {
      let deniedSaid = false;
      this.#filesPoll = setInterval(() => {
        const denied = journalAccessProblem(loc);
        if (denied !== null && !deniedSaid) { // say so once; following starts if access is granted
          deniedSaid = true;
          this.opts.onWarning?.(`journal files appeared, but ${denied.path} is not readable by this process (uid ${process.geteuid?.()}), so no events can arrive: ` +
            'give the journal group systemd-journal (systemd-tmpfiles --create --prefix=/run/log/journal --prefix=/var/log/journal), or run capture with --user root', true);
        }
        if (denied !== null || !holdsJournalFiles(loc)) return;
        this.#stopFilesPoll();
        // Files that were there (unreadable) at start may hold old entries: journalctl, restarted
        // as it exits on them, follows from now, as on any journal.
        if (existed) return;
        this.opts.onWarning?.(`journal files appeared in ${loc.roots.join(' or ')}: following them from their first entry`, true);
        this.#fromStart = true;
        if (this.#child) { this.#quietRestart = true; this.#child.kill('SIGTERM'); }
      }, 1000);
      this.#filesPoll.unref();
    }
    return new Promise((resolve) => {
      this.#readyResolve = resolve;
      this.#spawn();
    });
  }

  #tailCursor(): string | null {
    const args = ['--lines=1', '--output=json', '--no-pager', '--all'];
    if (this.config.directory) args.push(`--directory=${this.config.directory}`);
    const r = spawnSync(this.config.journalctl, args, { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0 || !r.stdout) return null;
    const m = CURSOR_RE.exec(r.stdout);
    return m ? JSON.parse(`"${m[1]}"`) as string : null;
  }

  #spawn(): void {
    if (this.#stopped) return;
    const child = spawn(this.config.journalctl, buildJournalctlArgs(this.config, this.#cursor, this.#fromStart), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child = child;
    this.#partial = '';
    this.#startedAt = Date.now();
    child.stdin.end();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.#onData(chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (!line.trim()) continue;
        this.stats.stderrLines++;
        this.opts.onWarning?.(`journalctl: ${line.trim()}`);
      }
    });
    child.on('spawn', () => {
      this.#readyResolve?.();
      this.#readyResolve = null;
    });
    child.on('error', (err) => {
      this.opts.onWarning?.(`journalctl could not run (${err.message}); retrying in ${this.#backoff} ms`);
      this.#readyResolve?.();
      this.#readyResolve = null;
    });
    child.on('close', (code, signal) => {
      if (this.#child === child) this.#child = null;
      if (this.#stopped) return;
      if (this.#partial) this.#line(this.#partial);
      this.#partial = '';
      if (this.#quietRestart) { // asked for by the files poll: no backoff, not a failure
        this.#quietRestart = false;
        this.#spawn();
        return;
      }
      if (Date.now() - this.#startedAt > 10_000) this.#backoff = this.opts.backoffMs ?? 250;
      this.opts.onWarning?.(`journalctl exited (${signal ?? `code ${code}`}); restarting in ${this.#backoff} ms from ${this.#cursor ? 'the last cursor' : 'now'}`);
      this.stats.restarts++;
      this.#timer = setTimeout(() => { this.#timer = null; this.#spawn(); }, this.#backoff);
      this.#backoff = Math.min(this.#backoff * 2, this.opts.maxBackoffMs ?? 30_000);
    });
  }

  #onData(chunk: string): void {
    let text = this.#partial + chunk;
    let nl = text.indexOf('\n');
    while (nl >= 0) {
      this.#line(text.slice(0, nl));
      text = text.slice(nl + 1);
      nl = text.indexOf('\n');
    }
    if (text.length > MAX_LINE) { // a runaway line: count it, drop it
      this.stats.malformedLines++;
      text = '';
    }
    this.#partial = text;
  }

  #line(line: string): void {
    if (!line.trim()) return;
    // Every line moves the resume position, also lines that are filtered out below.
    const cm = CURSOR_RE.exec(line);
    if (cm) this.#cursor = JSON.parse(`"${cm[1]}"`) as string;
    if (this.#needles.length > 0 && !this.#needles.some((n) => line.includes(n))) {
      this.stats.filtered++;
      return;
    }
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      this.stats.malformedLines++;
      return;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      this.stats.malformedLines++;
      return;
    }
    const e = entry as Record<string, unknown>;
    if (typeof e.__CURSOR === 'string') this.#cursor = e.__CURSOR;
    if (this.#needles.length > 0 && !this.#units.includes(e._SYSTEMD_UNIT as string) && !this.config.identifiers.includes(e.SYSLOG_IDENTIFIER as string)) {
      this.stats.filtered++; // the text matched inside another field
      return;
    }
    this.stats.entries++;
    this.opts.onEntry(e);
  }

  #stopFilesPoll(): void {
    if (this.#filesPoll) clearInterval(this.#filesPoll);
    this.#filesPoll = null;
  }

  /** Stops following: SIGTERM to the child, no restart. Resolves when it has exited. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopFilesPoll();
    if (this.#timer) clearTimeout(this.#timer);
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { child.kill('SIGKILL'); }, 2000);
      child.once('close', () => { clearTimeout(t); resolve(); });
      child.kill('SIGTERM');
    });
  }
}
