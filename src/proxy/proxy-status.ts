// What GET /status on the admin listener answers: the mode, the active backend, the election
// (active-standby with Redis) and every backend's health, admin state, weight, last changes and
// traffic totals and, for built-in replicas, their replication queue and lag per peer, as one
// JSON document (the status page at GET / reads it).
import type { ElectionStatus, HealthStore } from '../health/health-store.js';
import type { AdminState, BackendAdmin } from '../health/admin-state.js';
import type { ReplicaReplication } from './admin/replica-replication.js';
import type { TrafficTotals } from './admin/traffic-totals.js';
import type { Backend } from './backend.js';

/** HAProxy's display state: an admin state wins over health (a MAINT backend is MAINT, up or not). */
export type DisplayState = 'UP' | 'DOWN' | 'DRAIN' | 'MAINT';

export interface HealthChange {
  to: 'up' | 'down';
  reason: string;
  detail: string;
  at: string;
}

export interface BackendStatus {
  name: string;
  url: string;
  state: DisplayState;
  up: boolean;
  admin: AdminState;
  weight: number;
  active: boolean;
  since: string | null;
  inflight: number;
  lastCheck?: { ok: boolean; at: string; detail: string };
  /** The last health change seen by this process (absent: none since start). */
  lastChange?: HealthChange;
  /** The operator's last admin change (absent: as configured). */
  adminChange?: { at: string; reason: string };
  traffic?: TrafficTotals;
  /** A built-in replica with peers: its queue depth and lag towards each, as last read. */
  replication?: ReplicaReplication;
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
  admin: readonly BackendAdmin[];
  lastChanges: readonly (HealthChange | undefined)[];
  inflight: readonly number[];
  /** The active-standby choice (undefined in active-active or when none is healthy). */
  active: number | undefined;
  takesTraffic: (index: number) => boolean;
}

export function displayState(up: boolean, admin: AdminState): DisplayState {
  if (admin === 'maint') return 'MAINT';
  if (!up) return 'DOWN';
  return admin === 'drain' ? 'DRAIN' : 'UP';
}

const iso = (ms: number): string => new Date(ms).toISOString();

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
      const admin = s.admin[b.index];
      const change = s.lastChanges[b.index];
      return {
        name: b.name,
        url: b.url,
        state: displayState(h.up, admin.state),
        up: h.up,
        admin: admin.state,
        weight: admin.weight,
        active: s.takesTraffic(b.index),
        since: h.since === 0 ? null : iso(h.since),
        inflight: s.inflight[b.index],
        ...(h.lastCheck ? { lastCheck: { ok: h.lastCheck.ok, at: iso(h.lastCheck.at), detail: h.lastCheck.detail } } : {}),
        ...(change ? { lastChange: change } : {}),
        ...(admin.at !== 0 ? { adminChange: { at: iso(admin.at), reason: admin.reason } } : {}),
      };
    }),
  };
}

/** The status with each backend's traffic totals added. */
export function withTraffic(status: ProxyStatus, totals: ReadonlyMap<string, TrafficTotals>): ProxyStatus {
  return { ...status, backends: status.backends.map((b) => ({ ...b, traffic: totals.get(b.name) })) };
}

/** The status with each built-in replica's replication figures added (by backend index). */
export function withReplication(status: ProxyStatus, replication: readonly (ReplicaReplication | undefined)[]): ProxyStatus {
  return { ...status, backends: status.backends.map((b, i) => (replication[i] ? { ...b, replication: replication[i] } : b)) };
}
