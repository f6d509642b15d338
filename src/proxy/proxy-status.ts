// What GET /status on the admin listener answers: the mode, the active backend, the election
// (active-standby with Redis) and every backend's health, as one JSON document.
import type { ElectionStatus, HealthStore } from '../health/health-store.js';
import type { Backend } from './backend.js';

export interface BackendStatus {
  name: string;
  url: string;
  up: boolean;
  active: boolean;
  since: string | null;
  inflight: number;
  lastCheck?: { ok: boolean; at: string; detail: string };
}

export interface ProxyStatus {
  mode: string;
  draining: boolean;
  active: string | null;
  /** active-standby with Redis: who decides the active backend, and from which reports. */
  election?: ElectionStatus;
  backends: BackendStatus[];
}

export interface StatusSources {
  mode: string;
  draining: boolean;
  backends: readonly Backend[];
  health: HealthStore;
  inflight: readonly number[];
  /** The active-standby choice (undefined in active-active or when none is healthy). */
  active: number | undefined;
  takesTraffic: (index: number) => boolean;
}

export function proxyStatus(s: StatusSources): ProxyStatus {
  const snapshot = s.health.snapshot();
  const election = s.health.election?.status();
  return {
    mode: s.mode,
    draining: s.draining,
    active: s.active === undefined || s.mode !== 'active-standby' ? null : s.backends[s.active].name,
    ...(election ? { election } : {}),
    backends: s.backends.map((b) => {
      const h = snapshot[b.index];
      return {
        name: b.name,
        url: b.url,
        up: h.up,
        active: s.takesTraffic(b.index),
        since: h.since === 0 ? null : new Date(h.since).toISOString(),
        inflight: s.inflight[b.index],
        ...(h.lastCheck ? { lastCheck: { ok: h.lastCheck.ok, at: new Date(h.lastCheck.at).toISOString(), detail: h.lastCheck.detail } } : {}),
      };
    }),
  };
}
