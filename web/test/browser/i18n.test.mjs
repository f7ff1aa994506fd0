// i18n.test.mjs — the Spanish UI renders from the one catalog (web/lib/strings.json): chosen
// from the browser's language or from #lang-select, kept across a reload, axe-clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startStack, launchBrowser, newContext, newPage, PHONE, webDir,
  seriousViolations, describeViolations, consoleProblems, screenshot, waitFor,
} from './harness.mjs';

let stack;
let browser;
before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

function catalog() {
  return JSON.parse(fs.readFileSync(path.join(webDir, 'lib/strings.json'), 'utf8'));
}

// Every visible element with data-i18n whose catalog entry has no {placeholders} must show
// exactly the catalog's text in `lang`; returns the keys that do not (and the count checked).
async function untranslated(page, lang) {
  const strings = catalog()[lang];
  assert.ok(strings, `strings.json has no "${lang}" catalog`);
  const shown = await page.locator('[data-i18n]').evaluateAll((els) => els
    .filter((e) => e.getClientRects().length > 0)
    .map((e) => ({ key: e.dataset.i18n, text: e.textContent.trim() })));
  const wrong = [];
  let checked = 0;
  for (const { key, text } of shown) {
    const want = strings[key];
    if (typeof want !== 'string' || /\{[^}]*\}/.test(want)) continue;
    checked++;
    if (text !== want.trim()) wrong.push(key);
  }
  return { wrong, checked };
}

test('a browser set to Spanish gets the Spanish UI, topics included', async () => {
  const context = await newContext(browser, stack, { ...PHONE, locale: 'es-ES' });
  try {
    const page = await newPage(context);
    await page.goto('/');
    await page.locator('#start').waitFor({ state: 'visible' });
    await waitFor(async () => (await page.evaluate(() => document.documentElement.lang)).startsWith('es'),
      { what: '<html lang="es">' });
    const home = await untranslated(page, 'es');
    assert.ok(home.checked >= 3, `only ${home.checked} translatable elements seen on the home screen`);
    assert.deepEqual(home.wrong, [], 'elements not in Spanish');
    assert.equal(await page.locator('#lang-select').inputValue(), 'es');
    await screenshot(page, 'seeker-home-es');
    const v = await seriousViolations(page);
    assert.equal(v.length, 0, describeViolations(v));

    await page.locator('#start').click();
    // Topic labels come from /v1/config in the chosen language.
    await page.locator('input[name=tag][value=grief]').waitFor();
    const label = await page.locator('input[name=tag][value=grief]').evaluate((i) =>
      (i.labels && i.labels[0] ? i.labels[0].textContent : i.closest('label')?.textContent || '').trim());
    assert.match(label, /Duelo y pérdida/);
    const topics = await untranslated(page, 'es');
    assert.deepEqual(topics.wrong, [], 'elements not in Spanish');
    await screenshot(page, 'seeker-topics-es');
    assert.deepEqual(consoleProblems(context), []);
  } finally {
    await context.close();
  }
});

test('#lang-select switches to Spanish at once, and the choice survives a reload', async () => {
  const context = await newContext(browser, stack, PHONE);
  try {
    const page = await newPage(context);
    await page.goto('/');
    await page.locator('#start').waitFor({ state: 'visible' });
    const english = (await page.locator('#start').textContent()).trim();
    assert.equal(english, catalog().en[await page.locator('#start').getAttribute('data-i18n')]?.trim());

    await page.locator('#lang-select').selectOption('es');
    await waitFor(async () => (await page.locator('#start').textContent()).trim() !== english,
      { what: '#start to change language' });
    assert.deepEqual((await untranslated(page, 'es')).wrong, []);

    await page.reload();
    await page.locator('#start').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#lang-select').inputValue(), 'es');
    assert.deepEqual((await untranslated(page, 'es')).wrong, []);
    assert.deepEqual(consoleProblems(context), []);
  } finally {
    await context.close();
  }
});

test('the catalog has every English key in Spanish too', () => {
  const { en, es } = catalog();
  const missing = Object.keys(en).filter((k) => !(k in es));
  assert.deepEqual(missing, [], 'keys missing from "es"');
});
