/**
 * A configuration problem (style.md §3.2): one line naming the file, the key (dotted path), what
 * was expected and the value received. Thrown once, at load; the CLI prints it and exits 2.
 * Callers match on `code` (and `reason`), never on the message.
 */
export type ConfigErrorReason = 'unreadable' | 'syntax' | 'unknown_key' | 'invalid_value';

export class ConfigError extends Error {
  readonly code = 'SLOWSHAKE_ERR_CONFIG';
  constructor(
    message: string,
    readonly reason: ConfigErrorReason,
    readonly file: string,
    /** Dotted key (`capture.ring_size`), or null for a whole-file problem. */
    readonly key: string | null,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}
