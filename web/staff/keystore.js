// keystore.js — the peer's keys in IndexedDB: its Ed25519 identity key, the secret halves of
// its uploaded prekeys, and the key material of conversations in progress.
// Why IndexedDB: the identity key must outlive the tab (the server holds only its public half
// and refuses another one until an admin resets it), and Uint8Arrays are stored as they are
// (structured clone), never as text. One database per account, so two peers who share a
// browser never use each other's keys. Nothing here holds message text or intake.

const VERSION = 1;
const STORES = ['identity', 'prekeys', 'conversations'];

const promisify = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error);
});

export async function openKeystore(username) {
  const req = indexedDB.open(`kindred-staff:${username}`, VERSION);
  req.onupgradeneeded = () => {
    for (const name of STORES) {
      if (!req.result.objectStoreNames.contains(name)) req.result.createObjectStore(name);
    }
  };
  const db = await promisify(req);

  const tx = (store, mode, fn) => new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const result = fn(t.objectStore(store));
    t.oncomplete = () => resolve(result instanceof IDBRequest ? result.result : result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });

  return {
    get: (store, key) => tx(store, 'readonly', (s) => s.get(key)),
    put: (store, key, value) => tx(store, 'readwrite', (s) => { s.put(value, key); }),
    delete: (store, key) => tx(store, 'readwrite', (s) => { s.delete(key); }),
    all: (store) => tx(store, 'readonly', (s) => s.getAll()),
    keys: (store) => tx(store, 'readonly', (s) => s.getAllKeys()),
    // Several prekeys in one transaction: a batch is uploaded only once all of it is stored,
    // so the server never hands out a prekey whose secret we could have lost.
    putMany: (store, entries) => tx(store, 'readwrite', (s) => {
      for (const [key, value] of entries) s.put(value, key);
    }),
    close: () => db.close(),
  };
}
