// Peak-day stock: a planner dispatches a plan that stages stock at the shop; the shop owner
// sees it on Today and confirms its receipt, in full or with a shortfall.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { dispatchPlan, launch, ok, partner, phone, shot, signIn } from './lib.js';

const SHOP = 'ES-E2E-RUZAFA';
let browser;
let ruzafa;

before(async () => {
  browser = await launch();
  ruzafa = await partner(SHOP);
});
after(async () => { await browser?.close(); });

const manifest = async (planId) =>
  (await ok('GET', '/v1/partner/staging', { token: ruzafa.token })).items.find((m) => m.plan_id === planId);

test('receipt of staged stock, with a shortfall', async () => {
  const planId = await dispatchPlan(ruzafa, 'Singles Day 2030', [['SKU-TEA', 6], ['SKU-MUG', 4]]);
  const sent = await manifest(planId);
  assert.ok(sent, 'the plan staged stock at the shop');
  assert.equal(sent.received, false);

  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  const item = page.locator(`#list-stock li[data-plan="${planId}"]`);
  await item.waitFor();
  assert.equal(await page.locator('#n-stock').textContent(), '1');
  await item.getByText('Singles Day 2030').waitFor();
  await item.getByText('SKU-MUG').waitFor();
  await page.locator('#h-stock').scrollIntoViewIfNeeded();
  await shot(page, '14-stock-to-receive');

  // Three mugs of four arrived.
  await item.getByRole('button', { name: 'Some missing' }).click();
  const mugs = item.getByLabel('Received of SKU-MUG (sent: 4)');
  assert.equal(await mugs.inputValue(), '4');
  await mugs.fill('3');
  await page.locator('#h-stock').scrollIntoViewIfNeeded();
  await shot(page, '15-stock-shortfall');
  await item.getByRole('button', { name: 'Confirm receipt' }).click();
  await item.waitFor({ state: 'detached' });
  await page.getByText('Stock for Singles Day 2030 received.').waitFor();
  assert.equal(await page.locator('#n-stock').textContent(), '0');

  const received = await manifest(planId);
  assert.equal(received.received, true);
  const bySku = Object.fromEntries(received.lines.map((l) => [l.sku, l.received]));
  assert.deepEqual(bySku, { 'SKU-MUG': 3, 'SKU-TEA': 6 });
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('receipt of staged stock: all arrived', async () => {
  const planId = await dispatchPlan(ruzafa, 'Black Friday 2030', [['SKU-LAMP', 5]]);
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  const item = page.locator(`#list-stock li[data-plan="${planId}"]`);
  await item.getByRole('button', { name: 'All arrived' }).click();
  await item.waitFor({ state: 'detached' });
  const received = await manifest(planId);
  assert.equal(received.received, true);
  assert.deepEqual(received.lines.map((l) => [l.sku, l.units, l.received]), [['SKU-LAMP', 5, 5]]);
  await context.close();
});
