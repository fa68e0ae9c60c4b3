// A poor connection: a handover confirmed offline is kept on the phone (across a reload), sent
// when the connection is back, and lands exactly once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  arriveAndReadCode, http, keypad, launch, metric, openTab, partner, phone, reservation,
  reserve, shot, signIn
} from './lib.js';

const SHOP = 'ES-E2E-TRIANA';
let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const queued = (page) => page.evaluate((shop) => JSON.parse(localStorage.getItem(`pudo.queue.${shop}`) || '[]'), SHOP);

test('offline: the confirmation is queued, survives a reload, and lands once back online', async () => {
  const triana = await partner(SHOP);
  const parcel = await reserve(triana.id, 'ORD-3001', 'SKU-TEA');
  const code = await arriveAndReadCode(triana.token, parcel.id);
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await page.locator('#list-waiting').getByText('Order ORD-3001').waitFor();
  // The service worker keeps the app's files, so that the app opens without a connection.
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await page.reload();
  await page.locator('#view-today').waitFor();
  assert.ok(await page.evaluate(() => !!navigator.serviceWorker.controller), 'the page is controlled by the service worker');

  const success = 'pudo_handovers_total{outcome="success"}';
  const replay = 'pudo_handovers_total{outcome="replay"}';
  const before = { success: await metric(success), replay: await metric(replay) };

  await context.setOffline(true);
  await page.locator('#banner').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#net').textContent(), 'Offline');
  await openTab(page, 'handover');
  await keypad(page, code);
  await page.getByRole('heading', { name: 'Saved, not confirmed yet' }).waitFor();
  assert.equal(await page.locator('#view-result').getAttribute('data-result'), 'queued');
  assert.match(await page.locator('#result-detail').textContent(), /sent as soon as the connection is back/);
  await shot(page, '11-offline-queued');
  assert.equal((await queued(page)).length, 1);
  assert.equal((await reservation(parcel.id)).state, 'at_point', 'nothing reached the server');

  // Typing the same code again while offline does not queue it twice.
  await page.getByRole('button', { name: 'Next customer' }).click();
  await keypad(page, code);
  await page.getByRole('heading', { name: 'Saved, not confirmed yet' }).waitFor();
  assert.equal((await queued(page)).length, 1);

  // The phone reloads the app while still offline: the app opens and shows what waits.
  await page.reload();
  await page.locator('#view-handover').waitFor(); // where it was
  await openTab(page, 'today');
  await page.getByRole('heading', { name: 'Waiting to be sent (1)' }).waitFor();
  await page.locator('#pending').getByText(`Handover, code ${code.slice(0, 4)} ${code.slice(4)}`).waitFor();
  assert.equal(await page.locator('#nav-pending').textContent(), '1');
  await page.locator('#list-waiting').getByText('Order ORD-3001').waitFor(); // the saved list
  await shot(page, '12-offline-pending');

  // Back online: the queue is sent by itself and the answer shows on Today.
  await context.setOffline(false);
  await page.locator('#outcomes').getByText(`hand over order ORD-3001`).waitFor({ timeout: 30000 });
  await page.locator('#pending h2').waitFor({ state: 'detached' });
  assert.equal((await queued(page)).length, 0);
  assert.ok(await page.locator('#nav-pending').isHidden());
  await page.locator('#list-waiting').getByText('Order ORD-3001').waitFor({ state: 'detached' });
  await shot(page, '13-back-online');

  // Exactly once on the server: picked up, one success, and a second confirmation is a replay.
  const server = await reservation(parcel.id);
  assert.equal(server.state, 'picked_up');
  assert.equal(await metric(success), before.success + 1);
  assert.equal(await metric(replay), before.replay);
  await openTab(page, 'handover');
  await keypad(page, code);
  await page.getByRole('heading', { name: 'Already handed over' }).waitFor();
  const again = await http('POST', '/v1/partner/handovers', { token: triana.token, json: { code } });
  assert.equal(again.status, 200);
  assert.equal(again.body.replay, true);
  assert.equal(again.body.picked_up_at, server.picked_up_at);
  assert.equal(await metric(success), before.success + 1);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('offline: an arrival is queued too, and sent when the connection is back', async () => {
  const triana = await partner(SHOP);
  const parcel = await reserve(triana.id, 'ORD-3002');
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  const item = page.locator(`#list-arriving li[data-parcel="${parcel.id}"]`);
  await item.waitFor();
  await context.setOffline(true);
  await item.getByRole('button', { name: /Arrived/ }).click();
  await item.getByText('Saved, not confirmed yet').waitFor();
  assert.equal((await reservation(parcel.id)).state, 'reserved');
  await context.setOffline(false);
  await page.locator(`#list-waiting li[data-parcel="${parcel.id}"]`).waitFor({ timeout: 30000 });
  assert.equal((await reservation(parcel.id)).state, 'at_point');
  assert.equal((await queued(page)).length, 0);
  await context.close();
});

test('a session that ended keeps the queue; it is sent after signing in again', async () => {
  const triana = await partner(SHOP);
  const parcel = await reserve(triana.id, 'ORD-3003');
  const code = await arriveAndReadCode(triana.token, parcel.id);
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await context.setOffline(true);
  await openTab(page, 'handover');
  await keypad(page, code);
  await page.getByRole('heading', { name: 'Saved, not confirmed yet' }).waitFor();
  await openTab(page, 'shop');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.locator('#signin-msg').getByText(/1 confirmation\(s\) not sent yet stay on this phone/).waitFor();
  await context.setOffline(false);
  assert.equal((await reservation(parcel.id)).state, 'at_point');
  await signIn(page, SHOP);
  await page.locator('#outcomes').getByText('hand over order ORD-3003').waitFor({ timeout: 30000 });
  assert.equal((await reservation(parcel.id)).state, 'picked_up');
  await context.close();
});
