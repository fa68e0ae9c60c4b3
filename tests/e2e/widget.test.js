// The checkout widget (<pudo-picker>, widget/pudo-widget.js) embedded in a merchant's checkout
// page served from another origin: it lists the points around Zaragoza's Plaza del Pilar,
// greys those that cannot be chosen, is chosen with the pointer or the keyboard alone, blocks
// the host form without a choice, speaks Chinese and Spanish, searches by the customer's
// position or a typed coordinate, and draws tiles only when told to.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  MERCHANT, URL as PUDO, WIDGET_SCREENSHOTS, dispatchPlan, hostServer, http, launch, ok, partner, phone, reserve, shot,
  until
} from './lib.js';

const PILAR = { lat: 41.6566, lon: -0.8790 };
const SKU = 'SKU-WIDGET-LAMP';
// Sunday 29 November 2026, 11:00 in Zaragoza: Librería Pilar (Mo-Sa) and Kiosko La Seo (Mo-Fr)
// are closed then.
const SUNDAY = '2026-11-29T11:00:00+01:00';
const shops = {};
let browser;
let host;

/** The checkout page of a shop on another origin, with hostile CSS the widget must ignore. */
function checkout({ attrs = `lat="${PILAR.lat}" lon="${PILAR.lon}"`, lang = 'en' } = {}) {
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout</title>
<style>
  body { font-family: Georgia, serif; margin: 0; padding: 16px; background: #faf7f2; color: #222; }
  h1 { font-size: 22px; margin: 0 0 12px; }
  /* A theme's global rules, deliberately hostile: none of them may reach inside the widget. */
  li { list-style: square; color: red !important; font-size: 30px; }
  button, input { background: hotpink; border: 0; border-radius: 0; font-family: fantasy; }
  ul { padding-left: 40px; }
  .pay { margin-top: 16px; width: 100%; padding: 14px; font-size: 17px; background: #222; color: #fff; border-radius: 8px; }
</style>
<script src="${PUDO}/widget/pudo-widget.js" defer></script>
</head><body>
<h1>Checkout</h1>
<form id="checkout">
  <pudo-picker name="pickup_point" required radius-m="5000" ${attrs}></pudo-picker>
  <button class="pay" type="submit">Place order</button>
</form>
<script>
  window.events = [];
  window.submitted = [];
  document.addEventListener('pudo:select', (e) => window.events.push({
    detail: e.detail, bubbles: e.bubbles, composed: e.composed, target: e.target.tagName
  }));
  document.getElementById('checkout').addEventListener('submit', (e) => {
    e.preventDefault();
    window.submitted.push(new FormData(e.target).get('pickup_point'));
  });
</script>
</body></html>`;
}

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64'
);
const pages = {};

before(async () => {
  browser = await launch();
  for (const name of ['PILAR', 'ALFONSO', 'COSO', 'SEO', 'DELICIAS']) {
    shops[name] = await partner(`ES-E2E-${name}`);
    shops[name].cell = (await ok('GET', `/v1/pickup-points/${shops[name].id}`)).h3_cell;
  }
  // Estanco Alfonso has one slot: a reservation fills it.
  await reserve(shops.ALFONSO.id, 'ORD-WIDGET-FULL');
  await until(async () => (await ok('GET', `/v1/pickup-points?lat=${PILAR.lat}&lon=${PILAR.lon}&radius_m=5000`))
    .items.find((p) => p.id === shops.ALFONSO.id)?.free_slots === 0, 'Estanco Alfonso full in search');
  // Bazar Delicias holds staged stock of the SKU (a dispatched plan, received in full).
  const plan = await dispatchPlan(shops.DELICIAS, 'Widget peak 2030', [[SKU, 2]]);
  await ok('POST', `/v1/partner/staging/${plan}/receipt`, { token: shops.DELICIAS.token });
  host = await hostServer((path) => (path.startsWith('/tiles/') ? { type: 'image/png', body: PNG } : pages[path]));
});

after(async () => {
  await browser?.close();
  await host?.close();
});

/** Opens a checkout page (`pages[path]` = html) and waits for the list of points. */
async function open(path, html, options = {}) {
  pages[path] = html;
  const { context, page } = await phone(browser, options);
  await page.goto(host.origin + path);
  return { context, page };
}

const options = (page) => page.locator('pudo-picker li[role="option"]');
const option = (page, id) => page.locator(`pudo-picker li[data-id="${id}"]`);
const events = (page) => page.evaluate(() => window.events);

/** What has the focus, looking inside shadow roots: its role or tag name. */
const focused = (page) => page.evaluate(() => {
  let el = document.activeElement;
  while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
  return el ? el.getAttribute('role') || el.tagName.toLowerCase() : null;
});

test('a checkout page on another origin lists the points, and choosing one fires pudo:select', async () => {
  pages['/checkout'] = checkout();
  const { context, page } = await phone(browser);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const sizes = new Map();
  cdp.on('Network.responseReceived', (e) => sizes.set(e.requestId, { url: e.response.url, bytes: 0 }));
  cdp.on('Network.loadingFinished', (e) => { if (sizes.has(e.requestId)) sizes.get(e.requestId).bytes = e.encodedDataLength; });
  const searched = page.waitForResponse((r) => r.url().startsWith(`${PUDO}/v1/pickup-points?`));
  await page.goto(`${host.origin}/checkout`);

  // Cross-origin: the page is on the test's server, the API on pudo's, readable through CORS.
  const search = await searched;
  assert.notEqual(new URL(search.url()).origin, host.origin);
  assert.equal(search.headers()['access-control-allow-origin'], '*');
  const query = new URL(search.url()).searchParams;
  assert.equal(query.get('include_unavailable'), 'true');
  assert.equal(query.get('rank'), 'room');

  await options(page).first().waitFor();
  const ids = await options(page).evaluateAll((lis) => lis.map((li) => Number(li.dataset.id)));
  assert.deepEqual([...ids].sort((a, b) => a - b), Object.values(shops).map((s) => s.id).sort((a, b) => a - b));
  const pilar = option(page, shops.PILAR.id);
  await pilar.getByText('Librería Pilar').waitFor();
  assert.match(await pilar.textContent(), /free slots/);
  assert.match(await pilar.textContent(), /Mo-Sa 09:00-21:00/);
  assert.match(await pilar.textContent(), /Open now|Closed now/);
  assert.match(await pilar.textContent(), /\d+ m/);
  // The address, to walk there (issue 20).
  await pilar.getByText('Plaza del Pilar 16, 50003 Zaragoza').waitFor();
  await page.locator('pudo-picker [role="status"]').getByText('5 pickup points found, 3 can be chosen.').waitFor();

  // The map: one marker per point and the H3 cells of the points, from pudo alone.
  await page.locator('pudo-picker svg polygon').first().waitFor();
  assert.equal(await page.locator('pudo-picker svg g.mk').count(), 5);
  const cells = new Set(Object.values(shops).map((s) => s.cell));
  await until(async () => (await page.locator('pudo-picker svg polygon').count()) === cells.size, 'one hexagon per cell');
  assert.equal(await page.locator('pudo-picker svg image').count(), 0, 'no tile service by default');
  await page.waitForLoadState('networkidle');
  const fromPudo = [...sizes.values()].filter((e) => e.url.startsWith(PUDO));
  const bytes = fromPudo.reduce((n, e) => n + e.bytes, 0);
  console.log(`widget first render: ${bytes} bytes transferred from pudo in ${fromPudo.length} responses`);
  console.log(`  ${fromPudo.map((e) => `${e.url.replace(PUDO, '').slice(0, 60)} ${e.bytes} B`).join('\n  ')}`);
  assert.ok(bytes <= 30 * 1024, `first render transferred ${bytes} bytes`);

  // The page's CSS does not reach inside.
  const style = await pilar.locator('b').evaluate((b) => ({ color: getComputedStyle(b).color, font: getComputedStyle(b).fontFamily }));
  assert.notEqual(style.color, 'rgb(255, 0, 0)');
  assert.doesNotMatch(style.font, /Georgia|fantasy/);
  await shot(page, '01-list', WIDGET_SCREENSHOTS);

  await pilar.click();
  const [event] = await until(async () => (await events(page)).length && events(page), 'pudo:select');
  assert.equal(event.detail.id, shops.PILAR.id);
  assert.equal(event.detail.name, 'Librería Pilar');
  assert.equal(typeof event.detail.lat, 'number');
  assert.ok(event.bubbles && event.composed);
  assert.equal(event.target, 'PUDO-PICKER');
  assert.equal(await pilar.getAttribute('aria-selected'), 'true');
  await page.locator('pudo-picker').getByText('Pickup at Librería Pilar · Plaza del Pilar 16, 50003 Zaragoza').waitFor();
  assert.equal(event.detail.address.street, 'Plaza del Pilar 16');
  assert.equal(event.detail.address.country, 'ES');
  assert.equal(await page.locator('pudo-picker').evaluate((el) => el.value), String(shops.PILAR.id));
  // The same point again is no new choice.
  await pilar.click();
  assert.equal((await events(page)).length, 1);
  await shot(page, '02-chosen', WIDGET_SCREENSHOTS);

  await page.getByRole('button', { name: 'Place order' }).click();
  assert.deepEqual(await until(async () => (await page.evaluate(() => window.submitted)).length && page.evaluate(() => window.submitted), 'submit'), [String(shops.PILAR.id)]);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('points that cannot be chosen are shown greyed with the reason and cannot be chosen', async () => {
  const { context, page } = await open('/reasons', checkout({
    attrs: `lat="${PILAR.lat}" lon="${PILAR.lon}" sku="${SKU}" arrive-at="${SUNDAY}"`
  }));
  await options(page).first().waitFor();
  const search = new URL(await page.evaluate(() => performance.getEntriesByType('resource')
    .map((e) => e.name).find((n) => n.includes('/v1/pickup-points?'))));
  assert.equal(search.searchParams.get('arrive_at'), SUNDAY);
  assert.equal(search.searchParams.get('stock_sku'), SKU);

  const reasons = {
    ALFONSO: 'Full: no free slots',
    COSO: 'Paused by the shop',
    PILAR: 'Closed when your parcel arrives', // Mo-Sa
    SEO: 'Closed when your parcel arrives' // Mo-Fr
  };
  for (const [name, reason] of Object.entries(reasons)) {
    const li = option(page, shops[name].id);
    assert.equal(await li.getAttribute('aria-disabled'), 'true', name);
    await li.getByText(reason).waitFor();
    await li.click({ force: true }); // Playwright would wait for an aria-disabled element to be enabled
    assert.equal(await li.getAttribute('aria-selected'), 'false', name);
  }
  assert.deepEqual(await events(page), []);
  // A paused shop takes nothing, whatever its hours: no "Open now" beside "Paused by the shop".
  assert.doesNotMatch(await option(page, shops.COSO.id).textContent(), /Open now|Closed now/);
  await page.locator('pudo-picker [role="status"]').getByText(`Kiosko La Seo cannot be chosen: ${reasons.SEO}.`).waitFor();
  assert.equal(await page.locator('pudo-picker svg g.mk.off').count(), 4);

  const delicias = option(page, shops.DELICIAS.id);
  await delicias.getByText('In stock for instant pickup').waitFor();
  assert.equal(await option(page, shops.PILAR.id).getByText('In stock for instant pickup').count(), 0);
  await delicias.scrollIntoViewIfNeeded();
  await shot(page, '03-unavailable-and-stock', WIDGET_SCREENSHOTS);
  await delicias.click();
  assert.equal((await until(() => events(page).then((e) => e.length && e), 'select'))[0].detail.id, shops.DELICIAS.id);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('without arrive-at, a point closed for a holiday today cannot be chosen, and says why', async () => {
  const fiesta = await ok('GET', '/v1/pickup-points?lat=42.1401&lon=-0.4089&limit=10&include_unavailable=true&rank=room');
  const [bar] = fiesta.items.filter((p) => p.external_id === 'ES-E2E-FIESTA');
  const { context, page } = await open('/holiday', checkout({ attrs: 'lat="42.1401" lon="-0.4089"' }));
  await options(page).first().waitFor();
  const li = option(page, bar.id);
  assert.equal(await li.getAttribute('aria-disabled'), 'true');
  await li.getByText('Closed on holiday in the next 2 days, when your parcel may arrive').waitFor();
  await li.getByText('Calle del Coso Alto 1, 22003 Huesca').waitFor();
  await li.click({ force: true });
  assert.deepEqual(await events(page), []);
  // The merchant's server is refused the same way.
  const refused = await http('POST', '/v1/reservations', { token: MERCHANT, json: { pickup_point_id: bar.id, order_ref: 'ORD-FIESTA' } });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.reason, 'closed_for_period');
  await shot(page, '09-holiday-today', WIDGET_SCREENSHOTS);
  await context.close();
});

test('with a parcel, points it does not fit are greyed with the limit, in English and Chinese', async () => {
  const TORICO = { lat: 40.3441, lon: -1.1069 };
  const attrs = `lat="${TORICO.lat}" lon="${TORICO.lon}" parcel="40x30x15" weight-kg="3"`;
  const found = await ok('GET', `/v1/pickup-points?lat=${TORICO.lat}&lon=${TORICO.lon}&radius_m=2000&parcel=40x30x15&weight_kg=3&include_unavailable=true`);
  const id = (external) => found.items.find((p) => p.external_id === external).id;
  const reasons = {
    en: { 'ES-E2E-TORICO': 'No compartment here is large enough for your parcel', 'ES-E2E-MUDEJAR': 'Your parcel is too heavy for this point' },
    zh: { 'ES-E2E-TORICO': '此自提点没有能放下您包裹的格口', 'ES-E2E-MUDEJAR': '您的包裹超过此自提点的重量上限' },
  };
  for (const [lang, shot_name] of [['en', '11-parcel-does-not-fit'], ['zh', '12-parcel-zh']]) {
    const { context, page } = await open(`/parcel-${lang}`, checkout({ attrs: `${attrs} lang="${lang}"`, lang }));
    await options(page).first().waitFor();
    const search = new URL(await page.evaluate(() => performance.getEntriesByType('resource')
      .map((e) => e.name).find((n) => n.includes('/v1/pickup-points?'))));
    assert.equal(search.searchParams.get('parcel'), '40x30x15');
    assert.equal(search.searchParams.get('weight_kg'), '3');
    for (const [shop, reason] of Object.entries(reasons[lang])) {
      const li = option(page, id(shop));
      assert.equal(await li.getAttribute('aria-disabled'), 'true', shop);
      await li.getByText(reason).waitFor();
      await li.click({ force: true });
      assert.equal(await li.getAttribute('aria-selected'), 'false', shop);
    }
    assert.deepEqual(await events(page), []);
    const amantes = option(page, id('ES-E2E-AMANTES'));
    assert.equal(await amantes.getAttribute('aria-disabled'), null);
    await shot(page, shot_name, WIDGET_SCREENSHOTS);
    await amantes.click();
    assert.equal((await until(() => events(page).then((e) => e.length && e), 'select'))[0].detail.id, id('ES-E2E-AMANTES'));
    assert.deepEqual(page.errors, []);
    await context.close();
  }
  // The merchant's server is refused the same way, naming the limit.
  const refused = await http('POST', '/v1/reservations', {
    token: MERCHANT, json: { pickup_point_id: id('ES-E2E-MUDEJAR'), order_ref: 'ORD-HEAVY', parcel: '40x30x15', weight_kg: 3 }
  });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.reason, 'does_not_fit');
  assert.equal(refused.body.limit, 'max_weight');
});

test('capabilities: labels in English, Chinese and Spanish, the capability filter, the photo once chosen', async () => {
  const MAYOR = { lat: 40.0784, lon: -2.1297 };
  const all = await ok('GET', `/v1/pickup-points?lat=${MAYOR.lat}&lon=${MAYOR.lon}&radius_m=2000`);
  const id = (external) => all.items.find((p) => p.external_id === external).id;
  assert.deepEqual(all.items.find((p) => p.external_id === 'ES-E2E-MAYOR').capabilities,
    ['step_free', 'parking', 'cash_on_delivery', 'id_check', 'open_24_7']);
  // A shop front drawn for the photo's host (the fixture's URL), so the test needs no network.
  const photo = '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="160"><rect width="320" height="160" fill="#d9e4ec"/>'
    + '<rect x="40" y="40" width="240" height="100" fill="#fff" stroke="#0b5d2a" stroke-width="4"/><rect x="40" y="24" width="240" height="22" fill="#0b5d2a"/>'
    + '<text x="160" y="40" font-size="14" fill="#fff" text-anchor="middle" font-family="sans-serif">FARMACIA</text>'
    + '<rect x="140" y="80" width="40" height="60" fill="#8aa4b8"/><rect x="60" y="70" width="60" height="40" fill="#bcd3e2"/><rect x="200" y="70" width="60" height="40" fill="#bcd3e2"/></svg>';
  const labels = {
    en: ['Step-free access', 'Parking', 'Cash on delivery', 'ID checks', 'Open 24/7'],
    zh: ['无障碍通行', '可停车', '货到付款', '可核验身份', '24 小时营业'],
    es: ['Acceso sin escalones', 'Aparcamiento', 'Pago contra reembolso', 'Verificación de identidad', 'Abierto 24 h'],
  };
  for (const [lang, shotName] of [['en', '13-capabilities'], ['zh', '14-capabilities-zh'], ['es', null]]) {
    // In Spanish, a name in capitals and an unknown one: the widget sends the known name only.
    const capability = lang === 'es' ? 'Parking, lift' : 'parking';
    const attrs = `lat="${MAYOR.lat}" lon="${MAYOR.lon}" capability="${capability}" lang="${lang}"`;
    const { context, page } = await open(`/capabilities-${lang}`, checkout({ attrs, lang }));
    await context.route('https://img.pudo.test/**', (route) => route.fulfill({ contentType: 'image/svg+xml', body: photo }));
    await options(page).first().waitFor();
    const search = new URL(await page.evaluate(() => performance.getEntriesByType('resource')
      .map((e) => e.name).find((n) => n.includes('/v1/pickup-points?'))));
    assert.equal(search.searchParams.get('capability'), 'parking');
    // Only the points with parking; the one declaring nothing is not offered.
    const listed = await options(page).evaluateAll((lis) => lis.map((li) => Number(li.dataset.id)));
    assert.deepEqual([...listed].sort((a, b) => a - b), [id('ES-E2E-MAYOR'), id('ES-E2E-CATEDRAL')].sort((a, b) => a - b));
    const mayor = option(page, id('ES-E2E-MAYOR'));
    const shown = await mayor.locator('.cap').allTextContents();
    assert.deepEqual(await mayor.locator('.cap').evaluateAll((els) => els.map((el) => el.dataset.cap)),
      ['step_free', 'parking', 'cash_on_delivery', 'id_check', 'open_24_7']);
    for (const label of labels[lang]) assert.ok(shown.some((t) => t.includes(label)), `${lang}: ${label} in ${shown}`);
    const catedral = option(page, id('ES-E2E-CATEDRAL'));
    assert.deepEqual(await catedral.locator('.cap').evaluateAll((els) => els.map((el) => el.dataset.cap)), ['parking']);
    // No photo until the point is chosen; then it loads from the point's URL.
    assert.equal(await mayor.locator('img').count(), 0);
    await mayor.click();
    const img = mayor.locator('img.ph');
    await img.waitFor();
    assert.equal(await img.getAttribute('src'), 'https://img.pudo.test/shops/mayor.svg');
    await until(() => img.evaluate((el) => el.complete && el.naturalWidth > 0), 'photo loaded');
    assert.equal(await catedral.locator('img').count(), 0);
    if (shotName) await shot(page, shotName, WIDGET_SCREENSHOTS);
    assert.deepEqual(page.errors, []);
    await context.close();
  }
  // An unknown capability is refused by name: the widget's attribute passes through as is.
  const refused = await http('GET', `/v1/pickup-points?lat=${MAYOR.lat}&lon=${MAYOR.lon}&capability=lift`);
  assert.equal(refused.status, 400);
  assert.equal(refused.body.parameter, 'capability');
});

test('keyboard only: Tab to the list, arrows, Enter or Space chooses, and the order is placed', async () => {
  const { context, page } = await open('/keyboard', checkout());
  await options(page).first().waitFor();
  for (let i = 0; i < 8 && (await focused(page)) !== 'listbox'; i++) await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'listbox');
  const order = await options(page).evaluateAll((lis) => lis.map((li) => Number(li.dataset.id)));
  const active = () => page.locator('pudo-picker ul').evaluate((ul) => {
    const li = ul.getRootNode().getElementById(ul.getAttribute('aria-activedescendant'));
    return li ? Number(li.dataset.id) : null;
  });
  const moveTo = async (id) => {
    const delta = order.indexOf(id) - order.indexOf(await active());
    for (let i = 0; i < Math.abs(delta); i++) await page.keyboard.press(delta > 0 ? 'ArrowDown' : 'ArrowUp');
    assert.equal(await active(), id);
  };
  // The first point that can be chosen is active; its focus ring is visible.
  const activeLi = page.locator('pudo-picker li.act');
  assert.equal(await activeLi.getAttribute('aria-disabled'), null);
  await page.keyboard.press('End');
  await page.keyboard.press('Home');
  assert.equal(await active(), order[0]);
  assert.equal(await activeLi.evaluate((li) => getComputedStyle(li).outlineStyle), 'solid');

  // A full point: Enter does not choose it, and says why.
  await moveTo(shops.ALFONSO.id);
  await page.keyboard.press('Enter');
  assert.deepEqual(await events(page), []);
  await page.locator('pudo-picker [role="status"]').getByText('Estanco Alfonso cannot be chosen: Full: no free slots.').waitFor();

  await moveTo(shops.PILAR.id);
  await shot(page, '04-keyboard', WIDGET_SCREENSHOTS, { blur: false });
  await page.keyboard.press('Space');
  const [event] = await until(() => events(page).then((e) => e.length && e), 'pudo:select');
  assert.equal(event.detail.id, shops.PILAR.id);
  await page.locator('pudo-picker [role="status"]').getByText('Librería Pilar chosen as your pickup point.').waitFor();
  await moveTo(shops.SEO.id);
  await page.keyboard.press('Enter');
  assert.equal((await until(() => events(page).then((e) => e.length === 2 && e), 'second choice'))[1].detail.id, shops.SEO.id);

  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'button');
  await page.keyboard.press('Enter');
  assert.deepEqual(await until(() => page.evaluate(() => window.submitted.length && window.submitted), 'submit'), [String(shops.SEO.id)]);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the host form cannot be submitted without a choice: a visible message says so', async () => {
  const { context, page } = await open('/required', checkout());
  await options(page).first().waitFor();
  const message = page.locator('pudo-picker [role="alert"]');
  assert.ok(await message.isHidden());
  await page.getByRole('button', { name: 'Place order' }).click();
  await message.getByText('Choose a pickup point to continue.').waitFor();
  assert.deepEqual(await page.evaluate(() => window.submitted), []);
  const state = await page.locator('pudo-picker').evaluate((el) => ({
    form: el.form?.id, valid: el.checkValidity(), missing: el.validity.valueMissing,
    formValid: el.form.checkValidity(), message: el.validationMessage
  }));
  assert.deepEqual(state, {
    form: 'checkout', valid: false, missing: true, formValid: false, message: 'Choose a pickup point to continue.'
  });
  assert.equal(await focused(page), 'listbox', 'the browser takes the customer to the widget');
  await shot(page, '05-required', WIDGET_SCREENSHOTS);

  await option(page, shops.PILAR.id).click();
  await message.waitFor({ state: 'hidden' });
  await page.getByRole('button', { name: 'Place order' }).click();
  assert.deepEqual(await until(() => page.evaluate(() => window.submitted.length && window.submitted), 'submit'), [String(shops.PILAR.id)]);
  await context.close();
});

test('Chinese and Spanish with the lang attribute, or from the page', async () => {
  const zh = await open('/zh', checkout({ attrs: `lat="${PILAR.lat}" lon="${PILAR.lon}" lang="zh"` }));
  await options(zh.page).first().waitFor();
  const picker = zh.page.locator('pudo-picker');
  await picker.getByText('查找附近的自提点').waitFor();
  await picker.getByRole('button', { name: '使用我的位置' }).waitFor();
  await picker.getByText('找到 5 个自提点，其中 3 个可选。').waitFor();
  await option(zh.page, shops.ALFONSO.id).getByText('已满：没有空位').waitFor();
  await option(zh.page, shops.PILAR.id).getByText(/周一-周六 09:00-21:00/).waitFor();
  assert.equal(await picker.getByRole('listbox').getAttribute('aria-label'), '自提点');
  await shot(zh.page, '06-zh', WIDGET_SCREENSHOTS);
  await zh.page.getByRole('button', { name: 'Place order' }).click();
  await picker.getByText('请选择一个自提点后继续。').waitFor();
  await zh.context.close();

  // No lang on the element: the page's language.
  const es = await open('/es', checkout({ lang: 'es' }), { locale: 'en-GB' });
  await options(es.page).first().waitFor();
  const selector = es.page.locator('pudo-picker');
  await selector.getByText('Buscar puntos de recogida cerca de').waitFor();
  await selector.getByRole('button', { name: 'Buscar', exact: true }).waitFor();
  await option(es.page, shops.COSO.id).getByText('En pausa por la tienda').waitFor();
  await option(es.page, shops.PILAR.id).getByText(/lu-sá 09:00-21:00/).waitFor();
  await shot(es.page, '07-es', WIDGET_SCREENSHOTS);
  // Switching the attribute switches the texts at once.
  await selector.evaluate((el) => el.setAttribute('lang', 'en'));
  await selector.getByText('Find pickup points near').waitFor();
  await es.context.close();

  // Every text in every language, with the same placeholders.
  const { context, page } = await open('/texts', checkout());
  await options(page).first().waitFor();
  const texts = await page.evaluate(() => customElements.get('pudo-picker').TEXTS);
  const holes = (t) => [...t.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  assert.deepEqual(Object.keys(texts), ['en', 'zh', 'es']);
  for (const lang of ['zh', 'es']) {
    assert.deepEqual(Object.keys(texts[lang]).sort(), Object.keys(texts.en).sort(), lang);
    for (const key of Object.keys(texts.en)) assert.deepEqual(holes(texts[lang][key]), holes(texts.en[key]), `${lang}.${key}`);
  }
  await context.close();
});

test('search by the customer\'s position, a typed coordinate, the merchant\'s geocoder or setLocation', async () => {
  const { context, page } = await open('/position', checkout({ attrs: '' }), {
    geolocation: { latitude: 41.6480, longitude: -0.9050 }, permissions: ['geolocation']
  });
  const picker = page.locator('pudo-picker');
  await picker.getByText('Use your location or type one to see the pickup points near you.').waitFor();
  assert.equal(await options(page).count(), 0);
  await shot(page, '08-start', WIDGET_SCREENSHOTS);

  await picker.getByRole('button', { name: 'Use my location' }).click();
  await option(page, shops.DELICIAS.id).waitFor();
  const nearest = await options(page).evaluateAll((lis) => lis.map((li) => li.querySelector('.d').textContent));
  assert.ok(nearest.some((d) => / m$/.test(d)), `a point within a kilometre: ${nearest}`);

  const input = picker.getByLabel('Find pickup points near');
  // Text is looked up as a town (pudo's place data) and as a point: neither knows this one.
  await input.fill('nowhere');
  await input.press('Enter');
  await picker.getByText('That place was not found. Try another address or latitude, longitude.').waitFor();
  await input.fill(' ');
  await input.press('Enter');
  await picker.getByText('Type a location as latitude, longitude, for example 40.4168, -3.7038.').waitFor();
  await input.fill(`${PILAR.lat}, ${PILAR.lon}`);
  await input.press('Enter');
  await picker.getByText('5 pickup points found, 3 can be chosen.').waitFor();

  // The merchant's geocoder turns addresses into positions.
  await picker.evaluate((el) => {
    el.geocode = async (q) => (q === 'Calle Delicias 1, Zaragoza' ? { lat: 41.6481, lon: -0.9049 } : null);
  });
  assert.equal(await input.getAttribute('placeholder'), 'Address, or latitude, longitude');
  await input.fill('Atlantis');
  await input.press('Enter');
  await picker.getByText('That place was not found. Try another address or latitude, longitude.').waitFor();
  const before = await page.evaluate(() => performance.getEntriesByType('resource').length);
  await input.fill('Calle Delicias 1, Zaragoza');
  await input.press('Enter');
  await until(async () => (await page.evaluate(() => performance.getEntriesByType('resource')
    .map((e) => e.name))).slice(before).some((n) => n.includes('lat=41.6481')), 'a search at the geocoded position');

  // And a merchant can set the position itself; nonsense is refused.
  await picker.evaluate((el, at) => el.setLocation(at.lat, at.lon), PILAR);
  await picker.getByText('5 pickup points found, 3 can be chosen.').waitFor();
  const refused = await picker.evaluate((el) => { try { el.setLocation(95, 0); return 'accepted'; } catch (e) { return e.name; } });
  assert.equal(refused, 'RangeError');
  await context.close();
});

test('a tile-url draws tiles behind the points, from that server only', async () => {
  const { context, page } = await open('/tiles', checkout({
    attrs: `lat="${PILAR.lat}" lon="${PILAR.lon}" tile-url="${host.origin}/tiles/{z}/{x}/{y}.png" tile-attribution="© test tiles"`
  }));
  await options(page).first().waitFor();
  await page.locator('pudo-picker svg image').first().waitFor({ state: 'attached' });
  const hrefs = await page.locator('pudo-picker svg image').evaluateAll((imgs) => imgs.map((i) => i.getAttribute('href')));
  assert.ok(hrefs.every((h) => /\/tiles\/1\d\/\d+\/\d+\.png$/.test(h)), hrefs.join(' '));
  await until(() => host.requests.some((r) => r.startsWith('/tiles/')), 'a tile requested');
  await page.locator('pudo-picker svg').getByText('© test tiles').waitFor();
  await context.close();
});

test('the demo page at /widget/ embeds the widget from pudo itself', async () => {
  const { context, page } = await phone(browser);
  await page.goto(`${PUDO}/widget/`);
  await page.locator('pudo-picker').getByText('Find pickup points near').waitFor();
  const res = await http('GET', '/widget/pudo-widget.js');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  // The icon a browser asks for at the root of the origin is there.
  const icon = await http('GET', '/favicon.ico');
  assert.equal(icon.status, 200);
  assert.equal(icon.headers.get('content-type'), 'image/x-icon');
  assert.deepEqual(page.errors, []);
  await context.close();
});
