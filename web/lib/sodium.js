// sodium.js — loads libsodium-wrappers once (browser: /vendor/, Node tests: node_modules).

let instance = null;

// Browsers load the vendored ESM build (no bundler, no import map: the CSP forbids inline
// scripts); Node resolves the package from web/node_modules for the unit tests.
function load() {
  const inBrowser = typeof window !== 'undefined' && typeof document !== 'undefined';
  return inBrowser ? import('/vendor/libsodium-wrappers.mjs') : import('libsodium-wrappers');
}

export async function sodium() {
  if (!instance) {
    instance = (async () => {
      const mod = await load();
      const s = mod.default ?? mod;
      await s.ready;
      return s;
    })();
  }
  return instance;
}
