#!/usr/bin/env node
// run.mjs — runs the browser tests (node:test) against a real server: the entry point for
// ctest (web/CMakeLists.txt) and for people.
//
//   node web/test/browser/run.mjs [--bin-dir build/dev/bin] [--source-dir .] [--jobs 1]
//                                 [--chromium /usr/bin/chromium] [file-or-name-filter ...]
//
// Each *.test.mjs file starts its own Redis + kindred-server + Chromium, so files are
// independent; --jobs runs that many files at once (default 2: the two files that wait on
// the server's timers overlap well with the others; the machine has two cores).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opts = { 'bin-dir': null, 'source-dir': path.resolve(here, '../../..'), jobs: '2', chromium: null };
const filters = [];
for (let i = 0; i < args.length; i++) {
  const m = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i]);
  if (m && m[1] in opts) opts[m[1]] = m[2] ?? args[++i];
  else if (args[i] === '-h' || args[i] === '--help') {
    console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 9).join('\n'));
    process.exit(0);
  } else filters.push(args[i]);
}
const sourceDir = path.resolve(opts['source-dir']);
const env = {
  ...process.env,
  KINDRED_SOURCE_DIR: sourceDir,
  KINDRED_BIN_DIR: path.resolve(opts['bin-dir'] ?? path.join(sourceDir, 'build/dev/bin')),
};
if (opts.chromium) env.KINDRED_CHROMIUM = opts.chromium;

let files = fs.readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort();
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (!files.length) {
  console.error('no test files match');
  process.exit(1);
}
const child = spawn(process.execPath, [
  '--test', `--test-concurrency=${opts.jobs}`, '--test-reporter=spec',
  ...files.map((f) => path.join(here, f)),
], { env, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
