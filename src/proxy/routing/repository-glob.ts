// Repository-name globs for `routing.routes`, with the doublestar semantics zot's sync `prefix`
// uses: `*` and `?` stay inside one path component, `**` spans any number of components
// (including none, so `team-a/**` also matches `team-a` itself).

function componentToRegex(component: string): string {
  let out = '';
  for (let i = 0; i < component.length; i++) {
    const c = component[i];
    if (c === '*') {
      while (component[i + 1] === '*') i++; // `a**b` inside a component means `*`
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else {
      out += c.replace(/[.+^${}()|[\]\\-]/g, '\\$&');
    }
  }
  return out;
}

export function globToRegExp(glob: string): RegExp {
  const components = glob.split('/');
  let out = '';
  let needSlash = false;
  components.forEach((component, i) => {
    const last = i === components.length - 1;
    if (component === '**') {
      if (last) out += needSlash ? '(?:/.*)?' : '.*';
      else out += needSlash ? '/(?:[^/]+/)*' : '(?:[^/]+/)*';
      needSlash = false;
      return;
    }
    out += (needSlash ? '/' : '') + componentToRegex(component);
    needSlash = true;
  });
  return new RegExp(`^${out}$`);
}

/** A matcher for any of the globs. */
export function compileGlobs(globs: readonly string[]): (name: string) => boolean {
  const regexps = globs.map(globToRegExp);
  return (name) => regexps.some((re) => re.test(name));
}
