/**
 * SIGUSR1 from the first line on. Node's default for SIGUSR1 is to open the inspector on
 * 127.0.0.1:9229, a debugger anyone on the machine can attach to: a snapshot asked for while
 * capture is still starting would have done that. Imported first by index.ts, this holds
 * SIGUSR1 until a command installs its own handler and takes what came in the meantime.
 */
let pending = 0;
const hold = (): void => { pending++; };
process.on('SIGUSR1', hold);

/** Stops holding SIGUSR1 (call after installing the command's own handler); returns how many came. */
export function takeEarlyUsr1(): number {
  process.off('SIGUSR1', hold);
  const n = pending;
  pending = 0;
  return n;
}
