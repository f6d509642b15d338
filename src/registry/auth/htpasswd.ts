// HTTP basic auth against an htpasswd file of bcrypt hashes (`htpasswd -B`), as distribution's
// htpasswd access controller. bcrypt costs ~50-100 ms per check by design, so a successful
// Authorization header is remembered (by its exact value) for a short while; a changed password
// needs a restart anyway because the file is read once at start-up.
import { readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { OciError } from '../../errors/oci-codes.js';
import { TtlCache } from '../storage/ttl-cache.js';

/** How long a verified Authorization header is trusted without re-running bcrypt. */
const VERIFIED_TTL_MS = 60_000;
const MAX_VERIFIED = 10_000;

export const BASIC_CHALLENGE = 'Basic realm="ha-proxy registry", charset="UTF-8"';

/** Parses htpasswd text into user -> bcrypt hash; non-bcrypt entries are reported as errors. */
export function parseHtpasswd(text: string): { users: Map<string, string>; problems: string[] } {
  const users = new Map<string, string>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const colon = trimmed.indexOf(':');
    const hash = colon > 0 ? trimmed.slice(colon + 1) : '';
    if (!/^\$2[aby]\$\d\d\$/.test(hash)) {
      problems.push(`line ${i + 1}: only bcrypt entries are supported (htpasswd -B)`);
      return;
    }
    users.set(trimmed.slice(0, colon), hash);
  });
  return { users, problems };
}

export class HtpasswdAuth {
  private readonly verified = new TtlCache<string>(VERIFIED_TTL_MS, MAX_VERIFIED);

  constructor(private readonly users: Map<string, string>) {}

  static fromFile(path: string): HtpasswdAuth {
    const { users, problems } = parseHtpasswd(readFileSync(path, 'utf8'));
    if (problems.length > 0) throw new Error(`${path}: ${problems.join('; ')}`);
    return new HtpasswdAuth(users);
  }

  /** Resolves the user name, or throws UNAUTHORIZED (the caller adds WWW-Authenticate). */
  async authenticate(header: string | undefined): Promise<string> {
    if (header === undefined || !header.startsWith('Basic ')) throw new OciError('UNAUTHORIZED');
    const known = this.verified.get(header);
    if (known !== undefined) return known;
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OciError('UNAUTHORIZED', 'malformed basic credentials');
    const user = decoded.slice(0, colon);
    const hash = this.users.get(user);
    // Compare against a hash even for unknown users so timing does not reveal which users exist.
    const ok = await bcrypt.compare(decoded.slice(colon + 1), hash ?? '$2b$10$invalidinvalidinvalidinvalidinvalidinvalidinvalidinva');
    if (!ok || hash === undefined) throw new OciError('UNAUTHORIZED', 'invalid username or password');
    this.verified.set(header, user);
    return user;
  }
}
