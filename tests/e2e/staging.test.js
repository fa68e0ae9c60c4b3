// Peak-day stock: a planner dispatches a plan that stages stock at the shop; the shop owner
// sees it on Today and confirms its receipt, in full or with a shortfall.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PLANNER, launch, ok, partner, phone, shot, signIn } from './lib.js';

const SHOP = 'ES-E2E-RUZAFA';
let browser;
let ruzafa;

before(async () => {
  browser = await launch();
  ruzafa = await partner(SHOP);
});
after(async () => { await browser?.close(); });

/** The parent cell of an H3 index (hex) at a coarser resolution. */
function h3Parent(hex, res) {
  let h = BigInt(`0x${hex}`);
  const current = Number((h >> 52n) & 0xfn);
  assert.ok(res <= current, `cell ${hex} is at resolution ${current}`);
  h = (h & ~(0xfn << 52n)) | (BigInt(res) << 52n);
  for (let r = res + 1; r <= current; r++) h |= 7n << BigInt((15 - r) * 3);
  return h.toString(16);
}

/** Creates an event with a forecast around the shop, plans, approves and dispatches it. */
async function dispatchPlan(name, lines) {
  const point = await ok('GET', `/v1/pickup-points/${ruzafa.id}`);
  const zone = h3Parent(point.h3_cell, 8);
  const event = await ok('POST', '/v1/events', {
    token: PLANNER,
    json: { name, starts_at: '2030-11-11T00:00:00+01:00', ends_at: '2030-11-12T00:00:00+01:00', timezone: 'Europe/Madrid' }
  });
  const csv = ['zone,sku,units', ...lines.map(([sku, units]) => `${zone},${sku},${units}`)].join('\n');
  await ok('POST', `/v1/events/${event.id}/forecast`, { token: PLANNER, text: csv, contentType: 'text/csv' });
  const plan = await ok('POST', `/v1/events/${event.id}/plans`, { token: PLANNER, json: {} });
  await ok('POST', `/v1/plans/${plan.id}/approve`, { token: PLANNER });
  await ok('POST', `/v1/plans/${plan.id}/dispatch`, { token: PLANNER });
  return plan.id;
}

const manifest = async (planId) =>
  (await ok('GET', '/v1/partner/staging', { token: ruzafa.token })).items.find((m) => m.plan_id === planId);

test('receipt of staged stock, with a shortfall', async () => {
  const planId = await dispatchPlan('Singles Day 2030', [['SKU-TEA', 6], ['SKU-MUG', 4]]);
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
  const planId = await dispatchPlan('Black Friday 2030', [['SKU-LAMP', 5]]);
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
