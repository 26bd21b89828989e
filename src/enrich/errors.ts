/**
 * A file given to the enricher (a range file, an ASN database) that cannot be used. The message
 * names the file and what is wrong in one line; the CLI puts the option in front
 * (`--ranges x.json: not an AWS ip-ranges.json …`).
 */
export class EnrichInputError extends Error {
  readonly code = 'SLOWSHAKE_ERR_ENRICH_INPUT';
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'EnrichInputError';
    this.file = file;
  }
}

/** An fs error code as a few words ("no such file"). */
export function describeReadError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT': return 'cannot read: no such file';
    case 'EACCES': case 'EPERM': return 'cannot read: permission denied';
    case 'EISDIR': return 'cannot read: is a directory';
    default: return `cannot read: ${err.code ?? err.message}`;
  }
}
