// The agent's clock is the shared one (shared/clock.ts): the controller injects the same
// interface, so one manual clock drives both sides in tests.
export * from '../shared/clock.js';
