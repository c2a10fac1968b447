/**
 * The one error class for mistakes a user can fix (bad config, bad route file, busy port).
 * Callers print `message` only: no stack trace for user mistakes.
 */
export class UserError extends Error {
  /** Stable machine-readable code, e.g. `E_CONFIG`. */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "UserError";
    this.code = code;
  }
}
