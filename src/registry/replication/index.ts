// The registry's entry to replication (see src/registry/api/hooks.ts): builds the Replicator and
// maps the registry's hook events onto it.
import type { ReplicationContext, RegistryHooks } from '../api/hooks.js';
import { blobLinkReference } from './blob-links.js';
import { ImageStoreAdapter } from './image-store-adapter.js';
import { Replicator } from './replicator.js';

export async function createReplicationHooks(context: ReplicationContext): Promise<Partial<RegistryHooks>> {
  const { config } = context;
  // No peers: replication is off and the registry keeps its no-op hooks (no stamps, no queue).
  if (config.replication.peers.length === 0) return {};
  const replicator = new Replicator({
    config: config.replication,
    store: new ImageStoreAdapter(context.store),
    driver: context.store.driver,
    origin: config.listen,
    logger: context.logger.child({ component: 'replication' }),
    metrics: context.metrics,
  });
  await replicator.start();
  return {
    afterBlobCommit: async (e) => replicator.afterBlobCommit({ repo: e.repo, digest: e.digest.value, headers: e.headers }),
    afterManifestCommit: (e) => replicator.afterManifestCommit({ repo: e.repo, reference: e.reference, digest: e.digest.value, mediaType: e.mediaType, headers: e.headers }),
    beforeManifestCommit: async (e) => replicator.manifestWriteScope(e.repo, e.digest.value, e.tags, e.headers),
    afterDelete: async (e) => {
      const { repo, headers, missing } = e;
      if (e.kind === 'tag') await replicator.afterDelete({ repo, reference: e.tag, headers, missing });
      else if (e.kind === 'manifest') await replicator.afterDelete({ repo, reference: e.digest.value, headers, tags: e.tags, missing });
      // The repository's link, not the bytes: other repositories keep theirs, and gc frees the disk.
      else await replicator.afterDelete({ repo, reference: blobLinkReference(e.digest.value), headers, missing });
    },
    onMissingManifest: (repo, ref, headers) => replicator.fetchManifest(repo, 'tag' in ref ? ref.tag : ref.digest.value, headers ?? {}),
    onMissingBlob: (repo, digest, headers, purpose) => replicator.fetchBlob(repo, digest.value, headers ?? {}, purpose === 'manifest-put'),
    replicationState: (headers) => replicator.replicationState(headers),
    deletedAt: (repo, target) => replicator.deletedAt(repo, 'tag' in target ? target.tag : 'blob' in target ? blobLinkReference(target.blob.value) : target.digest.value),
    close: () => replicator.stop(),
  };
}
