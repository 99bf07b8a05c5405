// Server-sent events from the controller (/ui/events): one EventSource for the whole app; pages
// subscribe to the topics they show and reload when one changes. No page polls.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set();
let source;
let connected = false;
const statusListeners = new Set();

export function startLive() {
  if (source) return;
  source = new EventSource('/ui/events');
  source.addEventListener('open', () => setConnected(true));
  source.addEventListener('error', () => setConnected(false));
  source.addEventListener('change', (e) => {
    const { topic } = JSON.parse(e.data);
    for (const l of listeners) l(topic);
  });
}

export function stopLive() {
  source?.close();
  source = undefined;
  setConnected(false);
}

function setConnected(v) {
  connected = v;
  for (const l of statusListeners) l(v);
}

export function useLiveStatus() {
  const [c, setC] = useState(connected);
  useEffect(() => {
    statusListeners.add(setC);
    return () => statusListeners.delete(setC);
  }, []);
  return c;
}

/**
 * Loads with `load()` now, again whenever one of `topics` changes, and when `deps` change.
 * Returns [data, error, reload].
 */
export function useLive(load, topics, deps = []) {
  const [data, setData] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    let running = false;
    let again = false;
    const run = async () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        const d = await load();
        if (alive) {
          setData(d);
          setError(undefined);
        }
      } catch (e) {
        if (alive) setError(e);
      } finally {
        running = false;
        if (again && alive) {
          again = false;
          void run();
        }
      }
    };
    void run();
    const l = (topic) => {
      if (topics.includes(topic)) void run();
    };
    listeners.add(l);
    return () => {
      alive = false;
      listeners.delete(l);
    };
  }, [...deps, tick]);
  return [data, error, () => setTick((t) => t + 1)];
}
