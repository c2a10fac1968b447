/**
 * Log lines that can come in floods (a dead backend: one line per client connection; refused or
 * malformed connections) are rate-limited per kind: the first line of a kind is written at once,
 * the rest of its interval are counted, and one summary line says how many there were:
 * `backend connect failed (and 1234 more in the last 10 s)`. A kind that stays quiet for a whole
 * interval costs nothing more (its state is dropped).
 */
import type { Logger, LogLevel } from "./jsonLogger";

/** Default interval: one line per kind per 10 s, plus a summary. */
export const LOG_INTERVAL_MS = 10_000;

interface KindState {
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown> | undefined;
  suppressed: number;
  timer: NodeJS.Timeout;
}

/** Rate-limited logging by kind. */
export class LogLimiter {
  private readonly kinds = new Map<string, KindState>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = LOG_INTERVAL_MS,
  ) {}

  /**
   * Log `msg` unless a line of the same `kind` was written less than an interval ago; then it is
   * counted, and the summary at the end of the interval carries the latest fields.
   */
  log(level: LogLevel, kind: string, msg: string, fields?: Record<string, unknown>): void {
    const state = this.kinds.get(kind);
    if (state) {
      state.suppressed++;
      state.fields = fields;
      return;
    }
    this.logger[level](msg, fields);
    this.open(kind, { level, msg, fields, suppressed: 0 });
  }

  /** Write the pending summaries now and forget every kind (shutdown). */
  flush(): void {
    for (const [kind, state] of this.kinds) {
      clearTimeout(state.timer);
      this.summarise(state);
      this.kinds.delete(kind);
    }
  }

  private open(kind: string, state: Omit<KindState, "timer">): void {
    const timer = setTimeout(() => this.tick(kind), this.intervalMs);
    timer.unref();
    this.kinds.set(kind, { ...state, timer });
  }

  private tick(kind: string): void {
    const state = this.kinds.get(kind);
    if (!state) return;
    this.kinds.delete(kind);
    if (state.suppressed === 0) return;
    this.summarise(state);
    // Still flooding: the next interval is limited too.
    this.open(kind, { ...state, suppressed: 0 });
  }

  private summarise(state: KindState): void {
    if (state.suppressed === 0) return;
    const seconds = Number((this.intervalMs / 1000).toFixed(3));
    this.logger[state.level](
      `${state.msg} (and ${state.suppressed} more in the last ${seconds} s)`,
      { ...state.fields, repeated: state.suppressed },
    );
  }
}
