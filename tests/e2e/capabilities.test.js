// The shop owner keeps what customers are told up to date (capabilities and the photo) from the
// Shop screen, and sees each staged line's size class on Today. Kiosko Soria (run.sh) declares
// parking in the shop file; nothing else uses it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { dispatchPlan, launch, ok, openTab, partner, phone, shot, signIn, until } from './lib.js';

const SHOP = 'ES-E2E-SORIA';
const NEAR = 'lat=41.7636&lon=-2.4649&radius_m=1000';
let browser;
let soria;

before(async () => {
  browser = await launch();
  soria = await partner(SHOP);
});
after(async () => { await browser?.close(); });

/** Whether a search near the shop with `capability=` finds it. */
const foundWith = async (capability) =>
  (await ok('GET', `/v1/pickup-points?${NEAR}&capability=${capability}`)).items.some((p) => p.external_id === SHOP);

test('the shop owner changes its capabilities and photo; search follows', async () => {
  const photo = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="#27a"/></svg>';
  assert.equal(await foundWith('parking'), true, 'declared in the shop file');
  assert.equal(await foundWith('step_free'), false);

  const { context, page } = await phone(browser);
  await context.route('https://img.pudo.test/**', (route) => route.fulfill({ contentType: 'image/svg+xml', body: photo }));
  await signIn(page, SHOP);
  await openTab(page, 'shop');
  await until(async () => (await page.locator('#shop-capabilities').textContent()) === 'Parking', 'declared capabilities');
  assert.equal(await page.locator('#caps-form').isVisible(), false, 'read first, edited on request');

  await page.getByRole('button', { name: 'Change capabilities and photo' }).click();
  const box = (name) => page.getByRole('checkbox', { name });
  assert.equal(await box('Parking').isChecked(), true, 'the form starts from what is declared');
  assert.equal(await box('Step-free access').isChecked(), false);
  assert.equal(await page.getByRole('checkbox', { name: 'Open around the clock' }).count(), 0, 'derived, never ticked');
  await box('Parking').uncheck();
  await box('Step-free access').check();
  await box('Cash on delivery').check();

  // The server refuses an http link: the problem's detail is shown, the link field focused.
  const link = page.getByLabel('Photo link (https://…; empty: no photo)');
  await link.fill('http://img.pudo.test/shops/soria.svg');
  await page.getByRole('button', { name: 'Save' }).click();
  const msg = page.locator('#caps-msg');
  await msg.getByText('The photo link was not accepted').waitFor();
  assert.equal(await msg.textContent(),
    'The photo link was not accepted: "http://img.pudo.test/shops/soria.svg" is not an https:// URL');
  assert.equal(await link.evaluate((el) => el === document.activeElement), true);
  assert.equal(await foundWith('step_free'), false, 'nothing saved');
  await shot(page, '27-shop-capabilities-refused');

  await link.fill('https://img.pudo.test/shops/soria.svg');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved: customers see the change now.').waitFor();
  await until(async () => (await page.locator('#shop-capabilities').textContent()) === 'Step-free access, Cash on delivery', 'saved capabilities');
  assert.equal(await page.locator('#caps-form').isVisible(), false);
  const img = page.locator('#shop-photo');
  assert.equal(await img.getAttribute('src'), 'https://img.pudo.test/shops/soria.svg');
  await until(() => img.evaluate((el) => el.complete && el.naturalWidth > 0), 'photo loaded');

  // Search answers from the index, which the change reached at once.
  assert.equal(await foundWith('step_free'), true);
  assert.equal(await foundWith('parking'), false);
  const point = (await ok('GET', `/v1/pickup-points/${soria.id}`));
  assert.deepEqual(point.capabilities, ['step_free', 'cash_on_delivery']);
  assert.equal(point.photo_url, 'https://img.pudo.test/shops/soria.svg');

  // Emptied again: no capability, no photo.
  await page.getByRole('button', { name: 'Change capabilities and photo' }).click();
  await box('Step-free access').uncheck();
  await box('Cash on delivery').uncheck();
  await link.fill('');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#shop-capabilities').getByText('Nothing declared').waitFor();
  assert.equal(await page.locator('#shop-photo').count(), 0);
  const shop = await ok('GET', '/v1/partner/shop', { token: soria.token });
  assert.deepEqual([shop.capabilities, shop.photo_url], [[], null]);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('staged stock shows each line\'s size class', async () => {
  const planId = await dispatchPlan(soria, 'San Juan 2030', [['SKU-RING', 2, 'S'], ['SKU-BOX', 3, 'M']]);
  const sent = (await ok('GET', '/v1/partner/staging', { token: soria.token })).items.find((m) => m.plan_id === planId);
  assert.deepEqual(Object.fromEntries(sent.lines.map((l) => [l.sku, l.size])), { 'SKU-RING': 'S', 'SKU-BOX': 'M' });

  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  const item = page.locator(`#list-stock li[data-plan="${planId}"]`);
  await item.getByText('SKU-RING').waitFor();
  const sizeOf = async (sku) => (await item.locator('.lines li', { hasText: sku }).locator('.size').textContent());
  assert.equal(await sizeOf('SKU-RING'), 'Size S');
  assert.equal(await sizeOf('SKU-BOX'), 'Size M');
  // Counting a shortfall keeps the size beside each line.
  await item.getByRole('button', { name: 'Some missing' }).click();
  await item.getByLabel('Received of SKU-BOX (sent: 3)').waitFor();
  assert.equal(await sizeOf('SKU-BOX'), 'Size M');
  await item.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('#h-stock').scrollIntoViewIfNeeded();
  await shot(page, '28-stock-sizes');
  assert.deepEqual(page.errors, []);
  await context.close();
});
