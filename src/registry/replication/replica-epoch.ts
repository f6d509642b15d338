// This replica's replication epoch: a random id written once into its replication state. A
// replica whose storage was wiped or replaced comes back with a new one, which tells its peers
// that what they last found on it is gone and a full anti-entropy comparison is due.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from './durable-files.js';

export async function loadOrCreateEpoch(stateDir: string): Promise<string> {
  const path = join(stateDir, 'epoch.json');
  try {
    const { epoch } = JSON.parse(await readFile(path, 'utf8')) as { epoch?: unknown };
    if (typeof epoch === 'string' && epoch !== '') return epoch;
  } catch {
    // Missing (first start, or wiped storage) or unreadable: a new epoch, which forces full rounds.
  }
  const epoch = randomUUID();
  await writeJsonAtomic(path, { epoch });
  return epoch;
}
