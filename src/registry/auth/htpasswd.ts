// HTTP basic auth against an htpasswd file of bcrypt hashes (`htpasswd -B`), as distribution's
// htpasswd access controller. bcrypt costs ~50-100 ms of CPU per check by design, so:
// - a successful Authorization header is remembered (by its exact value) for a short while; a
//   changed password needs a restart anyway because the file is read once at start-up;
// - a failed one too, for less long: a client retrying stale credentials in a loop (a common CI
//   failure) costs nothing after its first attempt;
// - at most MAX_CONCURRENT_CHECKS run at once; beyond that the answer is 429 TOO_MANY_REQUESTS,
//   so a flood of guesses cannot take every core from the requests that are already signed in;
// - failed sign-ins are throttled per client address (login-throttle.ts);
// - an unknown user is checked against a dummy hash of the same bcrypt cost as the stored
//   entries: with a fixed cost-10 dummy an unknown user took ~95 ms and a wrong password for a
//   cost-5 entry ~5 ms, which told which users exist.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { OciError } from '../../errors/oci-codes.js';
import { RetryLaterError } from '../../errors/retry-later.js';
import { TtlCache } from '../storage/ttl-cache.js';
import { LoginThrottle, type ThrottleLimits } from './login-throttle.js';

/** How long a verified Authorization header is trusted without re-running bcrypt. */
const VERIFIED_TTL_MS = 60_000;
const MAX_VERIFIED = 10_000;
/** How long a refused Authorization header is refused again without re-running bcrypt. */
const REFUSED_TTL_MS = 10_000;
const MAX_REFUSED = 10_000;
const MAX_CONCURRENT_CHECKS = 4;

type Compare = (password: string, hash: string) => Promise<boolean>;

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

/** The bcrypt cost of a hash (`$2b$05$...` -> 5). */
export function bcryptCost(hash: string): number {
  return Number(hash.slice(4, 6));
}

/** The median cost of the stored hashes (10, bcrypt's default, when there are none). Pure. */
export function typicalCost(hashes: Iterable<string>): number {
  const costs = [...hashes].map(bcryptCost).sort((a, b) => a - b);
  return costs.length === 0 ? 10 : costs[Math.floor(costs.length / 2)];
}

/** Failed sign-ins per address when no limits are given (the schema's defaults). */
const DEFAULT_THROTTLE: ThrottleLimits = { burst: 10, refillMs: 6000 };

export class HtpasswdAuth {
  private readonly verified = new TtlCache<string>(VERIFIED_TTL_MS, MAX_VERIFIED);
  private readonly refused = new TtlCache<true>(REFUSED_TTL_MS, MAX_REFUSED);
  private readonly throttle: LoginThrottle;
  /** What an unknown user's password is checked against: as costly as a real entry. */
  readonly dummyHash: string;
  private checking = 0;

  constructor(
    private readonly users: Map<string, string>,
    private readonly compare: Compare = (password, hash) => bcrypt.compare(password, hash),
    throttle: ThrottleLimits = DEFAULT_THROTTLE,
  ) {
    this.throttle = new LoginThrottle(throttle);
    this.dummyHash = bcrypt.hashSync(randomBytes(16).toString('hex'), bcrypt.genSaltSync(typicalCost(users.values())));
  }

  static fromFile(path: string, throttle?: ThrottleLimits): HtpasswdAuth {
    const { users, problems } = parseHtpasswd(readFileSync(path, 'utf8'));
    if (problems.length > 0) throw new Error(`${path}: ${problems.join('; ')}`);
    return new HtpasswdAuth(users, undefined, throttle);
  }

  /**
   * Resolves the user name, or throws UNAUTHORIZED (the caller adds WWW-Authenticate), or 429
   * when `client` (its address) failed too often lately.
   */
  async authenticate(header: string | undefined, client = ''): Promise<string> {
    if (header === undefined || !header.startsWith('Basic ')) throw new OciError('UNAUTHORIZED');
    const known = this.verified.get(header);
    if (known !== undefined) return known;
    const waitMs = this.throttle.waitMs(client);
    if (waitMs > 0) throw new RetryLaterError('TOO_MANY_REQUESTS', 'too many failed sign-ins from this address; retry later', Math.ceil(waitMs / 1000));
    if (this.refused.get(header)) {
      this.throttle.recordFailure(client);
      throw new OciError('UNAUTHORIZED', 'invalid username or password');
    }
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OciError('UNAUTHORIZED', 'malformed basic credentials');
    if (this.checking >= MAX_CONCURRENT_CHECKS) throw new OciError('TOO_MANY_REQUESTS', 'too many sign-ins being checked; retry shortly');
    const user = decoded.slice(0, colon);
    const hash = this.users.get(user);
    this.checking++;
    let ok: boolean;
    try {
      // Compare against a hash even for unknown users so timing does not reveal which users exist.
      ok = await this.compare(decoded.slice(colon + 1), hash ?? this.dummyHash);
    } finally {
      this.checking--;
    }
    if (!ok || hash === undefined) {
      this.refused.set(header, true);
      this.throttle.recordFailure(client);
      throw new OciError('UNAUTHORIZED', 'invalid username or password');
    }
    this.verified.set(header, user);
    return user;
  }
}
