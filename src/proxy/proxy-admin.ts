// The proxy's admin listener: the status page, /status with traffic totals and the replicas'
// replication figures, /readyz's reason and the operator actions, wired to the running proxy's parts.
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Config } from '../config/types.js';
import type { BackendHealth } from '../health/health-state.js';
import type { HealthStore } from '../health/health-store.js';
import { startAdminServer } from '../observability/admin-server.js';
import { proxyActions, type ReloadAnswer } from './admin/admin-actions.js';
import { takesNewRequests, type BackendAdmin } from '../health/admin-state.js';
import type { AdminStore } from '../health/admin-store.js';
import { ReplicationPoller } from './admin/replica-replication.js';
import { statusPage } from './admin/status-page.js';
import { trafficTotals } from './admin/traffic-totals.js';
import type { Backend } from './backend.js';
import type { ModeRouter } from './mode-router.js';
import { withReplication, withTraffic, type ProxyStatus } from './proxy-status.js';

export interface ProxyAdminDeps {
  config: Config;
  registry: Registry;
  /** The current backend list (a reload may change it). */
  backends: () => readonly Backend[];
  health: HealthStore;
  admin: AdminStore;
  router: () => ModeRouter;
  status: () => ProxyStatus;
  /** Re-evaluates active-standby now (after a failback request). */
  refresh: () => void;
  isDraining: () => boolean;
  /** The backend's last health check answered as a built-in registry: worth asking for replication figures. */
  isBuiltIn: (name: string) => boolean;
  onFailbackRequested?: () => void;
  /** A further reason not to be ready (the primary: workers not all listening yet). */
  notReadyReason?: () => string | undefined;
  /** POST /reload: re-reads the config file and applies it. */
  reload?: () => Promise<ReloadAnswer>;
}

/** Why no new request could be served now, from health and admin states; undefined: ready. */
export function servingProblem(health: readonly BackendHealth[], admin: readonly BackendAdmin[]): string | undefined {
  if (!health.some((h) => h.up)) return 'no healthy backend';
  if (!health.some((h, i) => h.up && takesNewRequests(admin[i]))) return 'every healthy backend is drained or in maintenance';
  return undefined;
}

export async function startProxyAdmin(deps: ProxyAdminDeps): Promise<Server> {
  const failback = (): ProxyStatus => {
    deps.router().requestFailback();
    deps.health.election?.requestFailback();
    deps.refresh();
    deps.onFailbackRequested?.();
    return deps.status();
  };
  // Only the process serving /status reads the replicas' replication figures (the primary with --workers).
  const replication = new ReplicationPoller(deps.backends, deps.config.healthCheck.timeoutMs, deps.isBuiltIn);
  const server = await startAdminServer({
    listen: deps.config.adminListen,
    registry: deps.registry,
    notReadyReason: () =>
      deps.isDraining() ? 'draining' : (deps.notReadyReason?.() ?? servingProblem(deps.health.snapshot(), deps.admin.snapshot())),
    extraRoutes: {
      '/': statusPage,
      '/status': async () => withReplication(withTraffic(deps.status(), trafficTotals(await deps.registry.metrics(), deps.backends().map((b) => b.name))), replication.snapshot()),
    },
    token: deps.config.admin.token,
    action: proxyActions({ backends: deps.backends, store: deps.admin, failback, reload: deps.reload }),
  });
  replication.start();
  server.once('close', () => replication.stop());
  return server;
}
