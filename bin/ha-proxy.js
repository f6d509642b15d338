#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
import { main } from '../dist/src/cli/main.js';

// A code from main means start-up is over (help, bad config, a port that cannot be bound): the
// runners have stopped what they started, and exiting here makes sure no forgotten handle keeps
// a half-started process alive.
main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exit(code); },
  (err) => { console.error(err); process.exit(1); },
);
