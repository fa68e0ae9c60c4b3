// Returns at the counter and the shop's money: take in a return by its drop-off code (and a
// wrong code), confirm what the driver collected, and read the month's statement (its totals
// in euros after a handover and a drop-off, and its CSV).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import {
  MERCHANT, arriveAndReadCode, keypad, launch, ok, openTab, partner, phone, reserve, shot, signIn,
  wrongCode
} from './lib.js';

// A shop of its own, so that its statement holds only what this file does.
const SHOP = 'ES-E2E-ALBAICIN';
let browser;
let shop;
const ret = {};

/** Registers a return at the shop as a merchant does, and reads its drop-off code once. */
async function registerReturn(orderRef, sku) {
  const r = await ok('POST', '/v1/returns', {
    token: MERCHANT, json: { pickup_point_id: shop.id, order_ref: orderRef, sku }
  });
  const read = await ok('GET', `/v1/returns/${r.id}`, { token: MERCHANT });
  assert.match(read.dropoff_code, /^\d{8}$/);
  return { id: r.id, code: read.dropoff_code };
}

before(async () => {
  browser = await launch();
  shop = await partner(SHOP);
  // One handover at this shop (paid 30 cents), done through the API.
  const parcel = await reserve(shop.id, 'ORD-ALB-1', 'SKU-FAN');
  const code = await arriveAndReadCode(shop.token, parcel.id);
  await ok('POST', '/v1/partner/handovers', { token: shop.token, json: { code } });
  ret.first = await registerReturn('RMA-ALB-1', 'SHOE-42');
  ret.second = await registerReturn('RMA-ALB-2');
});

after(async () => { await browser?.close(); });

test('take in a return by its drop-off code; a wrong code is refused', async () => {
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await openTab(page, 'returns');
  await page.getByRole('link', { name: 'Take in a return' }).click();
  await page.getByRole('heading', { name: 'Take in a return' }).waitFor();
  assert.equal(await page.locator('#mode-dropoff').getAttribute('aria-current'), 'page');
  await page.getByLabel('Drop-off code (8 digits)').waitFor();

  await keypad(page, wrongCode([ret.first.code, ret.second.code]));
  await page.getByRole('heading', { name: 'Unknown code' }).waitFor();
  await page.getByText('No return for this shop has this code.').waitFor();
  await page.getByRole('button', { name: 'Next customer' }).click();
  // Still in drop-off mode for the next customer.
  await page.getByRole('heading', { name: 'Take in a return' }).waitFor();

  await keypad(page, ret.first.code);
  await page.getByRole('heading', { name: 'Take in the return' }).waitFor();
  assert.equal(await page.locator('#result-main').textContent(), 'Order RMA-ALB-1');
  assert.match(await page.locator('#result-detail').textContent(), new RegExp(`Return ${ret.first.id} `));
  assert.equal(await page.evaluate(() => document.activeElement.id), 'result-title');
  await shot(page, '16-dropoff-success');
  const server = await ok('GET', `/v1/returns/${ret.first.id}`, { token: MERCHANT });
  assert.equal(server.state, 'dropped_off');

  // The same code again: already taken in, nothing more.
  await page.getByRole('button', { name: 'Next customer' }).click();
  await keypad(page, ret.first.code);
  await page.getByRole('heading', { name: 'Already taken in' }).waitFor();
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the statement shows the handover and the drop-off in euros, and its CSV', async () => {
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await openTab(page, 'statement');
  const month = new Date().toISOString().slice(0, 7);
  await page.locator(`#months [data-month="${month}"][aria-pressed="true"]`).waitFor();
  // Seeded fees: 30 cents per handover, 35 per drop-off.
  await page.locator('#grand-EUR').waitFor();
  assert.equal(await page.locator('#grand-EUR').textContent(), '€0.65');
  assert.match(await page.locator('tr[data-kind="handover"]').textContent(), /Parcels handed over.*events: 1.*€0\.30/);
  assert.match(await page.locator('tr[data-kind="dropoff"]').textContent(), /Returns taken in.*events: 1.*€0\.35/);
  await shot(page, '17-statement');

  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download CSV' }).click();
  const file = await download;
  assert.equal(file.suggestedFilename(), `statement-${SHOP}-${month}.csv`);
  const csv = await readFile(await file.path(), 'utf8');
  assert.match(csv, /^record,shop_external_id,month,/);
  assert.match(csv, /\ngrand_total,ES-E2E-ALBAICIN,[^\n]*,65,EUR/);

  // The previous month: nothing paid.
  const prev = await page.locator('#months [data-month]:not([aria-pressed="true"])');
  await prev.click();
  await page.locator('#statement-empty').waitFor();
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('confirm what the driver collected', async () => {
  const { context, page } = await phone(browser);
  // The second return is dropped off by API, so two wait for the driver.
  await ok('POST', '/v1/partner/dropoffs', { token: shop.token, json: { code: ret.second.code } });
  await signIn(page, SHOP);
  await openTab(page, 'returns');
  const list = page.locator('#list-collect');
  await list.locator(`li[data-return="${ret.second.id}"]`).waitFor();
  assert.equal(await page.locator('#n-collect').textContent(), '2');
  assert.ok(await page.locator('#collect').isDisabled(), 'nothing ticked, nothing to confirm');
  await page.getByLabel(/Order RMA-ALB-1/).check();
  await shot(page, '18-collections');
  await page.getByRole('button', { name: 'The driver took 1: confirm' }).click();
  await page.getByText('1 return(s) collected.').waitFor();
  await list.locator(`li[data-return="${ret.first.id}"]`).waitFor({ state: 'detached' });
  assert.equal(await page.locator('#n-collect').textContent(), '1');
  assert.equal((await ok('GET', `/v1/returns/${ret.first.id}`, { token: MERCHANT })).state, 'collected');
  assert.equal((await ok('GET', `/v1/returns/${ret.second.id}`, { token: MERCHANT })).state, 'dropped_off');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('plan a holiday closure on the Shop screen', async () => {
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await openTab(page, 'shop');
  await page.getByText('No closures planned.').waitFor();
  await page.getByLabel('First day closed').fill('2030-12-24');
  await page.getByLabel('Last day closed (empty: one day)').fill('2030-12-26');
  await page.getByLabel('Reason (optional)').fill('Christmas');
  await page.getByRole('button', { name: 'Add closure' }).click();
  await page.locator('#list-closures li[data-closure="0"]').getByText('Christmas').waitFor();
  const stored = await ok('GET', '/v1/partner/shop/closures', { token: shop.token });
  assert.deepEqual(stored.closures, [{ start: '2030-12-24', end: '2030-12-26', reason: 'Christmas' }]);
  // The last day before the first: refused on the phone.
  await page.getByLabel('First day closed').fill('2030-08-10');
  await page.getByLabel('Last day closed (empty: one day)').fill('2030-08-01');
  await page.getByRole('button', { name: 'Add closure' }).click();
  await page.getByText('The last day is before the first day.').waitFor();
  await page.getByRole('button', { name: /Remove – / }).click();
  await page.getByText('No closures planned.').waitFor();
  assert.deepEqual((await ok('GET', '/v1/partner/shop/closures', { token: shop.token })).closures, []);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('a paused shop cannot take in a return; without a connection nothing is taken in', async () => {
  const third = await registerReturn('RMA-ALB-3');
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await ok('PATCH', '/v1/partner/shop', { token: shop.token, json: { status: 'paused' } });
  try {
    await page.goto(`${page.url().split('#')[0]}#dropoff`);
    await keypad(page, third.code);
    await page.getByRole('heading', { name: 'Cannot take in' }).waitFor();
    await page.getByText('Your shop is paused.').waitFor();
  } finally {
    await ok('PATCH', '/v1/partner/shop', { token: shop.token, json: { status: 'active' } });
  }
  await page.getByRole('button', { name: 'Next customer' }).click();
  await context.setOffline(true);
  await keypad(page, third.code);
  await page.getByRole('heading', { name: 'No connection' }).waitFor();
  await context.setOffline(false);
  assert.equal((await ok('GET', `/v1/returns/${third.id}`, { token: MERCHANT })).state, 'registered');
  assert.deepEqual(page.errors, []);
  await context.close();
});
