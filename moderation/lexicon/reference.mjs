// reference.mjs — an independent JavaScript implementation written from SPEC.md alone, used to
// check the spec is complete: `node moderation/lexicon/reference.mjs` must print 0 mismatches.
// Not the client's implementation (that lives in web/); keep both in step with SPEC.md.
import fs from 'fs';
const dir = new URL('.', import.meta.url).pathname;
const L = {none:0,low:1,medium:2,high:3,imminent:4}, LN = Object.keys(L);
const FOLD = {};
const add = (chars, v) => { for (const c of chars) FOLD[c] = v; };
add('ÀÁÂÃÄÅàáâãäå','a'); add('Ææ','ae'); add('Çç','c'); add('ÈÉÊËèéêë','e'); add('ÌÍÎÏìíîï','i');
add('Ðð','d'); add('Ññ','n'); add('ÒÓÔÕÖØòóôõöø','o'); add('ÙÚÛÜùúûü','u'); add('Ýýÿ','y'); add('ß','ss');
const APOS = new Set([0x27,0x60,0xB4,0x2018,0x2019,0x2BC]);
const LEET = {'0':'o','1':'i','3':'e','4':'a','5':'s','7':'t','@':'a','$':'s'};
function finish(raw) {
  const has = /[a-z]/.test(raw); let out = '';
  for (let c of raw) { if (has && LEET[c]) c = LEET[c];
    if (c >= 'a' && c <= 'z' && out.endsWith(c)) continue; out += c; }
  return out;
}
export function normalise(text) {
  const toks = []; let raw = '';
  const flush = () => { if (raw) toks.push(finish(raw)); raw = ''; };
  for (const ch of text) { const cp = ch.codePointAt(0);
    if (ch >= 'A' && ch <= 'Z') raw += ch.toLowerCase();
    else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch === '@' || ch === '$') raw += ch;
    else if (APOS.has(cp) || (cp >= 0x300 && cp <= 0x36F)) {}
    else if (FOLD[ch]) raw += FOLD[ch];
    else flush(); }
  flush(); return toks;
}
function compile(ph) {
  const pieces = [];
  for (const w of ph.split(' ').filter(Boolean)) {
    if (w === '*') pieces.push({k:'gap'});
    else if (w.endsWith('*')) pieces.push({k:'pre', t: normalise(w.slice(0,-1))[0]});
    else for (const t of normalise(w)) pieces.push({k:'ex', t});
  }
  return pieces;
}
function matches(pieces, toks) {
  const out = [];
  const go = (i, pos, b) => {
    if (i === pieces.length) { out.push([b,pos]); return; }
    const p = pieces[i];
    if (p.k === 'gap') { for (let k = 0; k <= 3 && pos + k <= toks.length; k++) go(i+1, pos+k, b); return; }
    if (pos >= toks.length) return;
    if (p.k === 'ex' ? toks[pos] === p.t : toks[pos].startsWith(p.t)) go(i+1, pos+1, b);
  };
  for (let b = 0; b < toks.length; b++) go(0, b, b);
  return out;
}
export function assess(lex, code, text) {
  const lang = lex.languages.find(l => l.code === code);
  if (!lang) return {level:'none', category:'none', rule_ids:[]};
  const toks = normalise(text);
  const cues = new Set((lang.negation?.cues ?? []).map(c => normalise(c)[0]));
  const win = lang.negation?.window ?? 0;
  const masked = new Array(toks.length).fill(false);
  for (const ph of lang.benign ?? []) for (const [b,e] of matches(compile(ph), toks)) for (let k=b;k<e;k++) masked[k]=true;
  const found = [];
  lang.rules.forEach((r, ri) => { for (const ph of r.phrases) for (const [b,e] of matches(compile(ph), toks))
    if (!masked.slice(b,e).some(x=>x)) found.push({ri,b,e}); });
  for (const m of found) { m.neg = false; if (cues.has(toks[m.b])) continue;
    for (let k = Math.max(0, m.b - win); k < m.b; k++) if (cues.has(toks[k])) m.neg = true; }
  let best = null; const hit = new Set();
  for (const m of found) {
    const neg = m.neg || found.some(o => o.neg && o.b <= m.b && m.e <= o.e);
    const r = lang.rules[m.ri]; const lv = neg ? Math.min(L[r.level], 1) : L[r.level];
    hit.add(m.ri); const len = m.e - m.b;
    if (!best || lv > best.lv || (lv === best.lv && (len > best.len || (len === best.len && m.ri < best.ri)))) best = {lv, len, ri:m.ri};
  }
  return best ? {level: LN[best.lv], category: lang.rules[best.ri].category,
    rule_ids: [...hit].sort((a,b)=>a-b).map(i => lang.rules[i].id)} : {level:'none',category:'none',rule_ids:[...hit]};
}
const lex = JSON.parse(fs.readFileSync(dir+'lexicon.json','utf8'));
const vec = JSON.parse(fs.readFileSync(dir+'vectors.json','utf8'));
let bad = 0;
for (const v of vec.vectors) { const a = assess(lex, v.lang, v.text);
  if (a.level !== v.level || (v.level !== 'none' && a.category !== v.category)) { bad++; console.log('MISMATCH', v.lang, v.text, a.level, a.category, 'want', v.level, v.category); } }
console.log(`js: ${vec.vectors.length} vectors, ${bad} mismatches`);
process.exitCode = bad === 0 ? 0 : 1;
