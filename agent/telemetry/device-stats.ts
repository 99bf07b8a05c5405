// Device figures for telemetry from systeminformation: CPU load, memory, temperature (when the
// platform exposes one), disk of the state directory's filesystem, and the agent's RSS. TPU figures
// come from libsophon's bm_get_stat with the bmrt backend (its own issue); absent here.
// systeminformation is loaded on the first read: an idle agent makes no reports and does not
// carry it.
import type { DeviceStats } from '../../shared/wire/messages.js';

export async function readDeviceStats(stateDir: string): Promise<DeviceStats> {
  const { default: si } = await import('systeminformation');
  const [load, mem, temp, disks] = await Promise.all([
    si.currentLoad().catch(() => undefined),
    si.mem().catch(() => undefined),
    si.cpuTemperature().catch(() => undefined),
    si.fsSize().catch(() => []),
  ]);
  // The filesystem holding the state directory: the longest mount point that prefixes it.
  const disk = disks
    .filter((d) => stateDir.startsWith(d.mount))
    .sort((a, b) => b.mount.length - a.mount.length)[0];
  const main = temp?.main;
  return {
    cpuPercent: load?.currentLoad ?? 0,
    memUsedBytes: mem ? mem.total - mem.available : 0,
    memTotalBytes: mem?.total ?? 0,
    ...(typeof main === 'number' && Number.isFinite(main) && { temperatureC: main }),
    diskUsedBytes: disk?.used ?? 0,
    diskTotalBytes: disk?.size ?? 0,
    agentRssBytes: process.memoryUsage().rss,
  };
}
