'use client';

/**
 * Live updates: one EventSource on `GET /api/events` for the whole dashboard, shared by every
 * page through context. Each event has an increasing id; the browser resends it as
 * `Last-Event-ID` when it reconnects by itself, and when the stream closes for good (an error
 * status) it is reopened here with `?after=<last id>`, so no kept event is missed.
 */

import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';

export interface LiveEvent {
  id: number;
  kind: string;
  data: Record<string, unknown>;
}

type Handler = (event: LiveEvent) => void;

export type LiveState = 'connecting' | 'open' | 'reconnecting' | 'off';

interface Bus {
  subscribe(kinds: readonly string[], handler: Handler): () => void;
  state: LiveState;
}

const Ctx = createContext<Bus>({ subscribe: () => () => {}, state: 'off' });

/** Event kinds the server publishes (src/orchestrate/campaign/, src/api/webhooks.rs). */
export const KNOWN_KINDS = [
  'campaign.planned',
  'deployment.updated',
  'metrics.synced',
  'action.proposed',
  'action.applied',
  'action.failed',
  'creatives.generated',
  'webhook.meta',
  'webhook.google',
  'webhook.tiktok',
] as const;

const MAX_BACKOFF_MS = 30_000;

export function EventsProvider({ enabled, children }: { enabled: boolean; children: ReactNode }) {
  const handlers = useRef(new Map<string, Set<Handler>>());
  const [state, setState] = useState<LiveState>('off');

  useEffect(() => {
    if (!enabled || typeof EventSource === 'undefined') return;
    let source: EventSource | null = null;
    let lastId: number | null = null;
    let backoff = 1000;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let closed = false;

    const dispatch = (kind: string) => (message: MessageEvent<string>) => {
      const id = Number(message.lastEventId);
      if (Number.isFinite(id) && id > 0) lastId = id;
      let data: Record<string, unknown> = {};
      try {
        data = JSON.parse(message.data) as Record<string, unknown>;
      } catch {
        return;
      }
      for (const h of handlers.current.get(kind) ?? []) h({ id, kind, data });
      for (const h of handlers.current.get('*') ?? []) h({ id, kind, data });
    };

    const open = () => {
      setState(lastId === null ? 'connecting' : 'reconnecting');
      const url = lastId === null ? '/api/events' : `/api/events?after=${lastId}`;
      source = new EventSource(url, { withCredentials: true });
      for (const kind of KNOWN_KINDS) source.addEventListener(kind, dispatch(kind) as EventListener);
      source.addEventListener('message', dispatch('message') as EventListener);
      source.onopen = () => {
        backoff = 1000;
        setState('open');
      };
      source.onerror = () => {
        if (!source || closed) return;
        if (source.readyState === EventSource.CLOSED) {
          source = null;
          setState('reconnecting');
          timer = setTimeout(open, backoff);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        } else {
          setState('reconnecting');
        }
      };
    };
    open();
    return () => {
      closed = true;
      source?.close();
      if (timer) clearTimeout(timer);
      setState('off');
    };
  }, [enabled]);

  const subscribe = useCallback((kinds: readonly string[], handler: Handler) => {
    for (const k of kinds) {
      if (!handlers.current.has(k)) handlers.current.set(k, new Set());
      handlers.current.get(k)!.add(handler);
    }
    return () => {
      for (const k of kinds) handlers.current.get(k)?.delete(handler);
    };
  }, []);
  const bus = useMemo<Bus>(() => ({ subscribe, state }), [subscribe, state]);

  return <Ctx.Provider value={bus}>{children}</Ctx.Provider>;
}

/** The connection's state, for the indicator in the header. */
export function useLiveState(): LiveState {
  return useContext(Ctx).state;
}

/** Calls `handler` for each live event of `kinds` (`*` for all) while mounted. */
export function useLiveEvents(kinds: readonly string[], handler: Handler): void {
  const { subscribe } = useContext(Ctx);
  const latest = useRef(handler);
  latest.current = handler;
  const key = kinds.join(',');
  useEffect(() => {
    return subscribe(key.split(','), (e) => latest.current(e));
  }, [subscribe, key]);
}

/**
 * The kept events of `kinds` from the start of the server's window, then the live ones: its own
 * stream on `/api/events?after=0&kinds=...` (the log of a deployment). At most `max` are kept.
 */
export function useEventHistory(kinds: readonly string[], max = 500): LiveEvent[] {
  const [events, setEvents] = useState<LiveEvent[]>([]);
  const key = kinds.join(',');
  useEffect(() => {
    if (typeof EventSource === 'undefined') return;
    let lastId = 0;
    let source: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let closed = false;
    const open = () => {
      source = new EventSource(`/api/events?after=${lastId}&kinds=${encodeURIComponent(key)}`, { withCredentials: true });
      const onEvent = (kind: string) => (m: MessageEvent<string>) => {
        const id = Number(m.lastEventId);
        if (Number.isFinite(id) && id > lastId) lastId = id;
        try {
          const data = JSON.parse(m.data) as Record<string, unknown>;
          setEvents((list) => [...list, { id, kind, data }].slice(-max));
        } catch {
          // A comment or a malformed event: nothing to log.
        }
      };
      for (const k of key.split(',')) source.addEventListener(k, onEvent(k) as EventListener);
      source.onerror = () => {
        if (source?.readyState === EventSource.CLOSED && !closed) {
          source = null;
          timer = setTimeout(open, 3000);
        }
      };
    };
    open();
    return () => {
      closed = true;
      source?.close();
      if (timer) clearTimeout(timer);
    };
  }, [key, max]);
  return events;
}
