// The registry's entry to replication (see src/registry/api/hooks.ts): builds the Replicator and
// maps the registry's hook events onto it.
import { join } from 'node:path';
import type { ReplicationContext, RegistryHooks } from '../api/hooks.js';
import { REPLICATION_DIR } from '../storage/paths.js';
import { ImageStoreAdapter } from './image-store-adapter.js';
import { Replicator } from './replicator.js';

export async function createReplicationHooks(context: ReplicationContext): Promise<Partial<RegistryHooks>> {
  const { config } = context;
  // No peers: replication is off and the registry keeps its no-op hooks (no stamps, no queue).
  if (config.replication.peers.length === 0) return {};
  const replicator = new Replicator({
    config: config.replication,
    store: new ImageStoreAdapter(context.store),
    stateDir: join(context.store.driver.root, REPLICATION_DIR),
    origin: config.listen,
    logger: context.logger.child({ component: 'replication' }),
    metrics: context.metrics,
  });
  await replicator.start();
  return {
    afterBlobCommit: async (e) => replicator.afterBlobCommit({ repo: e.repo, digest: e.digest.value, headers: e.headers }),
    afterManifestCommit: (e) => replicator.afterManifestCommit({ repo: e.repo, reference: e.reference, digest: e.digest.value, mediaType: e.mediaType, headers: e.headers }),
    afterDelete: async (e) => {
      if (e.kind === 'tag') await replicator.afterDelete({ repo: e.repo, reference: e.tag, headers: e.headers });
      else if (e.kind === 'manifest') await replicator.afterDelete({ repo: e.repo, reference: e.digest.value, headers: e.headers, tags: e.tags });
      // Blob deletes stay local: a blob another replica still references is garbage only there.
    },
    onMissingManifest: (repo, ref, headers) => replicator.fetchManifest(repo, 'tag' in ref ? ref.tag : ref.digest.value, headers ?? {}),
    onMissingBlob: (repo, digest, headers, purpose) => replicator.fetchBlob(repo, digest.value, headers ?? {}, purpose === 'manifest-put'),
    replicationState: (headers) => replicator.replicationState(headers),
    close: () => replicator.stop(),
  };
}
