import type { Config } from '../config/types.js';

export async function runRegistry(_config: Config): Promise<void> {
  throw new Error('registry mode is not implemented yet');
}
