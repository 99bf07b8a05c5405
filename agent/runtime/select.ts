// Runtime selection: `auto` uses libsophon's bmrt when the library is installed and the
// simulator otherwise; the chosen backend and why are reported (the agent logs and announces it).
// The bmrt backend is passed in as a factory (agent.ts builds it from libsophon's binding); when
// libsophon is present but the factory fails (binding not built, a symbol missing), `auto` falls
// back to the simulator and says why.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bmfError, toBmfError } from '../../shared/errors.js';
import { libsophonDir } from './bmrt/native.js';
import type { Clock } from '../clock.js';
import type { SimSessionPool } from './session-pool.js';
import { createSimBackend } from './sim.js';
import type { RuntimeBackend, RuntimeChoice, RuntimeName, TimingMode } from './types.js';

/** libbmrt.so under $BMFLEET_LIBSOPHON_DIR, default /opt/sophon/libsophon-current (a symlink to the installed release). */
export const libbmrtPath = (env: NodeJS.ProcessEnv = process.env): string =>
  join(libsophonDir(env), 'lib', 'libbmrt.so');

export interface SelectRuntimeOptions {
  readonly pool: SimSessionPool;
  readonly clock: Clock;
  readonly timing: TimingMode;
  readonly libbmrtPath?: string;
  readonly fileExists?: (path: string) => boolean;
  readonly createBmrtBackend?: () => RuntimeBackend;
}

export interface SelectedRuntime {
  readonly backend: RuntimeBackend;
  readonly chosen: RuntimeName;
  readonly reason: string;
}

export function selectRuntime(
  choice: RuntimeChoice,
  options: SelectRuntimeOptions,
): SelectedRuntime {
  const path = options.libbmrtPath ?? libbmrtPath();
  const present = (options.fileExists ?? existsSync)(path);
  const sim = (reason: string): SelectedRuntime => ({
    backend: createSimBackend({ pool: options.pool, clock: options.clock, timing: options.timing }),
    chosen: 'sim',
    reason,
  });
  switch (choice) {
    case 'sim':
      return sim('simulator requested');
    case 'bmrt':
      if (!present) {
        throw bmfError('BMF_ERR_RUNTIME_UNAVAILABLE', {
          runtime: 'bmrt',
          reason: `libsophon not found at ${path}`,
        });
      }
      if (!options.createBmrtBackend) {
        throw bmfError('BMF_ERR_RUNTIME_UNAVAILABLE', {
          runtime: 'bmrt',
          reason: 'this build has no bmrt backend',
        });
      }
      return { backend: options.createBmrtBackend(), chosen: 'bmrt', reason: 'bmrt requested' };
    case 'auto':
      if (present && options.createBmrtBackend) {
        try {
          return { backend: options.createBmrtBackend(), chosen: 'bmrt', reason: `found ${path}` };
        } catch (e) {
          return sim(`found ${path} but bmrt cannot start: ${toBmfError(e).message}`);
        }
      }
      return sim(
        present ? `found ${path} but this build has no bmrt backend` : `no libsophon at ${path}`,
      );
  }
}
