import type { Config } from '../config/types.js';

export async function runProxy(_config: Config): Promise<void> {
  throw new Error('proxy mode is not implemented yet');
}
