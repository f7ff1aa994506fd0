// common.js — what the peer and moderator consoles share (the admin page uses its sign-in too):
// their strings, sign-in, the connection, and the chat panel of one conversation (messages,
// receipts, typing, composer).
import * as i18n from '/lib/i18n.js';
import * as conn from '/lib/connection.js';
import * as lex from '/lib/lexicon.js';
import { el, show, announce, focus as uiFocus } from '/lib/ui.js';
import { readText, suggestsEscalation } from '/staff/logic.js';

// ---------------------------------------------------------------------------------------------
// Strings: every page's keys, English and Spanish, live in the one catalog /lib/strings.json.
export const t = (key, vars) => i18n.t(key, vars);
export const currentLang = () => i18n.getLanguage();
export const translate = (root = document) => i18n.applyI18n(root);
export { el, show, announce };

export async function initStrings(onChange) {
  const select = document.getElementById('lang-select');
  select.value = currentLang();
  document.documentElement.lang = currentLang();
  select.addEventListener('change', () => i18n.setLanguage(select.value));
  // setLanguage re-fills [data-i18n]; pages re-render what they built themselves.
  document.addEventListener(i18n.LANGUAGE_EVENT, () => onChange?.());
  translate(document);
}

// Moves focus only when it was lost (on the body, or inside something now hidden): never pulls
// it away from a field someone is typing in.
export function focusIfLost(node) {
  const active = document.activeElement;
  if (active && active !== document.body && active.offsetParent !== null) return;
  uiFocus(node);
}

export function showError(node, text) {
  node.textContent = text || '';
  node.hidden = !text;
}

// The server's error codes, in words a staff member can act on.
export function errorText(err) {
  const code = err?.code ?? 'internal';
  const key = `staff.error.${code}`;
  const s = t(key, { seconds: Math.ceil((err?.retryAfterMs ?? 0) / 1000) });
  return s === key ? t('staff.error.internal') : s;
}

// ---------------------------------------------------------------------------------------------
// Sign-in. The token is kept in sessionStorage only, so a reload keeps the console signed in
// but closing the tab ends it; it never goes into a URL.
const SESSION_KEY = 'kindred.staff';

export function savedLogin(role) {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    if (s && s.role === role && s.expires_at > Date.now() + 60_000) return s;
  } catch { /* corrupt: sign in again */ }
  return null;
}

export function forgetLogin() { sessionStorage.removeItem(SESSION_KEY); }

// POST /v1/auth/login → {username, token, role, expires_at}; throws Error(message) in words.
export async function login(username, password, role) {
  let r;
  try {
    r = await fetch('/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new Error(t('staff.login.offline'));
  }
  let body = {};
  try { body = await r.json(); } catch { /* empty or not JSON */ }
  if (r.status === 401) throw new Error(t('staff.login.bad'));
  if (r.status === 429) {
    const minutes = Math.max(1, Math.ceil((body.retry_after_ms ?? 60_000) / 60_000));
    throw new Error(t('staff.login.limited', { minutes }));
  }
  if (!r.ok) throw new Error(t('staff.login.unavailable'));
  if (body.role !== role) throw new Error(t(`staff.login.wrong_role.${role}`));
  const s = { username, token: body.token, role: body.role, expires_at: body.expires_at };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  return s;
}

export async function logout(token) {
  try {
    await fetch('/v1/auth/logout', {
      method: 'POST', headers: { Authorization: `Bearer ${token}` }, credentials: 'omit',
    });
  } catch { /* the token expires anyway; the tab forgets it now */ }
  forgetLogin();
}

// The sign-in form of every staff page (peer and moderator consoles, admin page), built once
// here into the page's empty, hidden `<section id="login-section">`. The ids are what the
// pages and their tests address: #login-form, #username, #password, #login, #login-error.
export function loginMarkup() {
  const field = (id, key, attrs) => el('p', { class: 'field' }, [
    el('label', { for: id, dataset: { i18n: key } }, t(key)),
    el('input', { id, name: id, required: true, ...attrs }),
  ]);
  return [
    el('h2', { id: 'login-heading', dataset: { i18n: 'staff.login.heading' } }, t('staff.login.heading')),
    el('form', { id: 'login-form', method: 'post', novalidate: true }, [
      field('username', 'staff.login.username', {
        autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', maxlength: 64, autofocus: true,
      }),
      field('password', 'staff.login.password', { type: 'password', autocomplete: 'current-password', maxlength: 1024 }),
      el('p', {}, [el('button', { id: 'login', type: 'submit', dataset: { i18n: 'staff.login.submit' } }, t('staff.login.submit'))]),
      el('p', { id: 'login-error', class: 'error', role: 'alert', hidden: true }),
    ]),
  ];
}

// Shows the login form (loginMarkup) and resolves with the login once one of the given role
// succeeds; a saved login of that role resolves at once and the form is never shown.
export function loginForm(role) {
  const saved = savedLogin(role);
  const section = document.getElementById('login-section');
  if (saved) { section.hidden = true; return Promise.resolve(saved); }
  section.replaceChildren(...loginMarkup());
  const form = document.getElementById('login-form');
  const error = document.getElementById('login-error');
  const button = document.getElementById('login');
  // The form and its submit handler (below) come in the same task: a native submit, which
  // would send the password to the server as a form body, can never happen.
  section.hidden = false;
  return new Promise((resolve) => {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const username = document.getElementById('username').value.trim();
      const password = document.getElementById('password').value;
      if (!username || !password) { showError(error, t('staff.login.missing')); return; }
      button.disabled = true;
      showError(error, '');
      try {
        const s = await login(username, password, role);
        document.getElementById('password').value = '';
        section.hidden = true;
        resolve(s);
      } catch (e) {
        showError(error, e.message);
      } finally {
        button.disabled = false;
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The connection (/lib/connection.js) and its state line (#conn-state). The resume token is in
// sessionStorage (the connection's), so a reload resumes the same staff session.
export function openConnection(role, token) {
  const c = new conn.KindredConnection({ role, token });
  const line = document.getElementById('conn-state');
  c.addEventListener('state', (ev) => {
    const state = ev.detail?.state ?? ev.detail;
    line.dataset.state = state;
    // Online is the normal case: say nothing then, so the header stays quiet.
    line.textContent = state === 'online' ? '' : t(`staff.conn.${state}`);
  });
  return c; // the caller connect()s once its handlers are in place
}

// request() rejects with a RequestError whose .code is the server's code, or offline /
// disconnected when the answer cannot come.
export async function ask(c, frame) {
  return c.request(frame);
}

// ---------------------------------------------------------------------------------------------
// The lexicon, read once; consoles apply it to decrypted text they receive.
let lexicon = null;
export async function loadLexicon() {
  try { lexicon = await lex.loadLexicon(); } catch { lexicon = null; }
  return lexicon;
}

export function readMessage(text, langs) {
  const use = langs?.length ? langs : (lexicon?.languages ?? []).map((l) => l.code);
  try {
    return readText(text, lexicon, use, lex.assess, lex.normalise);
  } catch {
    return { level: 'none', category: 'none', pieces: [{ text, mark: false }] };
  }
}

// Text with its <mark>s, built from text nodes only.
export function markedText(node, pieces) {
  node.replaceChildren(...pieces.map((p) => (p.mark ? el('mark', {}, p.text) : document.createTextNode(p.text))));
}

// ---------------------------------------------------------------------------------------------
// One conversation's chat: the message list, receipts, typing, and the composer.
// `panel` holds `.messages`, `.typing`, `.composer`, `.send`; `self` is our role; `crypto` a
// ConversationCrypto; `nextSeq()` hands out (and persists) our next seq.
export class ChatPanel {
  constructor({ panel, conversationId, self, connection, crypto, nextSeq, langs, names, onAlarm }) {
    Object.assign(this, { panel, conversationId, self, connection, crypto, nextSeq, langs, names, onAlarm });
    this.list = panel.querySelector('.messages');
    this.typing = panel.querySelector('.typing');
    this.composer = panel.querySelector('.composer');
    this.sendButton = panel.querySelector('.send');
    this.messages = []; // {offset, from, text, node}; text stays in memory only
    this.seen = new Set(); // offsets handled (a live delivery and a sync may both bring one)
    this.lastReceipt = 0;
    this.visible = false;
    this.ended = false;
    this.typingSentAt = 0;
    this.sendButton.addEventListener('click', () => this.sendComposer());
    this.composer.addEventListener('keydown', (ev) => {
      // Enter sends, Shift+Enter is a new line: what chat users expect.
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); this.sendComposer(); }
    });
    this.composer.addEventListener('input', () => this.sendTyping());
  }

  nameOf(from) { return from === this.self ? t('staff.msg.you') : (this.names?.[from] ?? t(`role.${from}`)); }

  // A `message` event for this conversation.
  receive(ev) {
    if (this.seen.has(ev.offset)) return;
    let text;
    try {
      text = this.crypto.decrypt(ev);
    } catch (e) {
      const why = e?.code ?? e?.message ?? '';
      if (String(why).includes('replayed')) { this.seen.add(ev.offset); return; }
      this.seen.add(ev.offset);
      this.insert({ offset: ev.offset, from: ev.from, text: null, failed: true, at: ev.sent_at });
      return;
    }
    this.seen.add(ev.offset);
    const reading = readMessage(text, this.langs);
    this.insert({ offset: ev.offset, from: ev.from, text, reading, at: ev.sent_at });
    this.typing.hidden = true;
    if (reading.level !== 'none') this.onAlarm?.(reading, ev.offset);
    this.maybeReceipt();
  }

  insert(m) {
    const mine = m.from === this.self;
    const li = el('li', { class: `msg ${mine ? 'mine' : 'theirs'}` });
    if (m.offset) li.dataset.offset = m.offset;
    li.dataset.from = m.from;
    li.append(el('span', { class: 'from' }, this.nameOf(m.from)));
    const body = el('p', { class: 'text' });
    if (m.failed) { body.textContent = t('staff.msg.undecryptable'); li.classList.add('failed'); }
    else if (m.reading) markedText(body, m.reading.pieces);
    else body.textContent = m.text;
    li.append(body);
    if (m.reading && m.reading.level !== 'none') {
      li.dataset.risk = m.reading.level;
      li.append(el('span', { class: 'risk-note' }, t('staff.msg.flagged', { level: t(`level.${m.reading.level}`) })));
    }
    const when = m.at ? new Date(m.at) : new Date();
    li.append(el('time', { datetime: when.toISOString() }, when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })));
    if (mine) li.append(el('span', { class: 'status' }, t(m.status ?? 'staff.msg.sending')));
    m.node = li;
    // Keep offset order; pending messages (no offset yet) stay at the end.
    const after = m.offset ? this.messages.find((x) => x.offset && x.offset > m.offset) : null;
    if (after) { this.list.insertBefore(li, after.node); this.messages.splice(this.messages.indexOf(after), 0, m); }
    else { this.list.append(li); this.messages.push(m); }
    return m;
  }

  system(text) {
    this.list.append(el('li', { class: 'system' }, text));
  }

  async sendComposer() {
    const text = this.composer.value;
    if (!text.trim() || this.ended) return;
    this.composer.value = '';
    this.composer.focus(); // now, in the click's own task: later it could steal focus
    await this.send(text);
  }

  async send(text) {
    const seq = await this.nextSeq();
    const m = this.insert({ from: this.self, text, reading: { pieces: [{ text, mark: false }], level: 'none' }, status: 'staff.msg.sending' });
    const status = m.node.querySelector('.status');
    try {
      const copies = this.crypto.encrypt(seq, text);
      // The connection's outbox keeps it (sessionStorage) and re-sends it with the same seq
      // after a drop or a reload until the server has stored it.
      const ok = await this.connection.sendMessage({ conversation_id: this.conversationId, seq, copies });
      m.offset = ok.offset;
      this.seen.add(ok.offset);
      m.node.dataset.offset = ok.offset;
      // Re-place it among messages that arrived while it travelled.
      this.messages.splice(this.messages.indexOf(m), 1);
      m.node.remove();
      const after = this.messages.find((x) => x.offset && x.offset > m.offset);
      if (after) { this.list.insertBefore(m.node, after.node); this.messages.splice(this.messages.indexOf(after), 0, m); }
      else {
        const pending = this.messages.find((x) => !x.offset);
        if (pending) { this.list.insertBefore(m.node, pending.node); this.messages.splice(this.messages.indexOf(pending), 0, m); }
        else { this.list.append(m.node); this.messages.push(m); }
      }
      if (this.readUpTo >= m.offset) status.textContent = t('staff.msg.read');
      else status.textContent = t('staff.msg.sent');
    } catch (e) {
      status.textContent = t('staff.msg.failed', { why: errorText(e) });
      m.node.classList.add('failed');
    }
  }

  // A `receipt` from another party: everything of ours up to that offset has been read.
  receipt(ev) {
    if (ev.from === this.self) return;
    this.readUpTo = Math.max(this.readUpTo ?? 0, ev.offset);
    for (const m of this.messages) {
      if (m.from === this.self && m.offset && m.offset <= ev.offset) {
        const s = m.node.querySelector('.status');
        if (s) s.textContent = t('staff.msg.read');
      }
    }
  }

  // We say "read" only for what is on screen: the tab is selected and the page is visible.
  setVisible(v) { this.visible = v; this.maybeReceipt(); }

  maybeReceipt() {
    if (!this.visible || document.visibilityState !== 'visible' || this.ended) return;
    const latest = Math.max(0, ...this.messages.filter((m) => m.from !== this.self && m.offset).map((m) => m.offset));
    if (latest > this.lastReceipt) {
      this.lastReceipt = latest;
      this.connection.notify({ type: 'receipt', conversation_id: this.conversationId, offset: latest });
    }
  }

  sendTyping() {
    const now = Date.now();
    if (this.ended || now - this.typingSentAt < 3000) return; // forwarded, never stored: keep it rare
    this.typingSentAt = now;
    this.connection.notify({ type: 'typing', conversation_id: this.conversationId });
  }

  showTyping(ev) {
    if (ev.from === this.self) return;
    this.typing.textContent = t('staff.msg.typing', { who: this.nameOf(ev.from) });
    this.typing.hidden = false;
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => { this.typing.hidden = true; }, 5000);
  }

  end(text) {
    this.ended = true;
    this.composer.disabled = true;
    this.sendButton.disabled = true;
    this.typing.hidden = true;
    this.system(text);
  }
}

// The markup of a chat (shared so both consoles lay it out the same way).
export function chatMarkup(idPrefix) {
  const frag = document.createDocumentFragment();
  const list = el('ol', { class: 'messages', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': t('staff.msg.list'), 'data-i18n-attr': 'aria-label:staff.msg.list' });
  const typing = el('p', { class: 'typing', 'aria-live': 'polite', hidden: true });
  const label = el('label', { for: `${idPrefix}-composer`, class: 'composer-label', dataset: { i18n: 'staff.msg.compose' } }, t('staff.msg.compose'));
  const composer = el('textarea', { id: `${idPrefix}-composer`, class: 'composer', rows: 2, maxlength: 4000 });
  const send = el('button', { type: 'button', class: 'send', dataset: { i18n: 'staff.msg.send' } }, t('staff.msg.send'));
  const form = el('div', { class: 'compose-row' });
  form.append(label, composer, send);
  frag.append(list, typing, form);
  return frag;
}

export { suggestsEscalation };
