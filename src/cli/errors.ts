/** Usage or configuration problem: printed as one line, exit 2. */
export class UsageError extends Error {
  readonly code = 'SLOWSHAKE_ERR_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
export const EXIT_BAD_INPUT = 2;
/** The run completed, but some results could not be written (a full disk …): the summary says which. */
export const EXIT_RESULTS_LOST = 3;
