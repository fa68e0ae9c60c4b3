// Conditions at the counter (issue 19, section 2): a cash-on-delivery handover, an age-18
// handover and a named collector. The app shows what to collect, check and whom to hand to
// before the handover is confirmed, and confirms only once every box is ticked.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  MERCHANT, arriveAndReadCode, keypad, launch, ok, openTab, partner, phone, reservation, shot, signIn
} from './lib.js';

const SHOP = 'ES-E2E-ARENAL';
let browser;
let shop;
const codes = {};
const parcels = {};

/** Reserves at the shop with conditions, as a checkout would, and brings the parcel in. */
async function waiting(name, orderRef, conditions) {
  parcels[name] = await ok('POST', '/v1/reservations', {
    token: MERCHANT,
    json: { pickup_point_id: shop.id, order_ref: orderRef, ...conditions }
  });
  codes[name] = await arriveAndReadCode(shop.token, parcels[name].id);
}

before(async () => {
  browser = await launch();
  shop = await partner(SHOP);
  await waiting('cod', 'ORD-COD-1', {
    cash_on_delivery: { amount_minor: 2550, currency: 'EUR' },
    collector_name: 'Luis García'
  });
  await waiting('age', 'ORD-AGE-1', { id_check: 'age_18' });
  await waiting('collector', 'ORD-COL-1', { collector_name: 'Marta Ruiz' });
  await waiting('zh', 'ORD-COD-ZH', {
    cash_on_delivery: { amount_minor: 1000, currency: 'EUR' },
    id_check: 'named_recipient',
    recipient_name: 'Ana García'
  });
});

after(async () => { await browser?.close(); });

test('Today shows the conditions of waiting parcels', async () => {
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  const item = page.locator(`#list-waiting li[data-parcel="${parcels.cod.id}"]`);
  await item.getByText(/Cash €25\.50/).waitFor();
  await item.getByText('Collector: Luis García').waitFor();
  await page.locator(`#list-waiting li[data-parcel="${parcels.age.id}"]`).getByText('ID 18+').waitFor();
  await shot(page, '19-today-conditions');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('a cash-on-delivery handover waits until the cash is confirmed', async () => {
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await openTab(page, 'handover');
  await keypad(page, codes.cod);
  await page.getByRole('heading', { name: 'Before you hand over' }).waitFor();
  assert.equal(await page.locator('#view-result').getAttribute('data-result'), 'conditions');
  await page.getByText('Collect €25.50 in cash').waitFor();
  await page.getByText('May also be collected by: Luis García').waitFor();
  const confirm = page.locator('#cond-confirm');
  assert.equal(await confirm.isDisabled(), true, 'nothing is confirmed before the cash');
  assert.equal((await reservation(parcels.cod.id)).state, 'at_point');
  await shot(page, '20-cod-handover');
  await page.getByLabel('I collected €25.50').check();
  assert.equal(await confirm.isDisabled(), false);
  await confirm.click();
  await page.getByRole('heading', { name: 'Hand over the parcel' }).waitFor();
  assert.equal(await page.locator('#result-main').textContent(), 'Order ORD-COD-1');
  await page.getByText('Cash collected: €25.50').waitFor();
  await page.getByText('May also be collected by: Luis García').waitFor();
  await shot(page, '21-cod-success');
  assert.equal((await reservation(parcels.cod.id)).state, 'picked_up');
  // The statement shows the cash apart from the fees, and the net.
  const month = new Date().toISOString().slice(0, 7);
  const st = await ok('GET', `/v1/partner/statement?month=${month}`, { token: shop.token });
  assert.equal(st.cash_lines.length, 1);
  assert.equal(st.cash_lines[0].amount_minor, 2550);
  const eur = st.settlement.find((s) => s.currency === 'EUR');
  assert.equal(eur.cash_collected_minor, 2550);
  assert.equal(eur.net_owed_minor, 2550 - eur.fees_earned_minor);
  // ... and so does the app's Statement screen.
  await openTab(page, 'statement');
  await page.locator('#cash-EUR').getByText('€25.50').waitFor();
  const net = (2550 - eur.fees_earned_minor) / 100;
  assert.equal(await page.locator('#net-EUR').textContent(), `€${net.toFixed(2)}`);
  await shot(page, '25-statement-cash');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('an age-18 handover waits until the ID is checked', async () => {
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await openTab(page, 'handover');
  await keypad(page, codes.age);
  await page.getByRole('heading', { name: 'Before you hand over' }).waitFor();
  await page.getByText('Check an ID: the customer must be 18 or older').waitFor();
  assert.equal(await page.locator('#cond-confirm').isDisabled(), true);
  await shot(page, '22-age-check');
  await page.getByLabel('I checked the ID').check();
  await page.locator('#cond-confirm').click();
  await page.getByRole('heading', { name: 'Hand over the parcel' }).waitFor();
  assert.equal(await page.locator('#result-main').textContent(), 'Order ORD-AGE-1');
  assert.equal((await reservation(parcels.age.id)).state, 'picked_up');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('a named collector is shown at the handover; the code still decides', async () => {
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await openTab(page, 'handover');
  await keypad(page, codes.collector);
  await page.getByRole('heading', { name: 'Hand over the parcel' }).waitFor();
  await page.getByText('May also be collected by: Marta Ruiz').waitFor();
  await shot(page, '23-named-collector');
  assert.equal((await reservation(parcels.collector.id)).state, 'picked_up');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('in Chinese: cash and a named recipient confirmed together', async () => {
  const { context, page } = await phone(browser, { locale: 'zh-CN' });
  await signIn(page, SHOP);
  await openTab(page, 'handover');
  await keypad(page, codes.zh);
  await page.getByRole('heading', { name: '交付前请确认' }).waitFor();
  await page.getByText('查验证件：证件姓名须为 Ana García').waitFor();
  await page.getByText(/收取现金/).waitFor();
  await page.getByLabel(/我已收取/).check();
  assert.equal(await page.locator('#cond-confirm').isDisabled(), true, 'the ID is not checked yet');
  await page.getByLabel('我已查验证件').check();
  await shot(page, '24-conditions-zh');
  await page.locator('#cond-confirm').click();
  await page.getByText(/已收现金/).waitFor();
  assert.equal((await reservation(parcels.zh.id)).state, 'picked_up');
  assert.deepEqual(page.errors, []);
  await context.close();
});
