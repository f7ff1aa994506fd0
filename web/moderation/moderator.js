// moderator.js — the moderator console (/moderation): duty (watch with this tab's key pair), the
// live escalation list with timers and re-page alerts, acknowledge / resolve / join / ban,
// sealed excerpts opened on the device, joined conversations, and replies to peers' consults.
import * as e2e from '/lib/e2e.js';
import {
  t, el, announce, showError, errorText, initStrings, focusIfLost, loginForm, logout, forgetLogin, openConnection, ask,
  loadLexicon, ChatPanel, chatMarkup,
} from '/staff/common.js';
import { orderEscalations, formatDuration, levelRank } from '/staff/logic.js';

const $ = (id) => document.getElementById(id);
const BAN_DURATIONS = [3600, 86400, 604800, 2592000]; // 1 h, 1 day, 7 days, 30 days
const OUTCOMES = ['de_escalated', 'emergency_services', 'referred', 'false_alarm', 'other'];
const ALERTS_KEY = 'kindred.mod.alerts';

const state = {
  login: null,
  conn: null,
  // The watch key lives as long as this tab, in memory only: excerpts and consults sealed to it
  // can be opened here and nowhere else. A reconnect watches again with the same key.
  watchKeys: e2e.kxKeyPair(),
  // Off duty until the moderator says so (#duty-toggle); a reload keeps the choice for this tab.
  wantDuty: sessionStorage.getItem('kindred.mod.duty') === 'on',
  onDuty: false,
  escalations: new Map(), // id → {data, li, opened: Map(sealed → content|null)}
  joined: new Map(), // conversation id → {crypto, chat, section}
  consults: new Map(), // consult id → {data, li}
};

// ---------------------------------------------------------------------------------------------
async function main() {
  await initStrings(rerender);
  state.login = await loginForm('moderator');
  $('console').hidden = false;
  $('logout').hidden = false;
  focusIfLost($('duty-toggle'));
  $('logout').addEventListener('click', signOut);
  wireAlerts();
  setDuty(false, 'off');
  loadLexicon();

  state.conn = openConnection('moderator', state.login.token);
  state.conn.addEventListener('state', (ev) => {
    const s = ev.detail?.state ?? ev.detail;
    if (s === 'online') { if (state.wantDuty) watch(); }
    else if (state.wantDuty) setDuty(false, s === 'offline' ? 'off' : 'reconnecting');
  });
  state.conn.addEventListener('frame', (ev) => onFrame(ev.detail));
  state.conn.addEventListener('closed', (ev) => onClosed(ev.detail));
  state.conn.addEventListener('auth-failed', () => onClosed({ code: 4003, final: true }));
  state.conn.addEventListener('recovered', (ev) => {
    state.joined.get(ev.detail?.conversation_id)?.chat.system(t('staff.conv.not_recovered'));
  });
  $('duty-toggle').addEventListener('click', toggleDuty);
  state.conn.connect();
}

async function signOut() {
  state.conn?.close({ forget: true });
  await logout(state.login.token);
  location.reload();
}

function onClosed(detail) {
  if (!detail?.final || detail.code === 1000) return;
  const key = detail.code === 4001 ? 'staff.closed.taken_over' : 'staff.closed.signed_out';
  if (detail.code !== 4001) forgetLogin();
  showError($('console-status'), t(key));
  setDuty(false, 'off');
}

// ---------------------------------------------------------------------------------------------
// Duty: `watch` puts this console on duty (and replays every unresolved escalation); `unwatch`
// takes it off at once.
async function watch() {
  // Not connected yet: the 'online' handler watches as soon as the session is up.
  if (state.conn.state !== 'online') { setDuty(false, 'reconnecting'); return; }
  try {
    await ask(state.conn, { type: 'watch', pubkey: e2e.toBase64(state.watchKeys.publicKey) });
    setDuty(true);
    showError($('console-status'), '');
  } catch (err) {
    setDuty(false, 'off');
    showError($('console-status'), errorText(err));
  }
}

async function toggleDuty() {
  unlockAudio();
  state.wantDuty = !state.onDuty;
  sessionStorage.setItem('kindred.mod.duty', state.wantDuty ? 'on' : 'off');
  if (state.wantDuty) return watch();
  try {
    await ask(state.conn, { type: 'unwatch' });
    setDuty(false, 'off');
  } catch (err) {
    showError($('console-status'), errorText(err));
  }
}

function setDuty(on, why = on ? 'on' : 'off') {
  state.onDuty = on;
  const b = $('duty-toggle');
  b.setAttribute('aria-pressed', String(on));
  b.dataset.state = on ? 'on' : 'off';
  b.textContent = t(on ? 'mod.duty.off' : 'mod.duty.on');
  const p = $('duty-state');
  p.dataset.state = why;
  p.textContent = t(`mod.duty.state.${why}`);
}

// ---------------------------------------------------------------------------------------------
// Alerts: a short WebAudio beep and a blinking title for new urgent escalations and re-pages.
// The setting is remembered; with reduced motion the title is marked, not blinked.
let audio = null;
let blinkTimer = null;
const baseTitle = () => t('mod.title');
const reducedMotion = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches;

function wireAlerts() {
  const box = $('alert-setting');
  box.checked = localStorage.getItem(ALERTS_KEY) !== 'off';
  box.addEventListener('change', () => {
    localStorage.setItem(ALERTS_KEY, box.checked ? 'on' : 'off');
    if (!box.checked) stopTitleAlert();
    else unlockAudio();
  });
  // Browsers start audio only after a user gesture: the first click anywhere unlocks it.
  document.addEventListener('pointerdown', unlockAudio, { once: true });
  document.addEventListener('keydown', unlockAudio, { once: true });
  window.addEventListener('focus', stopTitleAlert);
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') stopTitleAlert(); });
}

function unlockAudio() {
  try {
    audio ??= new AudioContext();
    if (audio.state === 'suspended') audio.resume();
  } catch { audio = null; }
}

function beep(times) {
  if (!audio || audio.state !== 'running') return;
  const now = audio.currentTime;
  for (let i = 0; i < times; i++) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    const start = now + i * 0.35;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start(start);
    osc.stop(start + 0.3);
  }
}

function alertFor(esc, repaged) {
  const text = t(repaged ? 'mod.alert.repaged' : 'mod.alert.new', { level: t(`level.${esc.level}`), category: t(`category.${esc.category}`) });
  announce(text, { assertive: levelRank(esc.level) >= 3 });
  if (!$('alert-setting').checked) return;
  beep(esc.level === 'imminent' ? 3 : 1);
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  const mark = t('mod.alert.title');
  stopTitleAlert();
  if (reducedMotion()) { document.title = `${mark} ${baseTitle()}`; return; }
  let on = false;
  blinkTimer = setInterval(() => {
    on = !on;
    document.title = on ? `${mark} ${baseTitle()}` : baseTitle();
  }, 1000);
}

function stopTitleAlert() {
  clearInterval(blinkTimer);
  blinkTimer = null;
  document.title = baseTitle();
}

// ---------------------------------------------------------------------------------------------
function onFrame(f) {
  switch (f.type) {
    case 'escalation': return onEscalation(f.escalation);
    case 'consult': return onConsult(f);
    case 'message': return state.joined.get(f.conversation_id)?.chat.receive(f);
    case 'receipt': return state.joined.get(f.conversation_id)?.chat.receipt(f);
    case 'typing': return state.joined.get(f.conversation_id)?.chat.showTyping(f);
    case 'ended': {
      const j = state.joined.get(f.conversation_id);
      if (j && !j.chat.ended) j.chat.end(t('staff.conv.ended', { by: t(`role.${f.by}`), reason: f.reason }));
      return undefined;
    }
    default: return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Escalations.
function onEscalation(esc) {
  if (!esc?.id) return;
  let entry = state.escalations.get(esc.id);
  const isNew = !entry;
  const previous = entry?.data;
  if (!entry) {
    entry = { data: esc, li: buildEscalation(esc), opened: new Map() };
    state.escalations.set(esc.id, entry);
  }
  // An update that carries no excerpts keeps the ones already shown (they do not change).
  if (previous?.excerpts?.length && !esc.excerpts?.length) esc.excerpts = previous.excerpts;
  entry.data = esc;
  renderEscalation(entry);
  placeEscalations();
  const urgent = levelRank(esc.level) >= 3;
  if (esc.state === 'open' && isNew && urgent) alertFor(esc, false);
  else if (esc.state === 'open' && isNew) announce(t('mod.alert.new', { level: t(`level.${esc.level}`), category: t(`category.${esc.category}`) }));
  else if (esc.state === 'open' && previous && esc.repaged > (previous.repaged ?? 0)) alertFor(esc, true);
}

function buildEscalation(esc) {
  const li = el('li', { class: 'escalation', dataset: { id: esc.id } });
  const head = el('h3', { class: 'esc-head' }, [
    el('span', { class: 'level' }), ' · ', el('span', { class: 'category' }), ' · ', el('span', { class: 'source' }),
  ]);
  const facts = el('dl', { class: 'facts' });
  const fact = (key, cls) => facts.append(el('dt', { dataset: { i18n: key } }, t(key)), el('dd', { class: cls }));
  fact('mod.esc.age', 'age');
  fact('mod.esc.state', 'state');
  fact('mod.esc.repaged', 'repaged');
  fact('mod.esc.conversation', 'conversation');
  fact('mod.esc.peer', 'peer');
  const note = el('p', { class: 'note', hidden: true });
  const excerpts = el('div', { class: 'excerpts' });

  const n = esc.id;
  const outcome = el('select', { class: 'outcome', id: `outcome-${n}` },
    [el('option', { value: '', dataset: { i18n: 'mod.esc.choose_outcome' } }, t('mod.esc.choose_outcome')), ...OUTCOMES.map((o) => el('option', { value: o, dataset: { i18n: `outcome.${o}` } }, t(`outcome.${o}`)))]);
  const party = el('select', { class: 'ban-party', id: `ban-party-${n}` },
    ['seeker', 'peer'].map((p) => el('option', { value: p, dataset: { i18n: `role.${p}` } }, t(`role.${p}`))));
  const duration = el('select', { class: 'ban-duration', id: `ban-duration-${n}` },
    BAN_DURATIONS.map((s) => el('option', { value: s, selected: s === 86400, dataset: { i18n: `mod.ban.d${s}` } }, t(`mod.ban.d${s}`))));
  const actions = el('div', { class: 'actions' }, [
    el('button', { type: 'button', class: 'ack', dataset: { i18n: 'mod.esc.ack' } }, t('mod.esc.ack')),
    el('span', { class: 'inline-field' }, [el('label', { for: `outcome-${n}`, dataset: { i18n: 'mod.esc.outcome' } }, t('mod.esc.outcome')), outcome]),
    el('button', { type: 'button', class: 'resolve', dataset: { i18n: 'mod.esc.resolve' } }, t('mod.esc.resolve')),
    el('button', { type: 'button', class: 'join', dataset: { i18n: 'mod.esc.join' } }, t('mod.esc.join')),
  ]);
  const ban = el('div', { class: 'actions ban-row' }, [
    el('span', { class: 'inline-field' }, [el('label', { for: `ban-party-${n}`, dataset: { i18n: 'mod.ban.party' } }, t('mod.ban.party')), party]),
    el('span', { class: 'inline-field' }, [el('label', { for: `ban-duration-${n}`, dataset: { i18n: 'mod.ban.duration' } }, t('mod.ban.duration')), duration]),
    el('button', { type: 'button', class: 'ban danger', dataset: { i18n: 'mod.esc.ban' } }, t('mod.esc.ban')),
  ]);
  const status = el('p', { class: 'esc-status', role: 'status' });
  li.append(head, facts, note, excerpts, actions, ban, status);

  const run = async (frame, doneKey) => {
    status.textContent = '';
    try {
      await ask(state.conn, frame);
      if (doneKey) status.textContent = t(doneKey);
    } catch (err) {
      status.textContent = err?.code === 'conflict' ? t('mod.esc.conflict') : errorText(err);
    }
  };
  li.querySelector('.ack').addEventListener('click', () => {
    stopTitleAlert();
    run({ type: 'acknowledge', escalation_id: esc.id }, 'mod.esc.acked');
  });
  li.querySelector('.resolve').addEventListener('click', () => {
    if (!outcome.value) { status.textContent = t('mod.esc.need_outcome'); outcome.focus(); return; }
    run({ type: 'resolve', escalation_id: esc.id, outcome: outcome.value }, 'mod.esc.resolved');
  });
  li.querySelector('.join').addEventListener('click', () => join(state.escalations.get(esc.id).data, status));
  li.querySelector('.ban').addEventListener('click', () => {
    const data = state.escalations.get(esc.id).data;
    const who = t(`role.${party.value}`);
    const d = t(`mod.ban.d${duration.value}`);
    if (!window.confirm(t('mod.ban.confirm', { who, duration: d }))) return;
    run({ type: 'ban', conversation_id: data.conversation_id, party: party.value, duration_s: Number(duration.value) }, 'mod.ban.done');
  });
  return li;
}

function renderEscalation(entry) {
  const { data: e, li } = entry;
  li.dataset.level = e.level;
  li.dataset.state = e.state;
  li.querySelector('.level').textContent = t(`level.${e.level}`);
  li.querySelector('.category').textContent = t(`category.${e.category}`);
  li.querySelector('.source').textContent = t(`mod.source.${e.source}`);
  li.querySelector('.state').textContent = e.state === 'acknowledged' && e.acknowledged_by
    ? t('mod.state.acknowledged_by', { who: e.acknowledged_by })
    : (e.state === 'resolved' && e.outcome ? t('mod.state.resolved_as', { outcome: t(`outcome.${e.outcome}`) }) : t(`mod.state.${e.state}`));
  li.querySelector('.repaged').textContent = String(e.repaged ?? 0);
  li.querySelector('.conversation').textContent = e.conversation_id ?? t('mod.esc.queued');
  li.querySelector('.peer').textContent = e.peer ?? '—';
  const note = li.querySelector('.note');
  const noteText = e.note ?? (e.reason ? t(`mod.reason.${e.reason}`) : null);
  note.textContent = noteText ? t('mod.esc.note', { note: noteText }) : '';
  note.hidden = !noteText;
  updateAge(entry);
  renderExcerpts(entry);

  const resolved = e.state === 'resolved';
  li.querySelector('.ack').disabled = e.state !== 'open';
  li.querySelector('.resolve').disabled = resolved;
  li.querySelector('.outcome').disabled = resolved;
  li.querySelector('.join').disabled = !e.conversation_id || state.joined.has(e.conversation_id);
  li.querySelector('.ban').disabled = !e.conversation_id;
}

// Excerpts are sealed to the watch key of the console that was on duty when they were sent; a
// copy sealed to an earlier tab's key cannot be opened here.
function renderExcerpts(entry) {
  const box = entry.li.querySelector('.excerpts');
  const list = entry.data.excerpts ?? [];
  box.replaceChildren();
  if (!list.length) { box.append(el('p', { class: 'muted', dataset: { i18n: 'mod.esc.no_excerpts' } }, t('mod.esc.no_excerpts'))); return; }
  for (const x of list) {
    if (!entry.opened.has(x.sealed)) {
      let content = null;
      try { content = e2e.openExcerpt(state.watchKeys, x.sealed); } catch { content = null; }
      entry.opened.set(x.sealed, content);
    }
    const content = entry.opened.get(x.sealed);
    if (!content) { box.append(el('p', { class: 'muted', dataset: { i18n: 'mod.esc.excerpt_sealed' } }, t('mod.esc.excerpt_sealed'))); continue; }
    const ol = el('ol', { class: 'excerpt-messages', 'aria-label': t('mod.esc.excerpts'), 'data-i18n-attr': 'aria-label:mod.esc.excerpts' });
    for (const m of content.messages) {
      ol.append(el('li', { class: `excerpt-msg ${m.from}`, dataset: { offset: m.offset, from: m.from } }, [
        el('span', { class: 'from' }, `${t(`role.${m.from}`)}: `), el('span', { class: 'text' }, m.text)]));
    }
    box.append(ol);
  }
}

function updateAge(entry) {
  const e = entry.data;
  const age = entry.li.querySelector('.age');
  if (e.created_at) age.textContent = formatDuration(Date.now() - e.created_at);
  // Overdue: open past its next page time, so the list shows what needs a hand first.
  entry.li.classList.toggle('overdue', Boolean(e.state === 'open' && e.next_page_at && Date.now() > e.next_page_at));
}

// Keep the DOM in the list's order; nodes are moved only when the order changed, and focus is
// put back if a moved escalation held it.
function placeEscalations() {
  const list = $('escalations');
  const ordered = orderEscalations([...state.escalations.values()].map((x) => x.data)).map((d) => state.escalations.get(d.id).li);
  const current = [...list.children];
  $('no-escalations').hidden = ordered.some((li) => li.dataset.state !== 'resolved');
  if (ordered.length === current.length && ordered.every((li, i) => li === current[i])) return;
  const focused = document.activeElement;
  list.append(...ordered);
  if (focused && list.contains(focused) && document.activeElement !== focused) focused.focus();
}

setInterval(() => { for (const entry of state.escalations.values()) updateAge(entry); }, 1000);

// ---------------------------------------------------------------------------------------------
// Joining a conversation: a fresh key pair per join; the moderator reads only what is written
// after it joined.
async function join(esc, status) {
  const id = esc.conversation_id;
  if (!id) return;
  if (state.joined.has(id)) { state.joined.get(id).section.querySelector('.composer').focus(); return; }
  const own = e2e.kxKeyPair();
  let ok;
  try {
    ok = await ask(state.conn, { type: 'join', conversation_id: id, pubkey: e2e.toBase64(own.publicKey) });
  } catch (err) {
    status.textContent = errorText(err);
    return;
  }
  let crypto;
  try {
    crypto = e2e.ConversationCrypto.forModerator(id, own, ok.seeker_pubkey, ok.peer_prekey);
  } catch {
    status.textContent = t('mod.join.bad_keys');
    return;
  }
  const n = state.joined.size + 1;
  const section = el('section', { class: 'joined-conversation', dataset: { conversation: id }, 'aria-labelledby': `joined-h-${n}` });
  const close = el('button', { type: 'button', class: 'close-joined', dataset: { i18n: 'mod.join.close' } }, t('mod.join.close'));
  section.append(
    el('h3', { id: `joined-h-${n}` }, t('mod.join.heading', { id, peer: esc.peer ?? '—' })),
    el('p', { class: 'muted', dataset: { i18n: 'mod.join.explain' } }, t('mod.join.explain')),
    chatMarkup(`joined-${n}`),
    close,
  );
  $('joined').append(section);
  // seq counts per sender per conversation across re-joins; kept for the tab's life.
  const seqKey = `kindred.mod.seq.${id}`;
  const chat = new ChatPanel({
    panel: section, conversationId: id, self: 'moderator', connection: state.conn, crypto, langs: null,
    names: { seeker: t('role.seeker'), peer: esc.peer ? t('mod.join.peer_named', { peer: esc.peer }) : t('role.peer') },
    nextSeq: async () => {
      const next = Number(sessionStorage.getItem(seqKey) || '0') + 1;
      sessionStorage.setItem(seqKey, String(next));
      return next;
    },
  });
  chat.setVisible(true);
  state.joined.set(id, { crypto, chat, section });
  state.conn.follow(id, 0); // after a reconnect, sync what arrived while away (only post-join copies)
  close.addEventListener('click', () => {
    section.remove();
    state.joined.delete(id);
    state.conn.forget(id);
    for (const entry of state.escalations.values()) renderEscalation(entry);
  });
  for (const entry of state.escalations.values()) renderEscalation(entry);
  status.textContent = t('mod.join.done');
  section.querySelector('.composer').focus();
}

// ---------------------------------------------------------------------------------------------
// Consults: a peer's question sealed to our watch key; the reply is sealed to the consult's key.
function onConsult(f) {
  if (state.consults.has(f.consult_id)) return;
  let text = null;
  try { text = e2e.openText(state.watchKeys, f.sealed); } catch { text = null; }
  const n = state.consults.size + 1;
  const li = el('li', { class: 'consult', dataset: { id: f.consult_id } });
  const when = f.sent_at ? new Date(f.sent_at) : new Date();
  li.append(
    el('p', { class: 'consult-meta' }, t('mod.consult.from', {
      peer: f.peer ?? '—', conversation: f.conversation_id ?? '—',
      time: when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
    })),
    el('p', { class: 'text' }, text ?? t('mod.esc.excerpt_sealed')),
    el('ul', { class: 'consult-replies' }),
    el('label', { for: `consult-reply-${n}`, dataset: { i18n: 'mod.consult.reply_label' } }, t('mod.consult.reply_label')),
    el('textarea', { id: `consult-reply-${n}`, class: 'reply-text', rows: 2, maxlength: 4000 }),
    el('button', { type: 'button', class: 'reply', dataset: { i18n: 'mod.consult.reply' } }, t('mod.consult.reply')),
    el('p', { class: 'consult-status', role: 'status' }),
  );
  const box = li.querySelector('.reply-text');
  const status = li.querySelector('.consult-status');
  li.querySelector('.reply').addEventListener('click', async () => {
    const reply = box.value.trim();
    if (!reply) return;
    try {
      const sealed = e2e.sealText(f.pubkey, reply);
      await ask(state.conn, { type: 'consult_reply', consult_id: f.consult_id, sealed });
      li.querySelector('.consult-replies').append(el('li', {}, [
        el('span', { class: 'from' }, `${t('mod.consult.you_replied')} `), el('span', { class: 'text' }, reply)]));
      box.value = '';
      status.textContent = t('mod.consult.sent');
    } catch (err) {
      status.textContent = errorText(err);
    }
  });
  $('consults').prepend(li);
  $('no-consults').hidden = true;
  state.consults.set(f.consult_id, { data: f, li });
  announce(t('mod.consult.announce', { peer: f.peer ?? '' }));
  if ($('alert-setting').checked) beep(1);
}

// ---------------------------------------------------------------------------------------------
function rerender() {
  setDuty(state.onDuty, $('duty-state').dataset.state || 'off');
  for (const entry of state.escalations.values()) renderEscalation(entry);
  if (!blinkTimer) document.title = baseTitle();
}

main();
