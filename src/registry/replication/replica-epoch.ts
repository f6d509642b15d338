// This replica's replication epoch: a random id written once into its replication state. A
// replica whose storage was wiped or replaced comes back with a new one, which tells its peers
// that what they last found on it is gone and a full anti-entropy comparison is due.
import { randomUUID } from 'node:crypto';
import type { StorageDriver } from '../storage/driver.js';
import { storagePath } from '../storage/paths.js';
import { writeJson } from './durable-files.js';

export async function loadOrCreateEpoch(driver: StorageDriver): Promise<string> {
  const path = storagePath({ kind: 'replicationEpoch' });
  try {
    const { epoch } = JSON.parse((await driver.getContent(path)).toString('utf8')) as { epoch?: unknown };
    if (typeof epoch === 'string' && epoch !== '') return epoch;
  } catch {
    // Missing (first start, or wiped storage) or unreadable: a new epoch, which forces full rounds.
  }
  const epoch = randomUUID();
  await writeJson(driver, path, { epoch });
  return epoch;
}
