// The event-code catalogue, beside the error catalogue (shared/errors.ts): the BMF_EVT_* codes
// a device reports for notable successes on its events topic (failures carry their BMF_ERR_*
// code), and the few the controller logs itself (`from: 'controller'`). Codes are never renamed or reused. docs/events.md documents every code and a test
// (test/shared/catalogues.test.ts) keeps the two in step and checks every code is used.
import type { Severity } from './wire/messages.js';

export interface EventSpec {
  readonly severity: Severity;
  /** What happened, as the docs and logs say it. */
  readonly meaning: string;
  /** Logged by the controller, never reported by a device. */
  readonly from?: 'controller';
}

export const eventCatalogue = {
  BMF_EVT_ACTIVATED: { severity: 'info', meaning: 'a bundle was swapped in and serves' },
  BMF_EVT_HEALTHY: {
    severity: 'info',
    meaning: 'a bundle passed its health window and is the last-known-good',
  },
  BMF_EVT_ROLLED_BACK: {
    severity: 'warning',
    meaning: 'a regressed bundle was swapped out for the last-known-good',
  },
  BMF_EVT_UNLOADED: { severity: 'info', meaning: 'a variant no longer assigned was unloaded' },
  BMF_EVT_DOWNGRADE: {
    severity: 'warning',
    meaning: 'a lower bundle sequence is installed because the assignment allows it',
  },
  BMF_EVT_COMMAND_ACK: { severity: 'info', meaning: 'a device carried out a command' },
  BMF_EVT_EXPERIMENT_ABORTED: {
    severity: 'warning',
    meaning: 'a scheduled look found a guardrail breached and aborted the experiment back to A',
    from: 'controller',
  },
} as const satisfies Record<string, EventSpec>;

export type EventCode = keyof typeof eventCatalogue;

/** The code, checked by the compiler against the catalogue. */
export const eventCode = <C extends EventCode>(code: C): C => code;

export function isEventCode(s: string): s is EventCode {
  return Object.hasOwn(eventCatalogue, s);
}
