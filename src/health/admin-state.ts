// HAProxy's runtime admin states for a backend, as an operator sets them (POST
// /backends/<name>/state), and what each lets through. Pure: the routers take these values as
// an input next to health.
//   ready - takes traffic as health allows.
//   drain - no new requests; an open upload session (its signed token names the backend) and a
//           sticky client keep going to it, so draining never breaks a push in progress.
//   maint - nothing at all; health checks go on, so /status still tells whether it is up.
// A runtime weight replaces the configured one for the balancers (1..256, as in the config).
import type { BackendHealth } from './health-state.js';

export const ADMIN_STATES = ['ready', 'drain', 'maint'] as const;
export type AdminState = (typeof ADMIN_STATES)[number];

export const MIN_WEIGHT = 1;
export const MAX_WEIGHT = 256;

export interface BackendAdmin {
  readonly state: AdminState;
  readonly weight: number;
  /** When the operator last changed it (ms since the epoch); 0: never, as configured. */
  readonly at: number;
  /** What the change said (who, from where); '' when never changed. */
  readonly reason: string;
}

export function initialAdmin(weight: number): BackendAdmin {
  return { state: 'ready', weight, at: 0, reason: '' };
}

export function isAdminState(value: unknown): value is AdminState {
  return typeof value === 'string' && (ADMIN_STATES as readonly string[]).includes(value);
}

/** A runtime weight an operator may set, or a message saying why not. */
export function checkWeight(value: unknown): { ok: true; weight: number } | { ok: false; message: string } {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= MIN_WEIGHT && n <= MAX_WEIGHT) return { ok: true, weight: n };
  return { ok: false, message: `weight must be an integer from ${MIN_WEIGHT} to ${MAX_WEIGHT} (to stop new traffic, drain the backend)` };
}

/** New requests (no token, no sticky cookie) may go to it. Absent: ready. */
export function takesNewRequests(admin: BackendAdmin | undefined): boolean {
  return admin === undefined || admin.state === 'ready';
}

/** Requests that belong to it already (an upload session, a sticky client) may go to it. */
export function takesOwnRequests(admin: BackendAdmin | undefined): boolean {
  return admin === undefined || admin.state !== 'maint';
}

/**
 * Health as the choice of a target for new requests sees it: a backend that is not ready counts
 * as down. The same array when every backend is ready (the common case allocates nothing).
 */
export function healthForNewRequests(health: readonly BackendHealth[], admin: readonly BackendAdmin[] | undefined): readonly BackendHealth[] {
  if (admin === undefined || admin.every(takesNewRequests)) return health;
  return health.map((h, i) => (takesNewRequests(admin[i]) || !h.up ? h : { ...h, up: false }));
}

/** The weight the balancers use: the runtime one when set, else the configured one. */
export function effectiveWeight(configured: number, admin: BackendAdmin | undefined): number {
  return admin?.weight ?? configured;
}
