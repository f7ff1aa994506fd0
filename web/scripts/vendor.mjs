// vendor.mjs — copies the browser builds the pages load (libsodium ESM, axe-core for tests) from
// node_modules into web/vendor/, which the server serves as /vendor/. Run after `npm ci`.
import { mkdir, readFile, writeFile, copyFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nm = path.join(web, 'node_modules');
const out = path.join(web, 'vendor');
await mkdir(out, { recursive: true });

// libsodium's core ESM build is self-contained.
await copyFile(path.join(nm, 'libsodium/dist/modules-esm/libsodium.mjs'), path.join(out, 'libsodium.mjs'));

// The wrappers import the bare specifier "libsodium". Browsers need an import map for that,
// and an import map is an inline script, which our CSP forbids — so point it at the file.
const wrapperSrc = await readFile(path.join(nm, 'libsodium-wrappers/dist/modules-esm/libsodium-wrappers.mjs'), 'utf8');
const rewritten = wrapperSrc.replace(/from\s*(["'])libsodium\1/g, 'from"./libsodium.mjs"');
if (rewritten === wrapperSrc) throw new Error('vendor: libsodium-wrappers no longer imports "libsodium"; check the build');
await writeFile(path.join(out, 'libsodium-wrappers.mjs'), rewritten);

// axe-core is only for the accessibility tests (injected by Playwright); never loaded by a page.
await copyFile(path.join(nm, 'axe-core/axe.min.js'), path.join(out, 'axe.min.js'));

console.log(`vendor: wrote libsodium.mjs, libsodium-wrappers.mjs, axe.min.js to ${path.relative(process.cwd(), out) || '.'}`);

// Pre-compressed copies for slow phone networks: the server sends `<file>.gz` (Content-Encoding:
// gzip) to clients that accept it, but only while it is at least as new as the file — an
// edited file is served uncompressed until this runs again (npm ci / make does).
const { gzipSync, constants } = await import('node:zlib');
const { readdir, stat } = await import('node:fs/promises');
const compressible = /\.(m?js|css|json|html|svg|webmanifest)$/;
const skip = new Set(['node_modules', 'test', 'scripts']);
let count = 0;
async function compressTree(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skip.has(entry.name) && !entry.name.startsWith('.')) await compressTree(p);
    } else if (compressible.test(entry.name) && entry.name !== 'axe.min.js') {
      const data = await readFile(p);
      if (data.length < 1024) continue; // not worth a round trip's worth of bytes
      await writeFile(p + '.gz', gzipSync(data, { level: constants.Z_BEST_COMPRESSION }));
      count++;
    }
  }
}
await compressTree(web);
console.log(`vendor: wrote ${count} pre-compressed .gz files`);
