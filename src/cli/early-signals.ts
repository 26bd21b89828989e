/**
 * Signals that must not take their default action while a command is still starting.
 *
 * SIGUSR1, for every command: Node's default is to open the inspector on 127.0.0.1:9229, a
 * debugger anyone on the machine can attach to; a snapshot asked for while capture is still
 * starting would have done that.
 *
 * SIGHUP, for `watch` only: its default ends the process, and a reload (`kill -HUP`, a logrotate
 * hook) that came in the second or so before watch installed its handler killed the daemon.
 * The other commands keep the default: a closed terminal still stops `capture` or `analyze`.
 *
 * Imported first by index.ts, this holds both until the command installs its own handlers and
 * takes what came in the meantime.
 */
let usr1 = 0, hup = 0;
const holdUsr1 = (): void => { usr1++; };
const holdHup = (): void => { hup++; };
process.on('SIGUSR1', holdUsr1);
if (process.argv[2] === 'watch') process.on('SIGHUP', holdHup);

/** Stops holding SIGUSR1 (call after installing the command's own handler); returns how many came. */
export function takeEarlyUsr1(): number {
  process.off('SIGUSR1', holdUsr1);
  const n = usr1;
  usr1 = 0;
  return n;
}

/** Stops holding SIGHUP (watch, after installing its reload handler); returns how many came. */
export function takeEarlyHup(): number {
  process.off('SIGHUP', holdHup);
  const n = hup;
  hup = 0;
  return n;
}
