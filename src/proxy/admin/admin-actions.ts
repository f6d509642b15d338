// The proxy's operator actions on the admin listener (all POST, all behind the bearer token):
//   POST /backends/<name>/state   {"state":"drain"} or ?state=drain   (ready | drain | maint)
//   POST /backends/<name>/weight  {"weight":5} or ?weight=5            (1..256)
//   POST /failback
//   POST /reload                      re-read the config file and apply it (what changed, or the problems)
// Input is checked here and refused with a 4xx naming the problem; nothing else changes then.
import { ActionError, type ActionInput, type AdminAction } from '../../observability/admin-server.js';
import type { Backend } from '../backend.js';
import { ADMIN_STATES, checkWeight, isAdminState, type BackendAdmin } from '../../health/admin-state.js';
import type { AdminStore } from '../../health/admin-store.js';

export interface ActionDeps {
  /** The current backend list (a reload may change it). */
  backends: () => readonly Backend[];
  store: AdminStore;
  failback: () => unknown;
  reload?: () => Promise<ReloadAnswer>;
  clock?: () => number;
}

/** What a reload answers (run.ts ReloadOutcome, with the workers that switched under --workers). */
export interface ReloadAnswer {
  readonly applied: boolean;
  readonly problems: readonly string[];
}

const BACKEND_ACTION = /^\/backends\/([^/]+)\/(state|weight)$/;
const MAX_REASON = 200;

/** The body as JSON fields (empty body: none), or 400. */
function bodyFields(input: ActionInput): Record<string, unknown> {
  if (input.body.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(input.body);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new ActionError(400, 'the body must be a JSON object, e.g. {"state":"drain"}');
}

/** A field from the JSON body, else from the query. */
function field(input: ActionInput, name: string): unknown {
  return bodyFields(input)[name] ?? input.query.get(name) ?? undefined;
}

function reasonOf(input: ActionInput, what: string): string {
  const given = field(input, 'reason');
  if (given === undefined) return `${what} (admin API)`;
  if (typeof given !== 'string' || given.length > MAX_REASON) throw new ActionError(400, `reason must be a string of at most ${MAX_REASON} characters`);
  return `${what}: ${given}`;
}

function findBackend(backends: readonly Backend[], encoded: string): Backend {
  let name: string;
  try {
    name = decodeURIComponent(encoded);
  } catch {
    throw new ActionError(400, 'the backend name is not valid percent-encoding');
  }
  const backend = backends.find((b) => b.name === name);
  if (!backend) throw new ActionError(404, `no backend named ${JSON.stringify(name)}; known: ${backends.map((b) => b.name).join(', ')}`);
  return backend;
}

function nextAdmin(kind: 'state' | 'weight', input: ActionInput, current: BackendAdmin, now: number): BackendAdmin {
  if (kind === 'state') {
    const state = field(input, 'state');
    if (!isAdminState(state)) throw new ActionError(400, `state must be one of ${ADMIN_STATES.join(', ')}`);
    return { ...current, state, at: now, reason: reasonOf(input, `set to ${state}`) };
  }
  const check = checkWeight(field(input, 'weight'));
  if (!check.ok) throw new ActionError(400, check.message);
  return { ...current, weight: check.weight, at: now, reason: reasonOf(input, `weight set to ${check.weight}`) };
}

export function proxyActions(deps: ActionDeps): (path: string) => AdminAction | undefined {
  const clock = deps.clock ?? Date.now;
  return (path) => {
    if (path === '/failback') return () => deps.failback();
    if (path === '/reload' && deps.reload) {
      const reload = deps.reload;
      return async () => {
        const outcome = await reload();
        if (!outcome.applied) throw new ActionError(422, `the config was not applied: ${outcome.problems.join('; ')}`, { ...outcome });
        return outcome;
      };
    }
    const match = BACKEND_ACTION.exec(path);
    if (!match) return undefined;
    const kind = match[2] as 'state' | 'weight';
    return (input) => {
      const backend = findBackend(deps.backends(), match[1]);
      const previous = deps.store.snapshot()[backend.index];
      const next = nextAdmin(kind, input, previous, clock());
      // The store's change listeners re-evaluate routing (the active backend may move at once).
      deps.store.apply(backend.index, next);
      return { backend: backend.name, state: next.state, weight: next.weight, previous: { state: previous.state, weight: previous.weight } };
    };
  };
}
