// The counter: sign in, today's parcels, mark an arrival, confirm a handover (and its replay),
// a wrong code, too many wrong codes, pause/reopen, languages, sign out; and the first screen's
// transfer size.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  KEYS, MERCHANT, URL, arriveAndReadCode, http, keypad, launch, metric, ok, openTab, partner, phone,
  reservation, reserve, shot, signIn, until, wrongCode
} from './lib.js';

const SHOP = 'ES-E2E-SOL';
let browser;
let shop;
const parcels = {};

before(async () => {
  browser = await launch();
  shop = await partner(SHOP);
  parcels.waiting = await reserve(shop.id, 'ORD-1001', 'SKU-TEA');
  parcels.arriving = await reserve(shop.id, 'ORD-1002');
  parcels.second = await reserve(shop.id, 'ORD-1003', 'SKU-MUG');
  parcels.code = await arriveAndReadCode(shop.token, parcels.waiting.id);
  parcels.secondCode = await arriveAndReadCode(shop.token, parcels.second.id);
});

after(async () => { await browser?.close(); });

test('the first screen weighs at most 100 KB and loads on a slow 3G phone', async () => {
  const { context, page } = await phone(browser);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  // A cheap phone on a poor connection: 400 kbit/s down, 400 ms round trip.
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 400, downloadThroughput: 50 * 1024, uploadThroughput: 20 * 1024
  });
  const sizes = new Map();
  cdp.on('Network.responseReceived', (e) => sizes.set(e.requestId, { url: e.response.url, bytes: 0 }));
  cdp.on('Network.loadingFinished', (e) => {
    const entry = sizes.get(e.requestId);
    if (entry) entry.bytes = e.encodedDataLength;
  });
  const start = Date.now();
  await page.goto(`${URL}/partner/`, { waitUntil: 'load' });
  await page.getByRole('heading', { name: 'Sign in to your shop' }).waitFor();
  const loaded = Date.now() - start;
  await page.waitForLoadState('networkidle');
  const signInBytes = [...sizes.values()].reduce((n, e) => n + e.bytes, 0);
  const files = [...sizes.values()].map((e) => `${e.url.replace(URL, '')} ${e.bytes} B`);
  console.log(`first screen (sign-in): ${signInBytes} bytes transferred in ${sizes.size} responses, shown after ${loaded} ms on slow 3G`);
  console.log(`  ${files.join('\n  ')}`);
  assert.ok(signInBytes <= 100 * 1024, `sign-in screen transferred ${signInBytes} bytes`);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.getByLabel('Shop ID').fill(SHOP);
  await page.getByLabel('API key').fill(KEYS[SHOP]);
  await page.locator('#signin').click();
  await page.locator('#list-waiting li[data-parcel]').first().waitFor();
  await page.waitForLoadState('networkidle');
  const total = [...sizes.values()].reduce((n, e) => n + e.bytes, 0);
  console.log(`sign-in + Today with its data: ${total} bytes in ${sizes.size} responses`);
  assert.ok(total <= 100 * 1024, `sign-in and Today transferred ${total} bytes`);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the app files are served with content types, ETags and no-cache', async () => {
  const index = await fetch(`${URL}/partner/`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /^text\/html/);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  assert.equal(index.headers.get('content-encoding'), 'gzip');
  const etag = index.headers.get('etag');
  assert.match(etag, /^W\/"[0-9a-f]+-[0-9a-f]+"$/);
  const again = await fetch(`${URL}/partner/`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  const types = {
    'app.js': /^text\/javascript/, 'app.css': /^text\/css/, 'sw.js': /^text\/javascript/,
    'manifest.webmanifest': /^application\/manifest\+json/, 'icon.svg': /^image\/svg\+xml/
  };
  for (const [file, type] of Object.entries(types)) {
    const res = await fetch(`${URL}/partner/${file}`);
    assert.equal(res.status, 200, file);
    assert.match(res.headers.get('content-type'), type, file);
    assert.ok(res.headers.get('content-security-policy'), file);
  }
  const missing = await http('GET', '/partner/nope.js');
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get('content-type'), /^application\/problem\+json/);
});

test('sign in, see the waiting parcel, mark an arrival, confirm a handover and see the success', async () => {
  const { context, page } = await phone(browser);
  await page.goto(`${URL}/partner/`);
  await page.getByRole('heading', { name: 'Sign in to your shop' }).waitFor();
  await shot(page, '01-sign-in');

  // A wrong key first: a clear message, still on the sign-in screen.
  await page.getByLabel('Shop ID').fill(SHOP);
  await page.getByLabel('API key').fill('not-the-key');
  await page.locator('#signin').click();
  await page.getByText('The shop ID or the API key is wrong.').waitFor();

  await signIn(page, SHOP);
  const waiting = page.locator('#list-waiting');
  await waiting.getByText('Order ORD-1001').waitFor();
  await page.locator('#list-arriving').getByText('Order ORD-1002').waitFor();
  assert.equal(await page.locator('#n-waiting').textContent(), '2');
  assert.equal(await page.locator('#n-arriving').textContent(), '1');
  assert.match(await page.locator('#shop-name').textContent(), /Kiosko Sol/);
  assert.ok(await page.evaluate(() => sessionStorage.getItem('pudo.session')), 'token kept in sessionStorage');
  await shot(page, '02-today');

  // The parcel on its way reaches the counter: one tap.
  await page.getByRole('button', { name: /Arrived – Order ORD-1002/ }).click();
  await waiting.getByText('Order ORD-1002').waitFor();
  assert.equal((await reservation(parcels.arriving.id)).state, 'at_point');

  // The customer shows the code: typed on the keypad.
  await openTab(page, 'handover');
  await page.locator('.keypad [data-key="clear"]').click();
  for (const d of parcels.code) await page.locator(`.keypad [data-key="${d}"]`).click();
  assert.equal(await page.locator('#code').inputValue(), parcels.code);
  await shot(page, '03-handover-keypad');
  const before = await metric('pudo_handovers_total{outcome="success"}');
  await page.locator('#confirm').click();
  await page.getByRole('heading', { name: 'Hand over the parcel' }).waitFor();
  assert.equal(await page.locator('#result-main').textContent(), 'Order ORD-1001');
  assert.equal(await page.locator('#view-result').getAttribute('data-result'), 'ok');
  await shot(page, '04-handover-success');
  assert.equal((await reservation(parcels.waiting.id)).state, 'picked_up');
  assert.equal(await metric('pudo_handovers_total{outcome="success"}'), before + 1);

  // The same code again: the app says it was already handed over.
  await page.getByRole('button', { name: 'Next customer' }).click();
  await keypad(page, parcels.code);
  await page.getByRole('heading', { name: 'Already handed over' }).waitFor();
  assert.match(await page.locator('#result-detail').textContent(), /Do not hand anything over again/);
  await shot(page, '05-handover-replay');

  // Back on Today the parcel has left the waiting list.
  await openTab(page, 'today');
  await page.locator('#refresh').click();
  await waiting.getByText('Order ORD-1001').waitFor({ state: 'detached' });
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('a wrong code, typed with the keyboard, says so; the right one still works', async () => {
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await openTab(page, 'handover');
  const wrong = wrongCode([parcels.code, parcels.secondCode]);
  await page.locator('#code').focus();
  await page.keyboard.type(`${wrong.slice(0, 4)} ${wrong.slice(4)}`); // spaces are ignored
  assert.equal(await page.locator('#code').inputValue(), wrong);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Unknown code' }).waitFor();
  assert.match(await page.locator('#result-detail').textContent(), /Check the digits/);
  await shot(page, '06-handover-unknown');
  assert.equal((await reservation(parcels.second.id)).state, 'at_point');

  // Keyboard only: the result's heading has the focus, Tab reaches "Next customer"; digits
  // typed on the Handover screen go to the code (as a USB barcode scanner types them).
  assert.equal(await page.evaluate(() => document.activeElement.id), 'result-title');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'next');
  await page.keyboard.press('Enter');
  await page.locator('#view-handover').waitFor({ state: 'visible' });
  await page.keyboard.type(parcels.secondCode);
  assert.equal(await page.locator('#code').inputValue(), parcels.secondCode);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Hand over the parcel' }).waitFor();
  assert.equal(await page.locator('#result-main').textContent(), 'Order ORD-1003');
  await context.close();
});

test('too many wrong codes: the wait is shown and the keypad is blocked', async () => {
  const norte = await partner('ES-E2E-NORTE');
  const p = await reserve(norte.id, 'ORD-2001');
  const code = await arriveAndReadCode(norte.token, p.id);
  const { context, page } = await phone(browser);
  await signIn(page, 'ES-E2E-NORTE');
  await openTab(page, 'handover');
  let wrong = Number(wrongCode([code]));
  let answer = '';
  for (let i = 0; i < 8 && answer !== 'limit'; i++) {
    const attempt = String((wrong += 1111) % 100000000).padStart(8, '0');
    if (attempt === code) continue;
    await keypad(page, attempt);
    await page.locator('#view-result').waitFor({ state: 'visible' });
    answer = await page.locator('#view-result').getAttribute('data-result');
    if (answer !== 'limit') {
      assert.equal(answer, 'unknown');
      await page.getByRole('button', { name: 'Next customer' }).click();
    }
  }
  assert.equal(answer, 'limit');
  await page.getByRole('heading', { name: 'Too many wrong codes' }).waitFor();
  assert.match(await page.locator('#result-detail').textContent(), /blocked for \d+ min \d+ s|blocked for \d+ s/);
  await shot(page, '07-too-many-codes');
  await page.getByRole('button', { name: 'Next customer' }).click();
  // Even the right code waits: the keypad says how long.
  await page.locator('#code').fill(code);
  assert.ok(await page.locator('#confirm').isDisabled());
  assert.match(await page.locator('#blocked').textContent(), /Too many wrong codes\. Handovers are blocked for/);
  const server = await http('POST', '/v1/partner/handovers', { token: norte.token, json: { code } });
  assert.equal(server.status, 429);
  assert.ok(Number(server.headers.get('retry-after')) > 0);
  await context.close();
});

test('pause and reopen the shop', async () => {
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await openTab(page, 'shop');
  await page.getByText('Open', { exact: true }).waitFor();
  // The address and phone customers are given (issue 20).
  await page.locator('#shop-address').getByText('Calle Mayor 1, 28013 Madrid, Comunidad de Madrid, ES').waitFor();
  await page.getByText('+34 910 00 00 01').waitFor();
  await page.getByRole('button', { name: 'Pause the shop' }).click();
  await page.getByText('Paused', { exact: true }).waitFor();
  assert.equal((await ok('GET', '/v1/partner/shop', { token: shop.token })).status, 'paused');
  const refused = await http('POST', '/v1/reservations', { token: MERCHANT, json: { pickup_point_id: shop.id, order_ref: 'ORD-PAUSED' } });
  assert.equal(refused.status, 409);
  await shot(page, '08-shop-paused');
  await page.getByRole('button', { name: 'Reopen the shop' }).click();
  await page.getByText('Open', { exact: true }).waitFor();
  assert.equal((await ok('GET', '/v1/partner/shop', { token: shop.token })).status, 'active');
  await context.close();
});

test('the shop screen shows what customers are told: capabilities and photo, in three languages', async () => {
  const photo = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="#2a7"/></svg>';
  const expected = {
    'en-GB': ['Step-free access', 'Parking', 'Cash on delivery', 'ID checks', 'Open around the clock'],
    'zh-CN': ['无台阶通道', '可停车', '货到付款', '身份核验', '24 小时营业'],
    'es-ES': ['Acceso sin escalones', 'Aparcamiento', 'Pago contra reembolso', 'Verificación de identidad', 'Abierta las 24 horas'],
  };
  for (const [locale, names] of Object.entries(expected)) {
    const { context, page } = await phone(browser, { locale });
    await context.route('https://img.pudo.test/**', (route) => route.fulfill({ contentType: 'image/svg+xml', body: photo }));
    await signIn(page, 'ES-E2E-MAYOR');
    await openTab(page, 'shop');
    // Declared in the shop file (no opening hours: open around the clock), as the API says.
    const declared = (await ok('GET', '/v1/partner/shop', { token: (await partner('ES-E2E-MAYOR')).token })).capabilities;
    assert.deepEqual(declared, ['step_free', 'parking', 'cash_on_delivery', 'id_check', 'open_24_7']);
    await until(async () => (await page.locator('#shop-capabilities').textContent()) === names.join(', '), `capabilities in ${locale}`);
    const img = page.locator('#shop-photo');
    assert.equal(await img.getAttribute('src'), 'https://img.pudo.test/shops/mayor.svg');
    assert.match(await img.getAttribute('alt'), /Farmacia Plaza Mayor/);
    await until(() => img.evaluate((el) => el.complete && el.naturalWidth > 0), 'photo loaded');
    if (locale === 'en-GB') await shot(page, '26-shop-capabilities');
    assert.deepEqual(page.errors, []);
    await context.close();
  }
  // A shop declaring nothing: said so, and no photo.
  const { context, page } = await phone(browser);
  await signIn(page, 'ES-E2E-PUENTE');
  await openTab(page, 'shop');
  await page.locator('#shop-capabilities').getByText('Nothing declared').waitFor();
  assert.equal(await page.locator('#shop-photo').count(), 0);
  await context.close();
});

test('Chinese and Spanish: from the browser language, and switched in the app', async () => {
  const zh = await phone(browser, { locale: 'zh-CN' });
  await zh.page.goto(`${URL}/partner/`);
  await zh.page.getByRole('heading', { name: '登录您的店铺' }).waitFor();
  assert.equal(await zh.page.evaluate(() => document.documentElement.lang), 'zh-Hans');
  await signIn(zh.page, SHOP);
  await zh.page.getByRole('heading', { name: '今日' }).waitFor();
  await zh.page.locator('#list-arriving, #list-waiting').first().waitFor();
  await shot(zh.page, '09-today-zh');
  await zh.context.close();

  const es = await phone(browser, { locale: 'es-ES' });
  await es.page.goto(`${URL}/partner/`);
  await es.page.getByRole('heading', { name: 'Entra en tu tienda' }).waitFor();
  await es.page.locator('#lang-signin').selectOption('en');
  await es.page.getByRole('heading', { name: 'Sign in to your shop' }).waitFor();
  await signIn(es.page, SHOP);
  await openTab(es.page, 'shop');
  await es.page.locator('#lang-shop').selectOption('es');
  await es.page.getByRole('heading', { name: 'Tu tienda' }).waitFor();
  await openTab(es.page, 'handover');
  await es.page.getByRole('heading', { name: 'Entregar un paquete' }).waitFor();
  await shot(es.page, '10-handover-es');
  // The choice is remembered on the phone.
  await es.page.reload();
  await es.page.getByRole('heading', { name: 'Entregar un paquete' }).waitFor();
  assert.deepEqual(es.page.errors, []);
  await es.context.close();
});

test('sign out forgets the token', async () => {
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await openTab(page, 'shop');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to your shop' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pudo.session')), null);
  assert.equal(await page.getByLabel('Shop ID').inputValue(), SHOP, 'the shop ID is remembered');
  await page.reload();
  await page.getByRole('heading', { name: 'Sign in to your shop' }).waitFor();
  await context.close();
});

test('every control has an accessible name, in every language', async () => {
  for (const locale of ['en-GB', 'zh-CN', 'es-ES']) {
    const { context, page } = await phone(browser, { locale });
    await signIn(page, SHOP);
    await page.locator('#list-waiting li').first().waitFor();
    await openTab(page, 'shop');
    await page.locator('#shop-status').waitFor();
    const unnamed = await page.evaluate(() => {
      const name = (el) => (el.getAttribute('aria-label') || el.textContent || '').trim()
        || [...(el.labels || [])].map((l) => l.textContent.trim()).join('');
      return [...document.querySelectorAll('input, select, button, a[href]')]
        .filter((el) => !name(el))
        .map((el) => el.outerHTML.slice(0, 120));
    });
    assert.deepEqual(unnamed, [], locale);
    await context.close();
  }
});
