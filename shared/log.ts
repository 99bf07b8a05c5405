// The one log format of bmfleet's programs (agent and controller): pino's NDJSON lines on stderr,
// each with `time`, `level`, `name` (the program), `pid`, `hostname` and `msg`; an error is logged
// with its stable code in `code` (shared/errors.ts). Parts receive a logger (or a child of one
// with their own fields, e.g. `device`), never make their own.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** `agent` or `controller`: the `name` field of every line. */
  readonly program: string;
  readonly level?: LogLevel;
  /** Where lines go: stderr (synchronously, so nothing is lost when a signal ends the process). */
  readonly destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    { name: opts.program, level: opts.level ?? 'info' },
    opts.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

/** A logger that writes nothing (library use: tests, simulated fleets). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
