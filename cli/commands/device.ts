// `bmfleet device add|list|show|rm`: device identities through the controller's REST API.
import { constants } from 'node:fs';
import { access, chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { bmfError, type BmfError } from '../../shared/errors.js';
import { parseDeviceId } from '../../shared/ids.js';
import {
  CLIENT_OPTIONS,
  clientFrom,
  formatTable,
  formatTime,
  parseTags,
  shortDigest,
  writeJson,
} from '../http-client.js';
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';
import type { DeviceCreateBody, DeviceCreated, DeviceView } from '../../controller/api/client.js';

export const USAGE = `usage:
  bmfleet device add NAME --chip bm1684x [--tag site=berlin ...]
                    [--out agent.json | --out-dir DIR] [--force]
  bmfleet device list [--json]
  bmfleet device show NAME [--json]
  bmfleet device rm NAME
device add prints the agent config (with the device secret, shown only once) unless given
  --out FILE     write one self-contained agent config (0600) with the trust root embedded
  --out-dir DIR  create DIR and write DIR/agent.json (0600) and DIR/root.json
  --force        replace files that exist (otherwise BMF_ERR_FILE_EXISTS, nothing created)
  If the files cannot be written the device is removed again, so add can simply be rerun.
common: [--url http://127.0.0.1:8480] [--token TOKEN] (or BMFLEET_URL, BMFLEET_TOKEN)`;

type Device = DeviceView;
type Created = DeviceCreated;

function parse(argv: readonly string[]) {
  return parseCommandArgs(
    argv,
    {
      ...CLIENT_OPTIONS,
      chip: { type: 'string' },
      tag: { type: 'string', multiple: true },
      out: { type: 'string' },
      'out-dir': { type: 'string' },
      force: { type: 'boolean', default: false },
    },
    USAGE,
  );
}

const tagsText = (t: Record<string, string>) =>
  Object.entries(t)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '-';

function rows(devices: readonly Device[]): string {
  return formatTable(
    ['DEVICE', 'CHIP', 'ONLINE', 'LAST SEEN', 'STATUS', 'ACTIVE', 'TAGS'],
    devices.map((d) => [
      d.id,
      d.chip,
      d.online ? 'yes' : 'no',
      formatTime(d.lastSeen),
      d.status ?? '-',
      d.activeBundle ? `${shortDigest(d.activeBundle)} (${d.activeVariant || '-'})` : '-',
      tagsText(d.tags),
    ]),
  );
}

/** The files `device add` hands over: path -> contents and mode. */
interface AgentFile {
  readonly path: string;
  readonly mode: number;
  contents(created: Created): string;
}

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

/**
 * --out FILE: one agent.json with the root embedded; --out-dir DIR: DIR/agent.json naming
 * DIR/root.json (relative, so the directory can be copied to the board as it is).
 */
function agentFiles(v: { out?: string | undefined; 'out-dir'?: string | undefined }): AgentFile[] {
  if (v.out && v['out-dir']) {
    throw bmfError('BMF_ERR_USAGE', { reason: `give --out or --out-dir, not both\n${USAGE}` });
  }
  if (v.out) {
    return [
      {
        path: resolve(v.out),
        mode: 0o600,
        contents: (c) => {
          const { rootFile: _unused, ...rest } = c.agentConfig;
          return json({ ...rest, root: c.trustRoot });
        },
      },
    ];
  }
  if (v['out-dir']) {
    const dir = resolve(v['out-dir']);
    return [
      { path: join(dir, 'root.json'), mode: 0o644, contents: (c) => json(c.trustRoot) },
      {
        path: join(dir, 'agent.json'),
        mode: 0o600,
        contents: (c) => json({ ...c.agentConfig, rootFile: 'root.json' }),
      },
    ];
  }
  return [];
}

/** Before the device exists: refuse to replace files (unless forced), create the directories. */
async function prepareFiles(files: readonly AgentFile[], force: boolean): Promise<void> {
  for (const f of files) {
    if (!force && (await pathExists(f.path))) {
      throw bmfError('BMF_ERR_FILE_EXISTS', { path: f.path });
    }
  }
  for (const f of files) {
    const dir = dirname(f.path);
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
    } catch (e) {
      throw bmfError('BMF_ERR_IO', { path: dir, reason: (e as Error).message });
    }
  }
}

async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Each file through a temporary beside it and a rename, so a reader never sees half of one. */
async function writeFiles(files: readonly AgentFile[], created: Created): Promise<void> {
  for (const f of files) {
    const tmp = `${f.path}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, f.contents(created), { mode: f.mode, flag: 'wx' });
      await chmod(tmp, f.mode);
      await rename(tmp, f.path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw bmfError('BMF_ERR_IO', { path: f.path, reason: (e as Error).message });
    }
  }
}

export const run: CommandRun = async (ctx) => {
  const { values: v, positionals } = parse(ctx.argv);
  const [action, name] = positionals;
  const api = clientFrom(v, ctx.env);
  const needName = () => {
    if (!name) throw bmfError('BMF_ERR_USAGE', { reason: `device ${action} needs NAME\n${USAGE}` });
    return parseDeviceId(name);
  };
  switch (action) {
    case 'add': {
      const id = needName();
      if (!v.chip) throw bmfError('BMF_ERR_USAGE', { reason: `--chip is required\n${USAGE}` });
      const tags = parseTags(v.tag);
      const files = agentFiles(v);
      await prepareFiles(files, v.force);
      // The chip is checked by the server against its list; its error names the field.
      const chip = v.chip as DeviceCreateBody['chip'];
      const created = await api.devices.add({ id, chip, tags });
      try {
        await writeFiles(files, created);
      } catch (e) {
        // The secret exists only in `created`: remove the device so `add` can be rerun; should
        // that fail too, print what the files would have held rather than lose it.
        const rolledBack = await api.devices.remove(id).then(
          () => true,
          () => false,
        );
        if (!rolledBack) writeJson(ctx.stdout, created);
        const err = e as BmfError;
        throw bmfError(
          err.code,
          {
            ...err.details,
            hint: rolledBack
              ? `device ${name} was removed again; fix the path and run device add again`
              : `device ${name} exists and could not be removed; its agent config is printed above`,
          },
          { cause: e },
        );
      }
      if (files.length > 0) {
        if (v.json)
          writeJson(ctx.stdout, { device: created.device, files: files.map((f) => f.path) });
        else
          ctx.stdout.write(
            `device ${created.device.id} created; wrote ${files.map((f) => f.path).join(' and ')} ` +
              `(agent.json holds the device secret, mode 0600).\n` +
              `copy it to the board and run: bmfleet agent --config ${files.at(-1)?.path ?? ''}\n`,
          );
        return 0;
      }
      if (v.json) writeJson(ctx.stdout, created);
      else {
        ctx.stdout.write(
          `device ${created.device.id} created; copy this agent config to the board ` +
            `(the secret is shown only now) and save trustRoot as its rootFile:\n`,
        );
        writeJson(ctx.stdout, { agentConfig: created.agentConfig, trustRoot: created.trustRoot });
      }
      return 0;
    }
    case 'list': {
      const devices = await api.devices.list();
      if (v.json) writeJson(ctx.stdout, devices);
      else ctx.stdout.write(rows(devices));
      return 0;
    }
    case 'show': {
      const d = await api.devices.get(needName());
      if (v.json) writeJson(ctx.stdout, d);
      else {
        ctx.stdout.write(rows([d]));
        if (d.activeBundle) ctx.stdout.write(`active bundle ${d.activeBundle}\n`);
        if (d.assignmentSequence !== undefined)
          ctx.stdout.write(`assignment sequence ${d.assignmentSequence}\n`);
        if (d.lastErrorCode) ctx.stdout.write(`last error ${d.lastErrorCode}\n`);
      }
      return 0;
    }
    case 'rm': {
      await api.devices.remove(needName());
      if (!v.json) ctx.stdout.write(`device ${name} removed\n`);
      return 0;
    }
    default:
      throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  }
};
