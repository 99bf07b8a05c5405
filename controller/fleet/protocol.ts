// Messages between the fleet simulator's parent and its worker processes (IPC).
export type ParentMessage =
  | {
      readonly type: 'start';
      readonly brokerUrl: string;
      readonly apiUrl: string;
      readonly token: string;
      readonly devices: readonly { readonly id: string; readonly secret: string }[];
    }
  | { readonly type: 'baseline'; readonly topic: string; readonly bytes: number }
  | { readonly type: 'stop' };

export type WorkerMessage =
  | { readonly type: 'ready'; readonly devices: number }
  | { readonly type: 'active'; readonly id: string; readonly bundle: string }
  | { readonly type: 'baselineReady' }
  | { readonly type: 'baselineDone' }
  | { readonly type: 'error'; readonly message: string };
