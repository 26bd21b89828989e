/**
 * One systemd journal for the whole test run (root only). Test files call ensureJournald(),
 * which finds this one running and leaves it alone, so parallel files never start a second
 * journald or stop the one another file is using. Stopped by PID after the run if started here.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const { ensureJournald, stockJournalPermissions } = await import('../helpers/journald.js');
  try {
    const h = await ensureJournald();
    // capture drops root and reads the journal through group systemd-journal (issue 8 item 6).
    try { stockJournalPermissions(); } catch (err) { process.stderr.write(`test setup: ${(err as Error).message}\n`); }
    return () => h.stop();
  } catch (err) {
    // The tests that need a journal report it themselves; everything else still runs.
    process.stderr.write(`test setup: no journal (${(err as Error).message})\n`);
    return undefined;
  }
}
