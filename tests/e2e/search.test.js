// The checkout widget's search box and zoomed-out map (issue 20): a town typed by name is
// found in pudo's own place data (/v1/places), a point ID through q=, and zooming out shows
// the area's points counted in H3 cells (clusters), with no tile service.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { URL as PUDO, WIDGET_SCREENSHOTS, hostServer, launch, phone, shot, until } from './lib.js';

let browser;
let host;
const page = (attrs) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout</title>
<script src="${PUDO}/widget/pudo-widget.js" defer></script>
</head><body style="margin:0;padding:16px;font-family:sans-serif">
<h1 style="font-size:22px;margin:0 0 12px">Checkout</h1>
<pudo-picker name="pickup_point" ${attrs}></pudo-picker>
</body></html>`;

before(async () => {
  browser = await launch();
  host = await hostServer((path) => (path === '/search' ? page('cluster-over="3"') : undefined));
});

after(async () => {
  await browser?.close();
  await host?.close();
});

const status = (p) => p.locator('pudo-picker [role="status"]');
const names = (p) => p.locator('pudo-picker li[role="option"] b').allTextContents();

test('a town typed by name, then a point ID, are found without a geocoder', async () => {
  const { context, page: p } = await phone(browser);
  await p.goto(`${host.origin}/search`);
  const box = p.locator('pudo-picker input');
  assert.match(await box.getAttribute('placeholder'), /Town, postcode, point ID/);

  const places = p.waitForResponse((r) => r.url().startsWith(`${PUDO}/v1/places?`));
  await box.fill('zaragoza');
  await box.press('Enter');
  const asked = await places;
  assert.equal(new URL(asked.url()).searchParams.get('q'), 'zaragoza');
  assert.equal(asked.headers()['access-control-allow-origin'], '*');
  await p.locator('pudo-picker li[role="option"]').first().waitFor();
  assert.ok((await names(p)).includes('Librería Pilar'), 'the points of Zaragoza');
  await shot(p, '09-search-town', WIDGET_SCREENSHOTS);

  const byId = p.waitForResponse((r) => r.url().startsWith(`${PUDO}/v1/pickup-points?`) && new URL(r.url()).searchParams.has('q'));
  await box.fill('ES-E2E-TRIANA');
  await box.press('Enter');
  await byId;
  await until(async () => (await names(p))[0] === 'Papelería Triana', 'the point with that ID first');
  assert.deepEqual(p.errors, []);
  await context.close();
});

test('zoomed out, the map shows clusters with exact counts; a cluster zooms back in', async () => {
  const { context, page: p } = await phone(browser);
  await p.goto(`${host.origin}/search`);
  const box = p.locator('pudo-picker input');
  await box.fill('41.6566, -0.8790');
  await box.press('Enter');
  await p.locator('pudo-picker li[role="option"]').first().waitFor();
  const out = p.locator('pudo-picker .zout');
  // Out until the whole of Spain is in view: 9 active pickup points, more than cluster-over.
  let answer = null;
  for (let i = 0; i < 6 && !(answer?.clusters?.length); i++) {
    const area = p.waitForResponse((r) => r.url().startsWith(`${PUDO}/v1/pickup-points?`) && new URL(r.url()).searchParams.has('bbox'));
    await out.click();
    answer = await (await area).json();
  }
  assert.ok(answer.clusters.length > 0, 'clusters once the area holds more than 3 points');
  assert.deepEqual(answer.items, []);
  await p.locator('pudo-picker svg g.cl').first().waitFor();
  const counts = await p.locator('pudo-picker svg g.cl').evaluateAll((gs) => gs.map((g) => Number(g.dataset.count)));
  assert.equal(counts.reduce((a, b) => a + b, 0), answer.total);
  await status(p).getByText(`${answer.total} pickup points in this area.`).waitFor();
  assert.equal(await p.locator('pudo-picker svg image').count(), 0, 'no tile service by default');
  await shot(p, '10-clusters', WIDGET_SCREENSHOTS);

  // A cluster is a place to search around: the list of its nearest points comes back.
  const nearest = p.waitForResponse((r) => r.url().startsWith(`${PUDO}/v1/pickup-points?`) && new URL(r.url()).searchParams.has('lat'));
  // The last cluster is drawn on top of any it overlaps.
  await p.locator('pudo-picker svg g.cl').last().click();
  await nearest;
  await p.locator('pudo-picker svg g.mk').first().waitFor();
  assert.equal(await p.locator('pudo-picker svg g.cl').count(), 0);
  assert.deepEqual(p.errors, []);
  await context.close();
});
