// What changed, for the dashboard's server-sent events: parts of the controller say "devices",
// "rollouts" or "telemetry" changed; subscribers hear each topic at most once per `coalesceMs`
// (a rollout tick that moves 500 devices is one message, not 500).
export type ChangeTopic = 'devices' | 'rollouts' | 'telemetry' | 'experiments';

export function createChangeHub(opts: { coalesceMs?: number } = {}) {
  const coalesceMs = opts.coalesceMs ?? 250;
  const listeners = new Set<(topic: ChangeTopic) => void>();
  const pending = new Map<ChangeTopic, ReturnType<typeof setTimeout>>();
  const emit = (topic: ChangeTopic) => {
    pending.delete(topic);
    for (const l of listeners) l(topic);
  };
  return {
    notify(topic: ChangeTopic): void {
      if (pending.has(topic) || listeners.size === 0) return;
      const timer = setTimeout(() => emit(topic), coalesceMs);
      timer.unref();
      pending.set(topic, timer);
    },
    subscribe(listener: (topic: ChangeTopic) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close(): void {
      for (const t of pending.values()) clearTimeout(t);
      pending.clear();
      listeners.clear();
    },
  };
}
export type ChangeHub = ReturnType<typeof createChangeHub>;
