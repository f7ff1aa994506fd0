// peer.js — the peer console (/staff): sign-in, identity key and prekeys, shift controls, one
// tab per conversation (intake, risk, lexicon highlights, chat), escalation with sealed
// excerpts, transfer, block, end, and the private "ask a moderator" channel.
import * as e2e from '/lib/e2e.js';
import {
  t, el, announce, showError, errorText, initStrings, focusIfLost, loginForm, logout, forgetLogin, openConnection, ask,
  loadLexicon, readMessage, markedText, ChatPanel, chatMarkup,
} from '/staff/common.js';
import { openKeystore } from '/staff/keystore.js';
import { excerptContent, frameBytes, formatDuration, suggestsEscalation, levelRank } from '/staff/logic.js';

const $ = (id) => document.getElementById(id);
// The whole escalate frame must stay under the server's 65,536-byte frame limit; leave room.
const MAX_ESCALATE_BYTES = 60_000;
const PREKEY_BATCH = 20;
const PREKEYS_KEPT = 200; // the server keeps the newest 200; older secrets can go

const state = {
  login: null,
  conn: null,
  store: null,
  identity: null, // {publicKey, privateKey} Ed25519
  identityOk: false,
  config: null,
  conversations: new Map(), // id → conv
  consults: new Map(), // consult_id → {keyPair, conv}
  uploading: null,
  nextIndex: 1,
};

// ---------------------------------------------------------------------------------------------
// Start-up.
async function main() {
  await initStrings(rerender);
  const signedIn = loginForm('peer'); // ready for the user while the catalog loads
  state.config = await loadConfig();
  renderShiftChoices();
  state.login = await signedIn;
  $('console').hidden = false;
  $('logout').hidden = false;
  // The form that had focus is gone: put keyboard users at the start of the console.
  focusIfLost($('shift-heading'));
  $('logout').addEventListener('click', signOut);
  try {
    state.store = await openKeystore(state.login.username);
    state.identity = await loadIdentity();
  } catch {
    // Without IndexedDB there is no identity key and so no prekeys: this browser cannot be used.
    identityStatus(t('staff.identity.no_storage'), true);
    return;
  }
  loadLexicon();
  state.conn = openConnection('peer', state.login.token);
  await restoreConversations();
  wireShift();
  wireDialogs();

  state.conn.addEventListener('state', (ev) => {
    const s = ev.detail?.state ?? ev.detail;
    if (s === 'online') onOnline();
  });
  // Frames are handled one after another: a `message` must not overtake the `matched` whose
  // key material is still being read from IndexedDB.
  let queue = Promise.resolve();
  state.conn.addEventListener('frame', (ev) => {
    const frame = ev.detail;
    queue = queue.then(() => onFrame(frame)).catch(() => { /* one bad frame must not stop the rest */ });
  });
  state.conn.addEventListener('recovered', (ev) => {
    const conv = state.conversations.get(ev.detail?.conversation_id);
    if (conv) conv.chat.system(t('staff.conv.not_recovered'));
  });
  state.conn.addEventListener('closed', (ev) => onClosed(ev.detail));
  state.conn.addEventListener('auth-failed', () => onClosed({ code: 4003, final: true }));
  state.conn.addEventListener('session', (ev) => onSession(ev.detail));
  state.conn.addEventListener('send-failed', (ev) => {
    const conv = state.conversations.get(ev.detail?.conversation_id);
    if (conv) conv.chat.system(t('staff.msg.failed', { why: errorText(ev.detail) }));
  });
  state.conn.connect();
}

async function loadConfig() {
  for (;;) {
    try {
      const r = await fetch('/v1/config');
      if (r.ok) return await r.json();
    } catch { /* offline: retry */ }
    await new Promise((res) => setTimeout(res, 3000));
  }
}

async function signOut() {
  state.conn?.close({ forget: true });
  await logout(state.login.token);
  location.reload();
}

// A close the connection will not retry (token revoked or expired, banned, taken over by
// another tab): say so; the sign-in form comes back on reload.
function onClosed(detail) {
  if (!detail?.final || detail.code === 1000) return;
  const key = detail.code === 4005 ? 'staff.closed.banned'
    : detail.code === 4001 ? 'staff.closed.taken_over' : 'staff.closed.signed_out';
  if (detail.code !== 4001) forgetLogin();
  identityStatus(t(key), true);
}

// The hello answer lists our conversations that still exist: any we hold keys for that are gone
// (purged while this tab was closed) are over; ones we have no keys for (another browser) still
// get a tab, so they can be transferred or ended.
function onSession(ok) {
  const listed = new Map((ok.conversations ?? []).map((c) => [c.conversation_id, c]));
  for (const conv of state.conversations.values()) {
    const c = listed.get(conv.id);
    if (!conv.ended && (!c || c.state === 'ended')) onEnded(conv, { by: 'system', reason: c ? 'done' : 'gone' });
  }
  for (const [id, c] of listed) {
    if (state.conversations.has(id) || c.state !== 'active') continue;
    const record = { crypto: null, seq: 0, matchedAt: Date.now(), seeker: { tags: [], risk: 'none' } };
    createConversation(id, record, null, null, true);
  }
}

function identityStatus(text, isError = false) {
  const p = $('identity-status');
  p.textContent = text;
  p.hidden = !text;
  p.classList.toggle('error', isError);
}

// ---------------------------------------------------------------------------------------------
// Identity key and prekeys.
async function loadIdentity() {
  let id = await state.store.get('identity', 'self');
  if (!id) {
    id = e2e.identityKeyPair();
    await state.store.put('identity', 'self', id);
  }
  return id;
}

let onlineOnce = false;
async function onOnline() {
  // register_identity is idempotent (the same key again is ok), so it is repeated after every
  // reconnect: a key reset by an admin meanwhile is then noticed at once.
  try {
    await ask(state.conn, { type: 'register_identity', identity_key: e2e.toBase64(state.identity.publicKey) });
    state.identityOk = true;
    identityStatus('');
  } catch (err) {
    state.identityOk = false;
    if (err?.code === 'conflict') identityStatus(t('staff.identity.conflict'), true);
    else identityStatus(t('staff.identity.failed', { why: errorText(err) }), true);
    updateShiftButtons();
    return;
  }
  updateShiftButtons();
  refreshSummary();
  if (!onlineOnce) {
    onlineOnce = true;
    $('summary-refresh').addEventListener('click', refreshSummary);
    // A few fresh prekeys per page load; the answer tells how many the server holds, and
    // prekeys_low tops them up from then on.
    await uploadPrekeys(5);
  }
}

// The peer's own figures (today, this week): only ever its own, never anyone else's.
async function refreshSummary() {
  try {
    const s = await ask(state.conn, { type: 'my_summary' });
    const hours = (seconds) => formatDuration(seconds * 1000);
    $('summary-text').textContent = t('peer.summary.text', {
      chats: s.today.chats, hours: hours(s.today.seconds_on_shift),
      week_chats: s.week.chats, week_hours: hours(s.week.seconds_on_shift),
    });
  } catch { /* optional: the rest of the console works without it */ }
}

async function uploadPrekeys(n) {
  if (!state.identityOk) return;
  if (state.uploading) return state.uploading;
  state.uploading = (async () => {
    const created = Date.now();
    const pairs = Array.from({ length: n }, () => e2e.kxKeyPair());
    const keys = pairs.map((p) => ({
      prekey: e2e.toBase64(p.publicKey),
      signature: e2e.signPrekey(p.publicKey, state.identity.privateKey),
    }));
    // Secrets first: the server may hand a prekey out the moment it has it.
    await state.store.putMany('prekeys', pairs.map((p, i) => [keys[i].prekey, { ...p, created }]));
    try {
      await ask(state.conn, { type: 'prekeys', keys });
    } catch (err) {
      if (err?.code === 'conflict') identityStatus(t('staff.identity.conflict'), true);
      return;
    }
    await prunePrekeys();
  })().finally(() => { state.uploading = null; });
  return state.uploading;
}

async function prunePrekeys() {
  const all = await state.store.all('prekeys');
  if (all.length <= PREKEYS_KEPT + PREKEY_BATCH) return;
  const keys = await state.store.keys('prekeys');
  const order = all.map((v, i) => [v.created ?? 0, keys[i]]).sort((a, b) => b[0] - a[0]);
  for (const [, key] of order.slice(PREKEYS_KEPT)) await state.store.delete('prekeys', key);
}

// ---------------------------------------------------------------------------------------------
// Shift.
function renderShiftChoices() {
  const lang = document.documentElement.lang || 'en';
  // Re-rendered on a language change: keep what the peer had ticked.
  const ticked = new Set([...document.querySelectorAll('input[name=shift-tag]:checked, input[name=shift-lang]:checked')]
    .map((i) => `${i.name}:${i.value}`));
  const first = ticked.size === 0;
  const tagBox = $('shift-tags');
  tagBox.querySelectorAll('.choice').forEach((n) => n.remove());
  for (const tag of state.config?.tags ?? []) {
    const id = `shift-tag-${tag.id}`;
    const label = tag.labels?.[lang] ?? tag.labels?.en ?? tag.id;
    const row = el('p', { class: 'choice' }, [
      el('input', { type: 'checkbox', id, name: 'shift-tag', value: tag.id, checked: ticked.has(`shift-tag:${tag.id}`) }),
      el('label', { for: id }, label),
    ]);
    tagBox.append(row);
  }
  const langBox = $('shift-langs');
  langBox.querySelectorAll('.choice').forEach((n) => n.remove());
  for (const l of state.config?.languages ?? []) {
    const id = `shift-lang-${l.id}`;
    langBox.append(el('p', { class: 'choice' }, [
      el('input', { type: 'checkbox', id, name: 'shift-lang', value: l.id, checked: first ? l.id === lang : ticked.has(`shift-lang:${l.id}`) }),
      el('label', { for: id }, l.label ?? l.id),
    ]));
  }
}

let shiftState = 'off';
function wireShift() {
  const error = $('shift-error');
  const run = async (frame) => {
    showError(error, '');
    try {
      await ask(state.conn, frame);
    } catch (err) {
      const detail = err?.code === 'bad_message' && err.message ? ` (${err.message})` : '';
      showError(error, errorText(err) + detail);
    }
  };
  $('shift-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const capacity = Number.parseInt($('shift-capacity').value, 10);
    const tags = [...document.querySelectorAll('input[name=shift-tag]:checked')].map((i) => i.value);
    const languages = [...document.querySelectorAll('input[name=shift-lang]:checked')].map((i) => i.value);
    if (!(capacity >= 1 && capacity <= 5)) return showError(error, t('staff.shift.bad_capacity'));
    if (!tags.length) return showError(error, t('staff.shift.need_tag'));
    if (!languages.length) return showError(error, t('staff.shift.need_lang'));
    run({ type: 'shift_start', capacity, tags, languages });
  });
  $('shift-pause').addEventListener('click', () => run({ type: 'shift_pause' }));
  $('shift-resume').addEventListener('click', () => run({ type: 'shift_resume' }));
  $('shift-end').addEventListener('click', () => run({ type: 'shift_end' }));
  updateShiftButtons();
}

function onShift(ev) {
  shiftState = ev.state;
  const p = $('shift-state');
  p.dataset.state = ev.state;
  p.textContent = t(`staff.shift.state.${ev.state}`, { active: ev.active, capacity: ev.capacity });
  updateShiftButtons();
}

function updateShiftButtons() {
  const ok = state.identityOk;
  $('shift-start').disabled = !ok || shiftState === 'ending';
  $('shift-start').textContent = t(shiftState === 'off' ? 'staff.shift.start' : 'staff.shift.update');
  $('shift-pause').disabled = shiftState !== 'on';
  $('shift-resume').disabled = shiftState !== 'paused';
  $('shift-end').disabled = !(shiftState === 'on' || shiftState === 'paused');
}

// ---------------------------------------------------------------------------------------------
// Frames.
async function onFrame(f) {
  const conv = f.conversation_id ? state.conversations.get(f.conversation_id) : null;
  switch (f.type) {
    case 'shift': refreshSummary(); return onShift(f);
    case 'prekeys_low': return uploadPrekeys(PREKEY_BATCH);
    case 'matched': if (f.seeker) await onMatched(f); return;
    case 'message': return conv?.chat.receive(f);
    case 'receipt': return conv?.chat.receipt(f);
    case 'typing': return conv?.chat.showTyping(f);
    case 'ended': return conv && onEnded(conv, f);
    case 'joined': return conv && onJoined(conv, f);
    case 'consult_reply': return onConsultReply(f);
    default: return undefined;
  }
}

async function onMatched(f) {
  if (state.conversations.has(f.conversation_id)) return;
  const pair = await state.store.get('prekeys', f.prekey);
  let crypto = null;
  if (pair) {
    try {
      crypto = e2e.ConversationCrypto.forPeer(f.conversation_id, pair, state.identity.publicKey, f.seeker.pubkey);
    } catch { crypto = null; }
  }
  const record = {
    crypto: crypto ? crypto.toJSON() : null,
    seq: 0,
    matchedAt: Date.now(),
    seeker: { tags: f.seeker.tags, shared_tags: f.seeker.shared_tags, waited_s: f.seeker.waited_s, risk: f.seeker.risk },
  };
  // One prekey, one conversation: its secret leaves the prekey store and lives on only as this
  // conversation's key material (kept so a reload can still read the conversation).
  await state.store.put('conversations', f.conversation_id, record);
  if (pair) await state.store.delete('prekeys', f.prekey);
  const conv = createConversation(f.conversation_id, record, crypto, f.intake ?? null);
  announce(t('staff.conv.new_announce', { risk: t(`level.${record.seeker.risk}`) }), { assertive: levelRank(record.seeker.risk) >= 3 });
  if (state.conversations.size === 1 || !document.querySelector('#conversations [role=tab][aria-selected=true]')) selectTab(conv);
}

// Conversations in progress when the tab was reloaded: the keys come back from IndexedDB and the
// connection's resume + sync brings back the seeker's messages (not our own: the server skips a
// reader's own messages, and their text was never stored here).
async function restoreConversations() {
  const keys = await state.store.keys('conversations');
  for (const id of keys) {
    const record = await state.store.get('conversations', id);
    let crypto = null;
    try { crypto = record.crypto ? e2e.ConversationCrypto.fromJSON(record.crypto) : null; } catch { crypto = null; }
    const conv = createConversation(id, record, crypto, null, true);
    conv.chat.system(t('staff.conv.restored'));
    // Read it again from the start: this page's copy of the messages went with the old page.
    state.conn.forget(id);
  }
  const first = state.conversations.values().next().value;
  if (first) selectTab(first);
}

function createConversation(id, record, crypto, intake, restored = false) {
  const n = state.nextIndex++;
  const tabs = $('conversation-tabs');
  const tags = record.seeker.tags ?? [];
  const tab = el('button', {
    type: 'button', role: 'tab', id: `conv-tab-${n}`, 'aria-controls': `conv-panel-${n}`,
    'aria-selected': 'false', tabindex: '-1', dataset: { conversation: id, risk: record.seeker.risk },
  });
  const tabLabel = el('span', { class: 'tab-label' });
  const tabBadge = el('span', { class: 'tab-badge' });
  tab.append(tabLabel, tabBadge);
  tabs.append(tab);

  const panel = el('section', {
    role: 'tabpanel', id: `conv-panel-${n}`, 'aria-labelledby': `conv-tab-${n}`,
    tabindex: '0', hidden: true, class: 'conversation', dataset: { conversation: id },
  });
  const facts = el('dl', { class: 'facts' });
  const fact = (key, cls, value) => facts.append(el('dt', { dataset: { i18n: key } }, t(key)), el('dd', { class: cls }, value));
  fact('staff.conv.topics', 'tags', tags.map(tagLabel).join(', '));
  fact('staff.conv.risk', 'risk', t(`level.${record.seeker.risk ?? 'none'}`));
  fact('staff.conv.waited', 'waited', formatDuration((record.seeker.waited_s ?? 0) * 1000));
  fact('staff.conv.duration', 'duration', formatDuration(Date.now() - record.matchedAt));
  fact('staff.conv.safety', 'safety-code', crypto?.safetyCode() ? e2e.formatSafetyCode(crypto.safetyCode()) : '—');
  facts.querySelector('.risk').dataset.level = record.seeker.risk ?? 'none';

  const intakeBox = el('div', { class: 'intake-box' }, [el('h3', { dataset: { i18n: 'staff.conv.intake' } }, t('staff.conv.intake'))]);
  const intakeText = el('p', { class: 'intake' });
  if (intake) markedText(intakeText, readMessage(intake, null).pieces);
  else intakeText.textContent = t(restored ? 'staff.conv.intake_gone' : 'staff.conv.no_intake');
  intakeBox.append(intakeText);

  const suggest = el('div', { class: 'suggest', role: 'alert', hidden: true }, [
    el('p', { class: 'suggest-text' }),
    el('button', { type: 'button', class: 'suggest-escalate', dataset: { i18n: 'staff.conv.suggest_button' } }, t('staff.conv.suggest_button')),
  ]);
  const actions = el('div', { class: 'actions', role: 'group', 'aria-label': t('staff.conv.actions'), 'data-i18n-attr': 'aria-label:staff.conv.actions' }, [
    el('button', { type: 'button', class: 'escalate danger', dataset: { i18n: 'staff.conv.escalate' } }, t('staff.conv.escalate')),
    el('button', { type: 'button', class: 'consult', dataset: { i18n: 'staff.conv.consult' } }, t('staff.conv.consult')),
    el('button', { type: 'button', class: 'transfer', dataset: { i18n: 'staff.conv.transfer' } }, t('staff.conv.transfer')),
    el('button', { type: 'button', class: 'block', dataset: { i18n: 'staff.conv.block' } }, t('staff.conv.block')),
    el('button', { type: 'button', class: 'end', dataset: { i18n: 'staff.conv.end' } }, t('staff.conv.end')),
    el('button', { type: 'button', class: 'close-tab', hidden: true, dataset: { i18n: 'staff.conv.close' } }, t('staff.conv.close')),
  ]);
  const status = el('p', { class: 'action-status', role: 'status' });
  const consultBox = el('div', { class: 'consult-box' }, [
    el('h3', { dataset: { i18n: 'staff.conv.consult_heading' } }, t('staff.conv.consult_heading')),
    el('ul', { class: 'consult-replies', 'aria-live': 'polite' }),
  ]);
  panel.append(facts, intakeBox, suggest, chatMarkup(`conv-${n}`), actions, status, consultBox);
  $('conversations').append(panel);

  const conv = { id, n, tab, tabLabel, tabBadge, panel, record, crypto, status, suggest, ended: false, alarm: 'none' };
  conv.chat = new ChatPanel({
    panel, conversationId: id, self: 'peer', connection: state.conn, crypto: crypto ?? noCrypto(),
    langs: null, // every lexicon language: a seeker may write in any of them
    nextSeq: async () => { record.seq += 1; await state.store.put('conversations', id, record); return record.seq; },
    onAlarm: (reading, offset) => onAlarm(conv, reading, offset),
  });
  if (!crypto) conv.chat.system(t('staff.conv.no_key'));
  setTabLabel(conv);
  state.conversations.set(id, conv);
  $('no-conversations').hidden = true;

  tab.addEventListener('click', () => selectTab(conv));
  tab.addEventListener('keydown', (ev) => tabKeys(ev, conv));
  suggest.querySelector('.suggest-escalate').addEventListener('click', () =>
    openEscalate(conv, { level: conv.alarm, category: conv.alarmCategory, offsets: conv.alarmOffsets ?? [] }));
  actions.querySelector('.escalate').addEventListener('click', () => openEscalate(conv, {}));
  actions.querySelector('.consult').addEventListener('click', () => openConsult(conv));
  actions.querySelector('.transfer').addEventListener('click', () =>
    confirmed('staff.conv.transfer_confirm') && act(conv, { type: 'transfer', conversation_id: id }, 'staff.conv.transferring'));
  actions.querySelector('.block').addEventListener('click', () =>
    confirmed('staff.conv.block_confirm') && act(conv, { type: 'block', conversation_id: id }, 'staff.conv.blocked'));
  actions.querySelector('.end').addEventListener('click', () =>
    confirmed('staff.conv.end_confirm') && act(conv, { type: 'end', conversation_id: id, reason: 'done' }, 'staff.conv.ending'));
  actions.querySelector('.close-tab').addEventListener('click', () => closeConversation(conv));
  return conv;
}

// A conversation whose prekey secret is not on this device (another browser, cleared storage):
// nothing can be read or sent, but it can still be transferred, escalated or ended.
function noCrypto() {
  const fail = () => { throw Object.assign(new Error('no_key'), { code: 'no_key' }); };
  return { decrypt: fail, encrypt: fail, addModerator: () => {}, toJSON: () => null, safetyCode: () => null };
}

const confirmed = (key) => window.confirm(t(key));

async function act(conv, frame, doneKey) {
  conv.status.textContent = '';
  try {
    await ask(state.conn, frame);
    conv.status.textContent = t(doneKey);
  } catch (err) {
    conv.status.textContent = errorText(err);
  }
}

function tagLabel(id) {
  const lang = document.documentElement.lang || 'en';
  const tag = state.config?.tags?.find((x) => x.id === id);
  return tag?.labels?.[lang] ?? tag?.labels?.en ?? id;
}

function setTabLabel(conv) {
  const tags = (conv.record.seeker.shared_tags?.length ? conv.record.seeker.shared_tags : conv.record.seeker.tags) ?? [];
  conv.tabLabel.textContent = t('staff.conv.tab', { n: conv.n, tags: tags.map(tagLabel).join(', ') });
  const level = levelRank(conv.alarm) > levelRank(conv.record.seeker.risk) ? conv.alarm : conv.record.seeker.risk;
  conv.tabBadge.textContent = conv.ended ? t('staff.conv.ended_badge')
    : (levelRank(level) >= 2 ? t(`level.${level}`) : '');
  conv.tab.dataset.risk = level ?? 'none';
}

function selectTab(conv) {
  for (const c of state.conversations.values()) {
    const on = c === conv;
    c.tab.setAttribute('aria-selected', String(on));
    c.tab.tabIndex = on ? 0 : -1;
    c.panel.hidden = !on;
    c.chat.setVisible(on);
  }
}

// Arrow keys move between tabs (WAI-ARIA tabs pattern, automatic activation).
function tabKeys(ev, conv) {
  const list = [...state.conversations.values()];
  const i = list.indexOf(conv);
  let next = null;
  if (ev.key === 'ArrowRight') next = list[(i + 1) % list.length];
  else if (ev.key === 'ArrowLeft') next = list[(i - 1 + list.length) % list.length];
  else if (ev.key === 'Home') next = list[0];
  else if (ev.key === 'End') next = list[list.length - 1];
  if (!next) return;
  ev.preventDefault();
  selectTab(next);
  next.tab.focus();
}

document.addEventListener('visibilitychange', () => {
  for (const c of state.conversations.values()) c.chat.maybeReceipt();
});

// The lexicon flagged a message from the seeker: high or imminent suggests escalating.
function onAlarm(conv, reading, offset) {
  if (reading.level === 'none') return;
  if (levelRank(reading.level) > levelRank(conv.alarm)) {
    conv.alarm = reading.level;
    conv.alarmCategory = reading.category;
    conv.alarmOffsets = [];
  }
  if (reading.level === conv.alarm) conv.alarmOffsets = [...(conv.alarmOffsets ?? []), offset];
  setTabLabel(conv);
  if (suggestsEscalation(conv.alarm) && !conv.ended) {
    conv.suggest.querySelector('.suggest-text').textContent =
      t('staff.conv.suggest', { level: t(`level.${conv.alarm}`), category: t(`category.${conv.alarmCategory}`) });
    conv.suggest.hidden = false;
  }
}

function onEnded(conv, f) {
  conv.ended = true;
  const reasonKey = `staff.ended.${f.reason}`;
  const reason = t(reasonKey) === reasonKey ? f.reason : t(reasonKey);
  conv.chat.end(t('staff.conv.ended', { by: t(`role.${f.by}`), reason }));
  conv.suggest.hidden = true;
  for (const b of conv.panel.querySelectorAll('.actions button')) {
    if (!b.classList.contains('escalate') && !b.classList.contains('consult')) b.disabled = true;
  }
  const close = conv.panel.querySelector('.close-tab');
  close.hidden = false;
  close.disabled = false;
  setTabLabel(conv);
  announce(t('staff.conv.ended_announce', { n: conv.n }));
  // Key material is no longer needed once the conversation is over.
  state.store.delete('conversations', conv.id).catch(() => {});
}

function onJoined(conv, f) {
  try {
    conv.crypto?.addModerator?.(f.moderator.pubkey);
    if (conv.crypto?.toJSON()) {
      conv.record.crypto = conv.crypto.toJSON();
      state.store.put('conversations', conv.id, conv.record).catch(() => {});
    }
  } catch { /* an unusable key: the moderator's messages will show as unreadable */ }
  conv.chat.names = { ...(conv.chat.names ?? {}), moderator: t('staff.msg.moderator_named', { alias: f.moderator.alias }) };
  conv.chat.system(t('staff.conv.joined', { alias: f.moderator.alias }));
}

function closeConversation(conv) {
  const list = [...state.conversations.values()];
  const i = list.indexOf(conv);
  conv.tab.remove();
  conv.panel.remove();
  state.conversations.delete(conv.id);
  state.conn.forget(conv.id); // no more syncs for it after a reconnect
  const next = list[i + 1] ?? list[i - 1];
  if (next && next !== conv) { selectTab(next); next.tab.focus(); }
  else $('no-conversations').hidden = false;
}

// ---------------------------------------------------------------------------------------------
// Escalation: the peer picks messages; they are sealed to each moderator on duty.
let escalating = null; // {conv, keys}

function wireDialogs() {
  for (const b of document.querySelectorAll('dialog .dialog-cancel')) {
    b.addEventListener('click', () => b.closest('dialog').close());
  }
  $('escalate-confirm').addEventListener('click', confirmEscalate);
  $('consult-send').addEventListener('click', sendConsult);
}

async function moderatorKeys() {
  const ok = await ask(state.conn, { type: 'moderator_keys' });
  return ok.keys ?? [];
}

async function openEscalate(conv, { level, category, offsets = [] }) {
  const dialog = $('escalate-dialog');
  escalating = { conv, keys: [] };
  $('escalate-level').value = levelRank(level) >= 1 ? level : 'high';
  $('escalate-category').value = category && category !== 'none' ? category : 'suicide_risk';
  $('escalate-note').value = '';
  showError($('escalate-error'), '');
  const list = dialog.querySelector('.excerpt-list');
  list.replaceChildren();
  const chosen = new Set(offsets.map(Number));
  conv.chat.messages.filter((m) => m.offset && typeof m.text === 'string').forEach((m) => {
    const id = `excerpt-${m.offset}`;
    list.append(el('li', {}, [
      el('input', { type: 'checkbox', name: 'excerpt', id, value: m.offset, checked: chosen.has(m.offset) }),
      el('label', { for: id }, [el('span', { class: 'from' }, `${conv.chat.nameOf(m.from)}: `), el('span', { class: 'text' }, m.text)]),
    ]));
  });
  if (!list.children.length) list.append(el('li', { class: 'muted', dataset: { i18n: 'staff.esc.no_messages' } }, t('staff.esc.no_messages')));
  const mods = $('escalate-moderators');
  mods.textContent = t('staff.esc.loading');
  dialog.showModal();
  try {
    escalating.keys = await moderatorKeys();
    mods.textContent = escalating.keys.length
      ? t('staff.esc.on_duty', { n: escalating.keys.length })
      : t('staff.esc.nobody');
  } catch (err) {
    mods.textContent = errorText(err);
  }
  for (const box of list.querySelectorAll('input[name=excerpt]')) box.disabled = !escalating.keys.length;
}

async function confirmEscalate() {
  const { conv, keys } = escalating ?? {};
  if (!conv) return;
  const error = $('escalate-error');
  const offsets = [...document.querySelectorAll('#escalate-dialog input[name=excerpt]:checked')].map((i) => Number(i.value));
  const frame = {
    type: 'escalate',
    conversation_id: conv.id,
    level: $('escalate-level').value,
    category: $('escalate-category').value,
  };
  const note = $('escalate-note').value.trim();
  if (note) frame.note = note;
  if (offsets.length && keys.length) {
    try {
      frame.excerpts = e2e.sealExcerpts(keys, excerptContent(conv.id, conv.chat.messages, offsets));
    } catch (err) {
      return showError(error, t(err?.code === 'too_long' ? 'staff.esc.too_long' : 'staff.esc.seal_failed'));
    }
    if (frameBytes(frame) > MAX_ESCALATE_BYTES) return showError(error, t('staff.esc.too_long'));
  }
  $('escalate-confirm').disabled = true;
  try {
    await ask(state.conn, frame);
    $('escalate-dialog').close();
    conv.status.textContent = t('staff.esc.sent');
    conv.suggest.hidden = true;
    announce(t('staff.esc.sent'));
  } catch (err) {
    showError(error, errorText(err));
  } finally {
    $('escalate-confirm').disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// "Ask a moderator": the question is sealed to each moderator on duty; replies are sealed to a
// key pair made for this one consult and kept in memory.
let consulting = null;

function openConsult(conv) {
  consulting = conv;
  $('consult-text').value = '';
  showError($('consult-error'), '');
  $('consult-dialog').showModal();
  $('consult-text').focus();
}

async function sendConsult() {
  const conv = consulting;
  const text = $('consult-text').value.trim();
  const error = $('consult-error');
  if (!conv || !text) return;
  $('consult-send').disabled = true;
  try {
    const keys = await moderatorKeys();
    if (!keys.length) { showError(error, t('staff.consult.nobody')); return; }
    const keyPair = e2e.kxKeyPair();
    const copies = keys.map((k) => ({ moderator_id: k.moderator_id, sealed: e2e.sealText(k.pubkey, text) }));
    const ok = await ask(state.conn, {
      type: 'consult', conversation_id: conv.id, pubkey: e2e.toBase64(keyPair.publicKey), copies,
    });
    state.consults.set(ok.consult_id, { keyPair, conv });
    conv.panel.querySelector('.consult-replies').append(
      el('li', { class: 'consult-question', dataset: { consult: ok.consult_id } }, [
        el('span', { class: 'from' }, `${t('staff.consult.you_asked')} `), el('span', { class: 'text' }, text)]));
    $('consult-dialog').close();
    conv.status.textContent = t('staff.consult.sent');
  } catch (err) {
    showError(error, errorText(err));
  } finally {
    $('consult-send').disabled = false;
  }
}

function onConsultReply(f) {
  const c = state.consults.get(f.consult_id);
  if (!c) return; // asked before a reload: its key pair is gone with the old page
  let text;
  try { text = e2e.openText(c.keyPair, f.sealed); } catch { text = null; }
  const li = el('li', { class: 'consult-reply', dataset: { consult: f.consult_id } }, [
    el('span', { class: 'from' }, `${t('staff.consult.reply_from', { who: f.moderator ?? t('role.moderator') })} `),
    el('span', { class: 'text' }, text ?? t('staff.msg.undecryptable')),
  ]);
  c.conv.panel.querySelector('.consult-replies').append(li);
  announce(t('staff.consult.reply_announce', { n: c.conv.n }));
}

// ---------------------------------------------------------------------------------------------
// Timers and language changes.
setInterval(() => {
  for (const c of state.conversations.values()) {
    if (c.ended) continue;
    const d = c.panel.querySelector('.duration');
    if (d) d.textContent = formatDuration(Date.now() - c.record.matchedAt);
  }
}, 1000);

function rerender() {
  if (state.config) renderShiftChoices();
  updateShiftButtons();
  for (const c of state.conversations.values()) setTabLabel(c);
}

main();
