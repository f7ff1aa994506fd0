// harness.mjs — a real redis-server + kindred-server + Debian's headless Chromium for the
// browser tests, and the helpers they share (staff accounts, axe-core, screenshots, Redis dump).
//
// Where things are (run.mjs sets these; defaults suit a checkout built with `make`):
//   KINDRED_SOURCE_DIR  the repository (web/, moderation/lexicon/, docs/screenshots/)
//   KINDRED_BIN_DIR     the folder holding kindred-server and kindredctl (build/dev/bin)
//   KINDRED_CHROMIUM    the browser (/usr/bin/chromium)
//   KINDRED_NODE_MODULES  a node_modules folder to use when web/node_modules lacks a package
//   KINDRED_BROWSER_LOGS=1  copy the server's log to stderr at teardown (it never holds text)
//   KINDRED_SCREENSHOTS=0   do not rewrite docs/screenshots/
//   KINDRED_BROWSER_ARTIFACTS  where screens of a failed step go (default <tmp>/kindred-browser-failures)
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RedisClient } from './redis.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = path.resolve(process.env.KINDRED_SOURCE_DIR || path.join(here, '../../..'));
export const webDir = path.join(sourceDir, 'web');
export const binDir = path.resolve(process.env.KINDRED_BIN_DIR || path.join(sourceDir, 'build/dev/bin'));
export const chromiumPath = process.env.KINDRED_CHROMIUM || '/usr/bin/chromium';
export const screenshotDir = path.join(sourceDir, 'docs/screenshots');

// The staff the tests log in as. Passwords only live in this temp deployment.
export const PEER = { username: 'test-peer', password: 'test-peer-password-1', alias: 'River' };
export const MODERATOR = { username: 'test-moderator', password: 'test-moderator-password-1', alias: 'Harbor' };

// A small known catalog, Spanish labels included so the Spanish UI has something to show.
const testConfig = {
  languages: [
    { id: 'en', label: 'English' },
    { id: 'es', label: 'Español' },
  ],
  tags: [
    { id: 'grief', labels: { en: 'Grief and loss', es: 'Duelo y pérdida' } },
    { id: 'loneliness', labels: { en: 'Loneliness', es: 'Soledad' } },
    { id: 'job_loss', labels: { en: 'Job loss and money worries', es: 'Pérdida de empleo y problemas de dinero' } },
  ],
  crisis_resources: [
    { region: 'INTL', name: 'Find a Helpline', url: 'https://findahelpline.com', languages: ['en', 'es'] },
  ],
};

// ---- modules from web/node_modules (npm ci), or KINDRED_NODE_MODULES ----

function resolveModule(spec) {
  const bases = [path.join(webDir, 'package.json')];
  if (process.env.KINDRED_NODE_MODULES) bases.push(path.join(process.env.KINDRED_NODE_MODULES, '..', 'package.json'));
  for (const base of bases) {
    try {
      return createRequire(base).resolve(spec);
    } catch { /* try the next place */ }
  }
  throw new Error(`cannot find ${spec}: run "npm ci" in web/ (or set KINDRED_NODE_MODULES)`);
}

export async function playwright() {
  const mod = await import(pathToFileURL(resolveModule('playwright-core')).href);
  return mod.default ?? mod;
}

let axeSource;
function axe() {
  axeSource ??= fs.readFileSync(resolveModule('axe-core/axe.min.js'), 'utf8');
  return axeSource;
}

// ---- processes ----

const fatal = (err) => Object.assign(err instanceof Error ? err : new Error(String(err)), { fatal: true });

function waitFor(check, { timeoutMs = 10000, everyMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = async () => {
      let value;
      try {
        value = await check();
      } catch (err) {
        if (err?.fatal) return reject(err); // no point waiting: the process is gone
        value = undefined;
      }
      if (value) return resolve(value);
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, everyMs);
    };
    tick();
  });
}

// Redis and the server must not outlive a test process that is killed (a ctest timeout):
// whatever is still running when this process exits is killed with it.
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function startProcess(cmd, args, logPath, opts = {}) {
  const log = fs.openSync(logPath, 'a');
  const child = spawn(cmd, args, { stdio: ['pipe', log, log], ...opts });
  fs.closeSync(log);
  running.add(child);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    running.delete(child);
    resolve(code ?? signal);
  }));
  // A spawn failure (the binary missing, e.g. while it is being relinked) fires no 'exit'.
  child.on('error', (err) => {
    child.spawnError = err;
    running.delete(child);
  });
  return child;
}

async function stopProcess(child, timeoutMs = 7000) {
  if (!child || child.spawnError || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const done = await Promise.race([child.exited.then(() => true), new Promise((r) => setTimeout(r, timeoutMs, false))]);
  if (!done) {
    child.kill('SIGKILL');
    await child.exited;
  }
}

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch { return '(no log)'; }
}

// kindredctl against the test Redis; stdin carries the password (never an argument). Only a
// call with stdin text gets a pipe: every other command runs with stdin closed, so nothing is
// written to a process that may exit without reading it. A failed write is an error of its
// own (kindredctl did not read the password it was given), reported with the command.
function ctl(stack, args, stdinText = '') {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.KINDRED_REDIS; delete env.KINDRED_CONFIG; delete env.KINDRED_DEV_MODE;
    const what = `kindredctl ${args.slice(0, 2).join(' ')}`;
    const child = spawn(path.join(binDir, 'kindredctl'),
      ['--redis', `unix:${stack.redisSocket}`, '--config', stack.configPath, ...args],
      { env, stdio: [stdinText ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let out = '';
    let stdinError = null;
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', reject);
    // Settles once stdin is closed: written, or failed.
    const stdinDone = new Promise((done) => {
      if (!stdinText) { done(); return; }
      child.stdin.on('error', (err) => { stdinError = err; });
      child.stdin.on('close', done);
      child.stdin.end(stdinText);
    });
    // 'close': the process has exited and its output is all read.
    child.on('close', async (code, signal) => {
      await stdinDone;
      if (code !== 0) {
        const why = stdinError ? ` (writing its stdin failed: ${stdinError.message})` : '';
        reject(new Error(`${what} exited ${code ?? signal}${why}: ${out}`));
      } else if (stdinError) {
        reject(new Error(`${what}: writing its stdin failed (${stdinError.message}): ${out}`));
      } else {
        resolve(out);
      }
    });
  });
}

async function addStaff(stack, who, role, tags) {
  await ctl(stack, ['user', 'add', who.username, '--role', role, '--alias', who.alias,
    '--languages', 'en,es', '--password-stdin'], who.password + '\n');
  if (tags) await ctl(stack, ['user', 'certify', who.username, '--tags', tags.join(','), '--until', '2099-01-01']);
}

// Starts Redis and the server, creates the test peer (certified for grief and loneliness) and
// moderator. Options: serverArgs (extra flags).
export async function startStack({ serverArgs = [] } = {}) {
  for (const bin of ['kindred-server', 'kindredctl']) {
    if (!fs.existsSync(path.join(binDir, bin))) throw new Error(`${bin} not found in ${binDir} (build first, or set KINDRED_BIN_DIR)`);
  }
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kindred-browser-'));
  const stack = {
    dir,
    redisSocket: path.join(dir, 'redis.sock'),
    configPath: path.join(dir, 'kindred.json'),
    portFile: path.join(dir, 'port'),
    serverLog: path.join(dir, 'server.log'),
    redisLog: path.join(dir, 'redis.log'),
  };
  await fsp.writeFile(stack.configPath, JSON.stringify(testConfig, null, 2));

  stack.redisProc = startProcess('redis-server', [
    '--port', '0', '--unixsocket', stack.redisSocket, '--unixsocketperm', '700', '--dir', dir,
    '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning',
  ], stack.redisLog);
  try {
    stack.redis = await waitFor(async () => {
      if (stack.redisProc.spawnError) throw fatal(stack.redisProc.spawnError);
      if (stack.redisProc.exitCode !== null) throw fatal(new Error('redis exited'));
      const c = await RedisClient.connect(stack.redisSocket);
      if ((await c.command('PING')) === 'PONG') return c;
      c.close();
      return undefined;
    }, { what: 'redis-server' });
  } catch (err) {
    await stopProcess(stack.redisProc);
    throw new Error(`redis-server did not start: ${err.message}\n${tail(stack.redisLog)}`);
  }

  stack.ctl = (args, stdin) => ctl(stack, args, stdin);
  stack.stop = () => stopStack(stack);
  try {
    // Accounts first (Argon2id hashing, ~0.1 s each), in parallel with the server start.
    const accounts = Promise.all([
      addStaff(stack, PEER, 'peer', ['grief', 'loneliness']),
      addStaff(stack, MODERATOR, 'moderator'),
    ]);
    accounts.catch(() => {}); // reported below when awaited; not unhandled if the server fails first
    stack.serverProc = startProcess(path.join(binDir, 'kindred-server'), [
      '--config', stack.configPath, '--dev',
      '--redis', `unix:${stack.redisSocket}`,
      '--listen', '127.0.0.1:0', '--port-file', stack.portFile,
      '--web-root', webDir,
      '--lexicon', path.join(sourceDir, 'moderation/lexicon/lexicon.json'),
      '--instance-id', `browser-${process.pid}`,
      '--threads', '2', '--hash-threads', '1',
      ...serverArgs,
    ], stack.serverLog);
    const port = await waitFor(async () => {
      if (stack.serverProc.spawnError) throw fatal(stack.serverProc.spawnError);
      if (stack.serverProc.exitCode !== null) throw fatal(new Error(`exited with ${stack.serverProc.exitCode}`));
      const text = await fsp.readFile(stack.portFile, 'utf8').catch(() => '');
      const p = Number(text.trim());
      if (!p) return undefined;
      const ready = await fetch(`http://127.0.0.1:${p}/readyz`).then((r) => r.status === 200, () => false);
      return ready ? p : undefined;
    }, { timeoutMs: 15000, what: 'kindred-server /readyz' }).catch((err) => {
      throw new Error(`kindred-server did not come up (${err.message}):\n${tail(stack.serverLog)}`);
    });
    stack.port = port;
    stack.baseURL = `http://127.0.0.1:${port}`;
    await accounts;
  } catch (err) {
    await stopStack(stack);
    throw err;
  }
  return stack;
}

async function stopStack(stack) {
  if (stack.stopped) return;
  stack.stopped = true;
  await stopProcess(stack.serverProc);
  stack.redis?.close();
  await stopProcess(stack.redisProc);
  if (process.env.KINDRED_BROWSER_LOGS === '1') process.stderr.write(tail(stack.serverLog, 200) + '\n');
  await fsp.rm(stack.dir, { recursive: true, force: true });
}

// ---- the browser ----

export async function launchBrowser() {
  const { chromium } = await playwright();
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // /dev/shm is small in many containers; the GPU is absent anyway.
    args: ['--disable-dev-shm-usage', '--disable-gpu'],
  });
}

// A seeker's phone: 360×640, touch, mobile user agent behaviour.
export const PHONE = { viewport: { width: 360, height: 640 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
export const DESKTOP = { viewport: { width: 1280, height: 800 } };

// A context on the stack's origin that records what the pages say on the console, so tests
// can assert that no page breaks its CSP, throws, or logs a secret.
export async function newContext(browser, stack, options = {}) {
  const context = await browser.newContext({ baseURL: stack.baseURL, locale: 'en-US', ...options });
  context.consoleLines = [];
  context.pageErrors = [];
  context.on('page', (page) => watchPage(context, page));
  return context;
}

function watchPage(context, page) {
  page.on('console', (msg) => context.consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => context.pageErrors.push(String(err && err.stack || err)));
}

export async function newPage(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  return page;
}

// The console must never show an uncaught error or a CSP refusal, and never any of `secrets`
// (message text, intake). WebSocket failures while offline are expected and allowed.
export function consoleProblems(context, secrets = []) {
  const problems = [...context.pageErrors.map((e) => `uncaught: ${e}`)];
  for (const line of context.consoleLines) {
    if (/Content Security Policy|Refused to (load|execute|apply|connect|evaluate)/i.test(line)) problems.push(line);
    for (const s of secrets) if (s && line.includes(s)) problems.push('a secret was logged to the console');
  }
  return problems;
}

// ---- axe-core ----

// Runs axe-core in the page (evaluated through the DevTools protocol, so the page's CSP does
// not block it) and returns the serious and critical violations, in a short printable form.
export async function seriousViolations(page, { exclude = [] } = {}) {
  await page.evaluate(axe());
  const result = await page.evaluate(async (excl) => {
    const ctx = excl.length ? { exclude: excl.map((s) => [s]) } : document;
    // WCAG 2.x A/AA and best-practice rules; the tests fail only on serious/critical impact.
    const r = await window.axe.run(ctx, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  }, exclude);
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export function describeViolations(list) {
  return list.map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.targets.join(', ')}`).join('\n');
}

// ---- screenshots ----

// Saves docs/screenshots/<name>.png (the README shows them). Animations are frozen and the
// caret hidden so the pictures only change when the page does.
export async function screenshot(page, name) {
  if (process.env.KINDRED_SCREENSHOTS === '0') return;
  await fsp.mkdir(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), animations: 'disabled', caret: 'hide' });
}

// ---- staff ----

// Logs in through the page's login form (shared by /staff and /moderation).
export async function loginThroughForm(page, who) {
  await page.locator('#username').fill(who.username);
  await page.locator('#password').fill(who.password);
  await page.locator('#login').click();
  // Signed in when the form goes away; a visible #login-error says why not.
  const outcome = await Promise.race([
    page.locator('#login-form').waitFor({ state: 'hidden' }).then(() => 'ok'),
    page.locator('#login-error').waitFor({ state: 'visible' }).then(() => 'error'),
  ]);
  if (outcome === 'error') throw new Error(`login failed: ${await page.locator('#login-error').textContent()}`);
}

// ---- secrets in Redis ----

// True when `text` appears in `bytes` raw (UTF-8) or base64-encoded at any of the three byte
// alignments, so a client that "encrypts" by base64 alone is caught too.
export function containsSecret(bytes, text) {
  const raw = Buffer.from(text, 'utf8');
  if (bytes.includes(raw)) return true;
  for (let k = 0; k < 3; k++) {
    const b64 = raw.subarray(k).toString('base64');
    const stable = b64.slice(0, Math.max(0, b64.length - 4)); // the tail depends on what follows
    if (stable.length >= 8 && bytes.includes(Buffer.from(stable))) return true;
  }
  return false;
}

// ---- steps ----

// Runs the steps of one flow in order as subtests; after a failed step the rest are skipped
// (they would only time out against a broken page and hide the first failure). On a failure
// each of `pages` ({name: page}) is photographed into KINDRED_BROWSER_ARTIFACTS (default
// <tmp>/kindred-browser-failures), never into docs/.
// A step with { soft: true } checks something the later steps do not depend on: its failure
// does not skip them.
export function flow(t, pages = {}) {
  let failed = null;
  return async (name, fn, { soft = false } = {}) => {
    await t.test(name, { skip: failed ? `after "${failed}" failed` : false }, async () => {
      try {
        await fn();
      } catch (err) {
        if (!soft) failed = name;
        const dir = process.env.KINDRED_BROWSER_ARTIFACTS || path.join(os.tmpdir(), 'kindred-browser-failures');
        const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
        await fsp.mkdir(dir, { recursive: true }).catch(() => {});
        for (const [who, page] of Object.entries(pages)) {
          await page.screenshot({ path: path.join(dir, `${slug}-${who}.png`), timeout: 3000 }).catch(() => {});
        }
        if (Object.keys(pages).length) err.message += `\n(screens of the failure: ${dir}/${slug}-*.png)`;
        throw err;
      }
    });
  };
}

// The texts of the `.text` of every `li.msg` matching `sel` under `root`, in DOM order.
export async function messageTexts(root, which = '') {
  return root.locator(`li.msg${which} .text`).allTextContents().then((a) => a.map((s) => s.trim()));
}

// Waits until the messages under root (optionally only .mine / .theirs) are exactly `want`.
export async function expectMessages(root, want, which = '', timeoutMs = 15000) {
  let got;
  try {
    await waitFor(async () => {
      got = await messageTexts(root, which);
      return JSON.stringify(got) === JSON.stringify(want);
    }, { timeoutMs, everyMs: 100, what: 'messages' });
  } catch {
    // Say how many and which positions differ, not the texts (they are the test's canaries
    // and are printed nowhere).
    throw new Error(`li.msg${which}: wanted ${want.length} messages in order, got ${got?.length}: ` +
      JSON.stringify(got?.map((g) => (want.indexOf(g) >= 0 ? `#${want.indexOf(g) + 1}` : 'other'))));
  }
}

// data-offset of every li.msg under root: must be unique and increasing (each message once,
// in order).
export async function expectOrderedOffsets(root) {
  const offsets = await root.locator('li.msg').evaluateAll((els) => els.map((e) => e.dataset.offset));
  const nums = offsets.filter((o) => o !== undefined && o !== '').map(Number);
  for (let i = 1; i < nums.length; i++) {
    if (!(nums[i] > nums[i - 1])) throw new Error(`data-offset not increasing: ${JSON.stringify(offsets)}`);
  }
  return nums;
}

export { waitFor };
