/**
 * Exit codes of every tcp-shift command (gateway, echo, verify, start, render, shift, cluster,
 * bench): one meaning per number, whichever program a script or supervisor runs.
 */
export const EXIT_CODES = {
  /** Done as asked. */
  ok: 0,
  /**
   * Ran and failed: invalid config or route file, a busy port, a split inconsistent with the
   * expected weight, a failed gate (rolled back).
   */
  failure: 1,
  /** Bad command line: nothing was started or changed. */
  usage: 2,
  /** verify: too many connections failed for the counts to say anything about the weights. */
  connectionFailures: 3,
  /** A bug: an unexpected exception (the stack trace is printed). */
  internal: 70,
  /** Stopped by a second Ctrl-C without draining (128 + SIGINT). */
  interrupted: 130,
} as const;

/** One of `EXIT_CODES`. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];
