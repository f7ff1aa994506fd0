// seeker.js — the seeker app: topics → queue → end-to-end encrypted chat → feedback, surviving drops and reloads.
//
// State lives in sessionStorage (this tab only; quick exit and closing the tab erase it), so a
// reload keeps the conversation: keys, transcript, pending sends. Message text is never logged.
import { KindredConnection } from '/lib/connection.js';
import { t, setLanguage, getLanguage, applyI18n, LANGUAGE_EVENT } from '/lib/i18n.js';
import { $, $$, el, show, announce, focus } from '/lib/ui.js';
import { assessAll, atLeast, loadLexicon } from '/lib/lexicon.js';

const STATE_KEY = 'kindred.seeker';
const SCREENS = ['welcome', 'topics', 'waiting', 'chat', 'feedback'];
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_SHOW_MS = 5000;

let config = null;
let lexicon = null;
let conn = null;
let convo = null; // ConversationCrypto of the current conversation
let e2e = null; // the e2e module, loaded on demand (libsodium is most of the page weight)
let state = loadState();

function loadState() {
  try {
    return JSON.parse(sessionStorage.getItem(STATE_KEY)) ?? { screen: 'welcome' };
  } catch {
    return { screen: 'welcome' };
  }
}
function save() {
  try { sessionStorage.setItem(STATE_KEY, JSON.stringify(state)); } catch { /* quota: keep going in memory */ }
}

// libsodium is ~430 kB: load it while the seeker reads the first screen, not before first paint.
function loadE2E() {
  if (!e2e) e2e = import('/lib/e2e.js');
  return e2e;
}

// ---------- screens ----------
function showScreen(name, { focusHeading = true } = {}) {
  state.screen = name;
  save();
  for (const s of SCREENS) show($(`#${s}`), s === name);
  if (focusHeading) focus($(`#${name} h1, #${name} legend, #${name} h2`));
}

// ---------- quick exit ----------
function quickExit() {
  // Leave first in spirit: nothing awaits the network. replace() keeps this page out of history.
  try { conn?.close({ forget: true }); } catch { /* leaving anyway */ }
  try { sessionStorage.clear(); } catch { /* blocked */ }
  try { localStorage.clear(); } catch { /* blocked */ }
  location.replace('/neutral.html');
}

// ---------- crisis resources ----------
function renderCrisis(list) {
  list.replaceChildren();
  const resources = config?.crisis_resources ?? [];
  if (!resources.length) {
    list.append(el('li', {}, t('crisis.unavailable')));
    return;
  }
  const lang = getLanguage();
  // Lines in the seeker's language first; we know no location (and ask for none).
  const sorted = [...resources].sort((a, b) => Number((b.languages ?? []).includes(lang)) - Number((a.languages ?? []).includes(lang)));
  for (const r of sorted) {
    const items = [el('strong', {}, r.name), el('span', { class: 'region' }, ` (${r.region})`)];
    const links = [];
    if (r.phone) links.push(el('a', { href: `tel:${r.phone.replace(/[^0-9+]/g, '')}` }, t('crisis.phone', { phone: r.phone })));
    if (r.sms) links.push(el('a', { href: `sms:${r.sms.replace(/[^0-9+]/g, '')}` }, t('crisis.sms', { sms: r.sms })));
    if (r.url && /^https:\/\//.test(r.url)) links.push(el('a', { href: r.url, rel: 'noopener noreferrer', target: '_blank' }, t('crisis.web')));
    list.append(el('li', {}, [...items, el('span', { class: 'links' }, links)]));
  }
}

function openCrisis() {
  const panel = $('#crisis-panel');
  renderCrisis($('#crisis-list'));
  show(panel, true);
  $('#crisis-link').setAttribute('aria-expanded', 'true');
  focus(panel);
}
function closeCrisis() {
  show($('#crisis-panel'), false);
  $('#crisis-link').setAttribute('aria-expanded', 'false');
  focus($('#crisis-link'));
}

// ---------- config and topics ----------
async function loadConfig() {
  try {
    const r = await fetch('/v1/config');
    if (!r.ok) throw new Error('config');
    config = await r.json();
  } catch {
    config = null;
  }
  renderTags();
}

function renderTags() {
  const box = $('#tag-list');
  if (!config) {
    box.replaceChildren(el('p', { class: 'error' }, t('topics.error')));
    return;
  }
  const lang = getLanguage();
  const chosen = new Set(state.tags ?? []);
  box.replaceChildren(...config.tags.map((tag) => {
    const id = `tag-${tag.id}`;
    return el('div', { class: 'tag' }, [
      el('input', { type: 'checkbox', name: 'tag', value: tag.id, id, checked: chosen.has(tag.id) }),
      el('label', { for: id }, tag.labels?.[lang] ?? tag.labels?.en ?? tag.id),
    ]);
  }));
}

function tagLabel(id) {
  const tag = config?.tags?.find((x) => x.id === id);
  return tag?.labels?.[getLanguage()] ?? tag?.labels?.en ?? id;
}

function updateIntakeCount() {
  $('#intake-count').textContent = t('intake.count', { n: [...$('#intake').value].length });
}

// ---------- connection ----------
function ensureConnection() {
  if (conn) return conn;
  conn = new KindredConnection({ role: 'seeker' });
  conn.addEventListener('state', (e) => renderConnState(e.detail.state));
  conn.addEventListener('frame', (e) => onFrame(e.detail).catch(() => {}));
  conn.addEventListener('ack', (e) => onAck(e.detail));
  conn.addEventListener('send-failed', (e) => onSendFailed(e.detail));
  conn.addEventListener('recovered', (e) => {
    if (e.detail.conversation_id === state.conversation?.id) {
      state.notRecovered = true;
      save();
      show($('#not-recovered'), true);
    }
  });
  conn.addEventListener('expired', () => {
    // The server forgot us (a long outage): whatever we were doing is gone, say so plainly.
    resetConversation();
    showNotice(t('conn.expired'));
    showScreen('welcome');
  });
  conn.addEventListener('closed', (e) => {
    if (!e.detail.final) return;
    if (e.detail.code === 4001) showNotice(t('conn.taken_over'));
    if (e.detail.code === 4005) showNotice(t('conn.banned'));
  });
  conn.addEventListener('auth-failed', () => showNotice(t('conn.banned')));
  conn.connect();
  return conn;
}

function renderConnState(s = conn?.state) {
  const p = $('#conn-state');
  p.dataset.state = s ?? 'offline';
  if (!s || s === 'online' || (s === 'offline' && !conn)) {
    show(p, false);
    return;
  }
  p.textContent = t(`conn.${s}`);
  show(p, true);
}

function showNotice(text) {
  const n = $('#notice');
  n.textContent = text;
  show(n, !!text);
}

// Refusals after which the request may still have been carried out.
const MAY_HAVE_ARRIVED = new Set(['unavailable', 'internal', 'disconnected', 'closed']);

function errorText(err) {
  if (err?.code === 'rate_limited') return t('error.rate_limited');
  if (err?.code === 'offline' || err?.code === 'disconnected') return t('error.offline');
  return t('error.generic');
}

// ---------- request / waiting ----------
async function submitRequest(ev) {
  ev.preventDefault();
  const errorBox = $('#topics-error');
  show(errorBox, false);
  const tags = $$('input[name=tag]:checked').map((i) => i.value);
  if (tags.length < 1 || tags.length > 5) {
    errorBox.textContent = t(tags.length ? 'topics.too_many' : 'topics.none');
    show(errorBox, true);
    return;
  }
  const intake = $('#intake').value.trim();
  const button = $('#request');
  button.disabled = true;
  try {
    const { kxKeyPair, exportKeyPair, importKeyPair, toBase64 } = await loadE2E();
    // Fresh for every request (E2E.md §1), but kept for the retry of one that may have been
    // queued all the same (answered unavailable, or cut off by a dropped socket): the queued
    // request holds this key, and the retry is then answered conflict ("already queued").
    if (!state.pendingKeys) state.pendingKeys = exportKeyPair(kxKeyPair());
    const keys = importKeyPair(state.pendingKeys);
    state.keys = state.pendingKeys; // before the ok: a `matched` may overtake it
    ensureConnection();
    await conn.whenOnline();
    const req = { type: 'request_match', tags, languages: [getLanguage()], pubkey: toBase64(keys.publicKey) };
    state.queue = null; // a queued event may arrive before the ok
    if (intake) req.intake = intake;
    await conn.request(req);
    state.pendingKeys = null;
    state.tags = tags;
    if (!state.queue) state.queue = { position: null, estimate: undefined };
    state.panicSent = false;
    state.requeued = false;
    $('#intake').value = '';
    updateIntakeCount();
    renderWaiting();
    showScreen('waiting');
  } catch (err) {
    if (!MAY_HAVE_ARRIVED.has(err?.code)) state.pendingKeys = null;
    if (err?.code === 'conflict') {
      // Already queued (the retry of a request Redis carried out late, or a double tap
      // before a reload): the waiting screen is the truth.
      state.tags = tags;
      showScreen('waiting');
    } else {
      errorBox.textContent = errorText(err);
      show(errorBox, true);
    }
  } finally {
    button.disabled = false;
  }
}

function renderWaiting() {
  const q = state.queue ?? {};
  $('#queue-position').textContent = q.position ? t('waiting.position', { n: q.position }) : t('waiting.position_unknown');
  let est = '';
  if (q.estimate === null) est = t('waiting.estimate_unknown');
  else if (typeof q.estimate === 'number') {
    const mins = Math.max(1, Math.round(q.estimate / 60));
    est = t('waiting.estimate', { t: q.estimate < 90 ? `${Math.max(5, Math.round(q.estimate / 5) * 5)} s` : `${mins} min` });
  }
  $('#queue-estimate').textContent = est;
  show($('#requeued-note'), !!state.requeued);
  show($('#panic-sent'), !!state.panicSent);
  $('#panic').disabled = !!state.panicSent;
  if (state.panicSent) renderCrisis($('#panic-crisis-list'));
}

async function cancelRequest({ broaden = false } = {}) {
  try {
    await conn?.request({ type: 'cancel_match' });
  } catch (err) {
    // not_found: nothing waiting any more (possibly just matched — the matched event decides).
    if (err.code !== 'not_found') {
      announce(errorText(err), { assertive: true });
      return;
    }
  }
  if (state.screen !== 'waiting') return; // matched in the meantime
  state.queue = null;
  show($('#broaden-note'), broaden);
  if (broaden) {
    renderTags();
    showScreen('topics');
  } else {
    showScreen('welcome');
  }
}

async function panic() {
  const button = $('#panic');
  button.disabled = true;
  $('#panic').textContent = t('panic.sending');
  try {
    ensureConnection();
    // Must get through: wait for the session rather than fail on a flaky network.
    await conn.request({ type: 'escalate', conversation_id: state.conversation?.id ?? null, level: 'imminent', category: 'suicide_risk' }, { waitOnline: true });
    state.panicSent = true;
    save();
    renderWaiting();
    focus($('#panic-sent'));
  } catch (err) {
    button.disabled = false;
    announce(errorText(err), { assertive: true });
    openCrisis(); // whatever happened on the network, the phone numbers are right here
  } finally {
    $('#panic').textContent = t('panic.button');
  }
}

// ---------- chat ----------
function resetConversation() {
  if (state.conversation) conn?.forget(state.conversation.id);
  convo = null;
  state.conversation = null;
  state.queue = null;
  state.panicSent = false;
  state.notRecovered = false;
  save();
}

async function onMatched(f) {
  if (!f.peer) return; // the peer's shape never reaches a seeker; be strict anyway
  const { ConversationCrypto, importKeyPair } = await loadE2E();
  if (!state.keys) return;
  try {
    convo = ConversationCrypto.forSeeker(f.conversation_id, importKeyPair(state.keys), f.peer);
  } catch {
    // bad_signature: the prekey is not the peer's. Refuse the match and end it.
    conn.request({ type: 'end', conversation_id: f.conversation_id, reason: 'bad_signature' }).catch(() => {});
    showNotice(t('chat.bad_signature'));
    showScreen('welcome');
    return;
  }
  state.conversation = {
    id: f.conversation_id,
    alias: f.peer.alias,
    sharedTags: f.peer.shared_tags ?? [],
    relaxed: !!f.relaxed,
    crypto: convo.toJSON(),
    nextSeq: 1,
    transcript: [],
    moderator: null,
  };
  state.requeued = false;
  conn.follow(f.conversation_id, 0);
  save();
  renderChat();
  showScreen('chat', { focusHeading: false });
  focus($('#composer'));
  announce(t('chat.with', { alias: f.peer.alias }));
}

function renderChatHead() {
  const c = state.conversation;
  if (!c) return;
  $('#peer-alias').textContent = t('chat.with', { alias: c.alias });
  $('#shared-tags').textContent = c.sharedTags.length ? t('chat.shared', { tags: c.sharedTags.map(tagLabel).join(', ') }) : '';
  show($('#relaxed-note'), c.relaxed);
  $('#safety-code').textContent = convo ? (formatCode(convo.safetyCode())) : '';
  show($('#not-recovered'), !!state.notRecovered);
}

function formatCode(code) {
  return code ? code.match(/.{1,4}/g).join(' ') : '';
}

function renderChat() {
  renderChatHead();
  const list = $('#messages');
  list.replaceChildren(...(state.conversation?.transcript ?? []).map(messageItem));
  scrollToEnd();
}

function messageItem(m) {
  if (m.system) return el('li', { class: 'msg system' }, [el('span', { class: 'text' }, systemText(m))]);
  const li = el('li', { class: `msg ${m.mine ? 'mine' : 'theirs'}`, dataset: m.offset ? { offset: m.offset } : {} }, [
    el('span', { class: 'who visually-hidden' }, m.mine ? t('chat.you') : m.from === 'moderator' ? state.conversation?.moderator ?? '' : state.conversation?.alias ?? ''),
    el('span', { class: 'text' }, m.text),
  ]);
  if (m.mine) li.append(el('span', { class: 'status', dataset: { status: m.status } }, t(`status.${m.status}`)));
  if (m.seq && m.mine) li.dataset.seq = m.seq;
  return li;
}

function systemText(m) {
  if (m.system === 'joined') return t('chat.joined', { alias: m.alias });
  if (m.system === 'undecryptable') return t('chat.undecryptable');
  return '';
}

function scrollToEnd() {
  const list = $('#messages');
  list.lastElementChild?.scrollIntoView({ block: 'end', behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
}

function addToTranscript(m) {
  const c = state.conversation;
  // Offset order is the conversation's order. A message that arrives through a sync after a
  // drop goes before our own sends still waiting for their offset (typed while offline).
  let at = c.transcript.length;
  if (m.offset) {
    const i = c.transcript.findIndex((e) => (e.offset && e.offset > m.offset) || (e.mine && !e.offset));
    if (i >= 0) at = i;
  }
  c.transcript.splice(at, 0, m);
  c.crypto = convo.toJSON(); // the replay window moved
  save();
  const list = $('#messages');
  const item = messageItem(m);
  if (at === c.transcript.length - 1) list.append(item);
  else list.insertBefore(item, list.children[at] ?? null);
  scrollToEnd();
}

function updateMine(seq, patch) {
  const c = state.conversation;
  const m = c?.transcript.find((x) => x.mine && x.seq === seq);
  if (!m) return;
  Object.assign(m, patch);
  save();
  const li = $(`#messages li.mine[data-seq="${seq}"]`);
  if (li) li.replaceWith(messageItem(m));
}

async function sendComposer(ev) {
  ev.preventDefault();
  const box = $('#composer');
  const text = box.value.trim();
  const c = state.conversation;
  if (!text || !c || !convo) return;
  const err = $('#chat-error');
  show(err, false);
  const seq = c.nextSeq;
  let copies;
  try {
    copies = convo.encrypt(seq, text);
  } catch (e) {
    err.textContent = e.code === 'too_long' ? t('chat.too_long') : t('error.generic');
    show(err, true);
    return;
  }
  c.nextSeq = seq + 1;
  checkCrisis(text);
  addToTranscript({ mine: true, seq, text, status: 'sending' });
  box.value = '';
  conn.sendMessage({ conversation_id: c.id, seq, copies }).catch(() => {});
}

function onAck({ conversation_id, seq, offset }) {
  if (conversation_id !== state.conversation?.id) return;
  const m = state.conversation.transcript.find((x) => x.mine && x.seq === seq);
  if (m && m.status === 'sending') updateMine(seq, { status: 'sent', offset });
  else if (m) updateMine(seq, { offset });
}

function onSendFailed({ conversation_id, seq }) {
  if (conversation_id !== state.conversation?.id) return;
  updateMine(seq, { status: 'failed' });
}

async function onMessage(f) {
  const c = state.conversation;
  if (!c || f.conversation_id !== c.id || !convo) return;
  // Already shown (live delivery, then the same message in a sync): drop before decrypting.
  if (c.transcript.some((m) => m.offset === f.offset)) return;
  let text;
  try {
    text = convo.decrypt(f);
  } catch (e) {
    if (e.code === 'replayed') return;
    addToTranscript({ system: 'undecryptable', offset: f.offset });
    return;
  }
  addToTranscript({ mine: false, from: f.from, offset: f.offset, text });
  show($('#typing'), false);
  if (document.visibilityState === 'visible') conn.notify({ type: 'receipt', conversation_id: c.id, offset: f.offset });
  else c.unreadReceipts = [...(c.unreadReceipts ?? []), f.offset];
}

function flushReceipts() {
  const c = state.conversation;
  if (!c?.unreadReceipts?.length || document.visibilityState !== 'visible') return;
  for (const offset of c.unreadReceipts) conn?.notify({ type: 'receipt', conversation_id: c.id, offset });
  c.unreadReceipts = [];
  save();
}

function onReceipt(f) {
  const c = state.conversation;
  if (!c || f.conversation_id !== c.id) return;
  // A receipt for offset n means the peer has read everything we sent up to n.
  for (const m of c.transcript) if (m.mine && m.offset && m.offset <= f.offset && m.status !== 'read') updateMine(m.seq, { status: 'read' });
}

let typingTimer = null;
function onTyping(f) {
  const c = state.conversation;
  if (!c || f.conversation_id !== c.id || f.from === 'seeker') return;
  const who = f.from === 'moderator' ? c.moderator ?? '' : c.alias;
  const p = $('#typing');
  p.textContent = t('chat.typing', { alias: who });
  show(p, true);
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => show(p, false), TYPING_SHOW_MS);
}

let lastTypingSent = 0;
function onComposerInput() {
  const c = state.conversation;
  const now = Date.now();
  if (c && now - lastTypingSent > TYPING_SEND_EVERY_MS && $('#composer').value) {
    lastTypingSent = now;
    conn?.notify({ type: 'typing', conversation_id: c.id });
  }
  clearTimeout(crisisTimer);
  crisisTimer = setTimeout(() => checkCrisis($('#composer').value), 600);
}

// On-device lexicon: the seeker's own words never leave the device for this check.
let crisisTimer = null;
function checkCrisis(text) {
  if (!lexicon || !text) return;
  const r = assessAll(lexicon, text);
  if (atLeast(r.risk, 'medium') && $('#crisis-hint').hidden) {
    state.crisisHint = true;
    save();
    show($('#crisis-hint'), true);
  }
}

async function onJoined(f) {
  const c = state.conversation;
  if (!c || f.conversation_id !== c.id || !convo) return;
  try {
    convo.addModerator(f.moderator.pubkey);
  } catch {
    return;
  }
  c.moderator = f.moderator.alias;
  addToTranscript({ system: 'joined', alias: f.moderator.alias });
}

function onEnded(f) {
  const c = state.conversation;
  if (!c || f.conversation_id !== c.id) return;
  // Feedback may be given once for this (ended) conversation; the id stays in this tab only.
  state.feedbackFor = c.id;
  state.rated = null;
  state.feeling = null;
  state.feedbackSent = false;
  if (f.reason === 'peer_unavailable' || f.reason === 'transfer') {
    // The server re-queues us with the same key pair (E2E.md §1): wait for the next match.
    resetConversation();
    state.requeued = true;
    state.queue = { position: null, estimate: undefined };
    save();
    renderWaiting();
    showScreen('waiting');
    return;
  }
  const reasonKey = f.reason === 'banned' ? 'chat.ended.banned' : f.reason === 'done' ? 'chat.ended.done' : 'chat.ended.other';
  resetConversation();
  state.endedNote = reasonKey;
  save();
  showFeedback();
}

function showFeedback() {
  $('#ended-note').textContent = t(state.endedNote ?? 'chat.ended.done');
  show($('#feedback-thanks'), !!state.feedbackSent);
  for (const b of $$('button[data-rating]')) {
    b.setAttribute('aria-label', t('feedback.rating', { n: b.dataset.rating }));
    b.setAttribute('aria-pressed', String(state.rated === Number(b.dataset.rating)));
    b.disabled = !!state.feedbackSent;
  }
  for (const b of $$('button[data-feeling]')) {
    b.setAttribute('aria-pressed', String(state.feeling === b.dataset.feeling));
    b.disabled = !!state.feedbackSent;
  }
  $('#feedback-send').disabled = !!state.feedbackSent || !state.feedbackFor || (!state.rated && !state.feeling);
  showScreen('feedback');
}

// The optional post-chat feedback: one `feedback` message for the ended conversation, counted
// by the server only in anonymous daily totals. Skipping it is always fine.
async function sendFeedback() {
  if (!state.feedbackFor || state.feedbackSent || (!state.rated && !state.feeling)) return;
  const msg = { type: 'feedback', conversation_id: state.feedbackFor };
  if (state.rated) msg.helped = state.rated;
  if (state.feeling) msg.feeling = state.feeling;
  $('#feedback-send').disabled = true;
  show($('#feedback-error'), false);
  try {
    await conn.request(msg, { waitOnline: true });
    state.feedbackSent = true;
  } catch (err) {
    // Already given (another tab) counts as done; anything else may be tried again.
    if (err?.code === 'conflict') state.feedbackSent = true;
    else {
      $('#feedback-error').textContent = t('feedback.failed');
      show($('#feedback-error'), true);
    }
  }
  save();
  showFeedback();
  if (state.feedbackSent) focus($('#feedback-thanks'));
}

async function endChat() {
  const c = state.conversation;
  if (!c) return;
  // No confirm(): a blocking dialog is hostile on a phone, and a new chat is one tap away.
  try {
    await conn.request({ type: 'end', conversation_id: c.id, reason: 'done' }, { waitOnline: true });
  } catch { /* the ended event or a later sync settles it */ }
  onEnded({ conversation_id: c.id, reason: 'done', by: 'seeker' });
}

async function sendReport(ev) {
  ev.preventDefault();
  const c = state.conversation;
  if (!c) return;
  try {
    await conn.request({ type: 'report', conversation_id: c.id, reason: $('#report-reason').value });
    show($('#report-form'), false);
    announce(t('report.sent'));
    showNotice(t('report.sent'));
    focus($('#composer'));
  } catch (err) {
    announce(errorText(err), { assertive: true });
  }
}

// ---------- frames ----------
async function onFrame(f) {
  switch (f.type) {
    case 'queued':
      // May arrive before the request's ok has been handled: keep it either way.
      if (state.conversation) return;
      state.queue = { position: f.position, estimate: f.estimated_wait_s ?? null };
      save();
      if (state.screen === 'waiting') renderWaiting();
      return;
    case 'matched': return onMatched(f);
    case 'message': return onMessage(f);
    case 'receipt': return onReceipt(f);
    case 'typing': return onTyping(f);
    case 'joined': return onJoined(f);
    case 'ended': return onEnded(f);
    default:
  }
}

// ---------- boot ----------
function rerenderDynamic() {
  $('#lang-select').value = getLanguage();
  renderTags();
  updateIntakeCount();
  renderConnState();
  if (state.screen === 'waiting') renderWaiting();
  if (state.screen === 'chat') renderChat();
  if (state.screen === 'feedback') showFeedback();
  if (!$('#crisis-panel').hidden) renderCrisis($('#crisis-list'));
}

async function boot() {
  applyI18n(document);
  document.documentElement.lang = getLanguage();
  $('#lang-select').value = getLanguage();
  $('#lang-select').addEventListener('change', (e) => setLanguage(e.target.value));
  document.addEventListener(LANGUAGE_EVENT, rerenderDynamic);
  $('#quick-exit').addEventListener('click', quickExit);
  $('#crisis-link').addEventListener('click', () => ($('#crisis-panel').hidden ? openCrisis() : closeCrisis()));
  $('#crisis-close').addEventListener('click', closeCrisis);
  $('#crisis-hint-link').addEventListener('click', openCrisis);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !$('#crisis-panel').hidden) closeCrisis(); });
  $('#start').addEventListener('click', () => { show($('#broaden-note'), false); showScreen('topics'); });
  $('#topics-form').addEventListener('submit', submitRequest);
  $('#intake').addEventListener('input', updateIntakeCount);
  $('#cancel').addEventListener('click', () => cancelRequest());
  $('#broaden').addEventListener('click', () => cancelRequest({ broaden: true }));
  $('#panic').addEventListener('click', panic);
  $('#composer-form').addEventListener('submit', sendComposer);
  $('#composer').addEventListener('input', onComposerInput);
  $('#composer').addEventListener('keydown', (e) => {
    // Enter sends, Shift+Enter makes a new line (phones keep their own Enter behaviour via the button).
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('#composer-form').requestSubmit(); }
  });
  $('#end').addEventListener('click', endChat);
  $('#report').addEventListener('click', () => { show($('#report-form'), true); focus($('#report-reason')); });
  $('#report-cancel').addEventListener('click', () => { show($('#report-form'), false); focus($('#report')); });
  $('#report-form').addEventListener('submit', sendReport);
  for (const b of $$('button[data-rating]')) {
    b.addEventListener('click', () => {
      state.rated = Number(b.dataset.rating);
      save();
      showFeedback();
    });
  }
  for (const b of $$('button[data-feeling]')) {
    b.addEventListener('click', () => {
      state.feeling = b.dataset.feeling;
      save();
      showFeedback();
    });
  }
  $('#feedback-send').addEventListener('click', sendFeedback);
  $('#again').addEventListener('click', () => {
    state.endedNote = null; state.rated = null; state.feeling = null;
    state.feedbackFor = null; state.feedbackSent = false;
    save(); showScreen('topics');
  });
  document.addEventListener('visibilitychange', flushReceipts);

  updateIntakeCount();
  const screen = SCREENS.includes(state.screen) ? state.screen : 'welcome';
  for (const s of SCREENS) show($(`#${s}`), s === screen);
  loadConfig();
  loadLexicon().then((l) => { lexicon = l; });
  loadE2E(); // warm up libsodium in the background

  // A reload in the middle of a request or a chat: restore and resume the same session.
  if (screen === 'waiting' || screen === 'chat') {
    if (screen === 'chat' && state.conversation) {
      const { ConversationCrypto } = await loadE2E();
      convo = ConversationCrypto.fromJSON(state.conversation.crypto);
      renderChat();
      show($('#crisis-hint'), !!state.crisisHint);
    } else {
      renderWaiting();
    }
    ensureConnection();
  }
}

boot();
