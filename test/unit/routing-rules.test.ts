import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGlobs, globToRegExp } from '../../src/proxy/routing/repository-glob.js';
import { compileRoutes } from '../../src/proxy/routing/route-rules.js';

describe('repository globs', () => {
  const cases: Array<[string, string[], string[]]> = [
    ['team-a/**', ['team-a', 'team-a/x', 'team-a/x/y/z'], ['team-ab', 'team-b/x', 'x/team-a/y']],
    ['team-a/*', ['team-a/x'], ['team-a', 'team-a/x/y']],
    ['**', ['a', 'a/b/c'], []],
    ['**/base', ['base', 'x/base', 'x/y/base'], ['basex', 'x/base/y']],
    ['a/**/b', ['a/b', 'a/x/b', 'a/x/y/b'], ['a/xb', 'ab']],
    ['lib-?', ['lib-1', 'lib-a'], ['lib-', 'lib-12', 'lib-/']],
    ['app.v1', ['app.v1'], ['appxv1']],
    ['*-cache', ['npm-cache'], ['x/npm-cache']],
  ];
  for (const [glob, yes, no] of cases) {
    it(`${glob} matches ${yes.join(', ')} and not ${no.join(', ') || 'nothing else'}`, () => {
      const re = globToRegExp(glob);
      for (const name of yes) assert.ok(re.test(name), `${glob} ~ ${name}`);
      for (const name of no) assert.ok(!re.test(name), `${glob} !~ ${name}`);
    });
  }

  it('matches when any glob of a rule matches', () => {
    const m = compileGlobs(['a/**', 'b']);
    assert.ok(m('a/x') && m('b'));
    assert.ok(!m('c'));
  });
});

describe('route rules', () => {
  const table = compileRoutes([
    { repositories: ['team-a/**'], backends: ['r1', 'r2'] },
    { repositories: ['team-a/special', '**'], backends: ['r3'] },
  ]);

  it('takes the first rule that matches', () => {
    assert.deepEqual([...table('team-a/special')!.backends!], ['r1', 'r2']);
    assert.equal(table('team-a/special').rule, 0);
    assert.deepEqual([...table('other/app').backends!], ['r3']);
  });

  it('lets requests that name no repository use every backend', () => {
    assert.deepEqual(table(undefined), { rule: -1, backends: undefined });
  });

  it('uses every backend when no rule matches or none are configured', () => {
    const partial = compileRoutes([{ repositories: ['team-a/**'], backends: ['r1'] }]);
    assert.equal(partial('team-b/x').backends, undefined);
    assert.equal(compileRoutes([])('x').backends, undefined);
  });
});
