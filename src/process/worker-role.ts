// Which part of a multi-process proxy (`--workers N`) this process plays. A worker is started
// from the same command line as its primary, so every entry point that must act differently in
// a worker (take the primary's config, the replica ports it recorded, serve instead of supervise)
// asks here.
import cluster from 'node:cluster';

/** True in a proxy worker forked by its primary (node:cluster), false in every other process. */
export function isClusterWorker(): boolean {
  return cluster.isWorker;
}
