// Which repositories and tags replicate (`replication.content`). Compiled once at start-up.

export interface ContentFilterConfig {
  repository: string;
  tags?: string;
}

export interface ContentFilter {
  /** True when anything in this repository replicates. */
  repository(name: string): boolean;
  /** True when this tag of this repository replicates (digests always do once the repository does). */
  tag(name: string, tag: string): boolean;
}

/** `*` matches inside one path component, `**` across slashes, `?` one character. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` also matches zero components, so `a/**/b` matches `a/b`.
      if (glob[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

export function compileContentFilter(rules: readonly ContentFilterConfig[]): ContentFilter {
  if (rules.length === 0) return { repository: () => true, tag: () => true };
  const compiled = rules.map((r) => ({ repo: globToRegExp(r.repository), tags: r.tags === undefined ? undefined : new RegExp(r.tags) }));
  return {
    repository: (name) => compiled.some((r) => r.repo.test(name)),
    tag: (name, tag) => compiled.some((r) => r.repo.test(name) && (r.tags === undefined || r.tags.test(tag))),
  };
}
