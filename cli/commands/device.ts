// `bmfleet device add|list|show|rm`: device identities through the controller's REST API.
import { chmod, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { bmfError } from '../../shared/errors.js';
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
import type { CommandRun } from '../main.js';

export const USAGE = `usage:
  bmfleet device add NAME --chip bm1684x [--tag site=berlin ...] [--out agent.json]
  bmfleet device list [--json]
  bmfleet device show NAME [--json]
  bmfleet device rm NAME
common: [--url http://127.0.0.1:8480] [--token TOKEN] (or BMFLEET_URL, BMFLEET_TOKEN)`;

interface Device {
  id: string;
  chip: string;
  tags: Record<string, string>;
  online: boolean;
  lastSeen: number | null;
  status?: string;
  activeBundle?: string;
  activeVariant?: string;
  assignmentSequence?: number;
  lastErrorCode?: string;
}

interface Created {
  device: Device;
  secret: string;
  agentConfig: Record<string, unknown>;
  trustRoot: unknown;
}

function parse(argv: readonly string[]) {
  return parseCommandArgs(
    argv,
    {
      ...CLIENT_OPTIONS,
      chip: { type: 'string' },
      tag: { type: 'string', multiple: true },
      out: { type: 'string' },
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

/** Write agent.json (0600: it holds the secret) and the pinned root next to it. */
async function writeAgentFiles(out: string, created: Created): Promise<string> {
  const rootPath = join(dirname(resolve(out)), 'root.json');
  await writeFile(rootPath, `${JSON.stringify(created.trustRoot, null, 2)}\n`);
  const config = { ...created.agentConfig, rootFile: rootPath };
  await writeFile(out, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(out, 0o600);
  return rootPath;
}

export const run: CommandRun = async (ctx) => {
  const { values: v, positionals } = parse(ctx.argv);
  const [action, name] = positionals;
  const api = clientFrom(v, ctx.env);
  const needName = () => {
    if (!name) throw bmfError('BMF_ERR_USAGE', { reason: `device ${action} needs NAME\n${USAGE}` });
    return encodeURIComponent(name);
  };
  switch (action) {
    case 'add': {
      needName();
      if (!v.chip) throw bmfError('BMF_ERR_USAGE', { reason: `--chip is required\n${USAGE}` });
      const created = await api.post<Created>('/v1/devices', {
        id: name,
        chip: v.chip,
        tags: parseTags(v.tag),
      });
      if (v.out) {
        const rootPath = await writeAgentFiles(v.out, created);
        if (!v.json) ctx.stderr.write(`wrote ${v.out} (mode 0600) and ${rootPath}\n`);
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
      const { devices } = await api.get<{ devices: Device[] }>('/v1/devices');
      if (v.json) writeJson(ctx.stdout, devices);
      else ctx.stdout.write(rows(devices));
      return 0;
    }
    case 'show': {
      const d = await api.get<Device>(`/v1/devices/${needName()}`);
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
      await api.del(`/v1/devices/${needName()}`);
      if (!v.json) ctx.stdout.write(`device ${name} removed\n`);
      return 0;
    }
    default:
      throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  }
};
