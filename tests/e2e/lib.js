// Shared helpers of the end-to-end tests: the fixtures run.sh seeded, HTTP calls to the real
// server (as merchant, planner, partner), staged stock, a phone-size Chromium page, and pages
// served from another origin (for the checkout widget).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

function need(name) {
  const value = process.env[name];
  // Missing fixtures mean run.sh did not run: fail, never skip.
  assert.ok(value, `${name} is not set: run the tests with tests/e2e/run.sh`);
  return value;
}

export const URL = need('E2E_URL');
export const PLANNER = need('E2E_PLANNER');
export const MERCHANT = need('E2E_MERCHANT');
export const KEYS = JSON.parse(need('E2E_KEYS'));
export const SCREENSHOTS = need('E2E_SCREENSHOTS');
export const WIDGET_SCREENSHOTS = need('E2E_WIDGET_SCREENSHOTS');
export const PHONE = { width: 390, height: 844 };

/** One HTTP call to the server; answers { status, body, headers }. */
export async function http(method, path, { token, json, text, contentType } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(json); }
  if (text !== undefined) { headers['content-type'] = contentType || 'text/plain'; body = text; }
  const res = await fetch(URL + path, { method, headers, body });
  const raw = await res.text();
  let parsed = raw;
  try { parsed = raw ? JSON.parse(raw) : null; } catch { /* not JSON */ }
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function ok(method, path, options) {
  const res = await http(method, path, options);
  assert.ok(res.status >= 200 && res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A partner token for the shop (the same exchange the app makes) and its pudo id. */
export async function partner(shop) {
  const body = await ok('POST', '/v1/auth/token', { json: { shop, api_key: KEYS[shop] } });
  return { token: body.access_token, id: body.shop_id };
}

/** Reserves a slot for an order at the shop, as a merchant's checkout does; answers the parcel. */
export const reserve = (shopId, orderRef, sku) =>
  ok('POST', '/v1/reservations', { token: MERCHANT, json: { pickup_point_id: shopId, order_ref: orderRef, sku } });

export const reservation = (id) => ok('GET', `/v1/reservations/${id}`, { token: MERCHANT });

/** Marks the parcel arrived (as the partner) and reads its pickup code once (as the merchant). */
export async function arriveAndReadCode(partnerToken, parcelId) {
  await ok('POST', `/v1/partner/parcels/${parcelId}/arrival`, { token: partnerToken });
  const r = await reservation(parcelId);
  assert.match(r.pickup_code, /^\d{8}$/);
  return r.pickup_code;
}

/** The parent cell of an H3 index (hex) at a coarser resolution. */
export function h3Parent(hex, res) {
  let h = BigInt(`0x${hex}`);
  const current = Number((h >> 52n) & 0xfn);
  assert.ok(res <= current, `cell ${hex} is at resolution ${current}`);
  h = (h & ~(0xfn << 52n)) | (BigInt(res) << 52n);
  for (let r = res + 1; r <= current; r++) h |= 7n << BigInt((15 - r) * 3);
  return h.toString(16);
}

/**
 * Stages stock at the shop ({ id } from `partner`) as a planner does: an event with a forecast
 * in the shop's resolution-8 cell, a plan, approved and dispatched. Answers the plan id.
 */
export async function dispatchPlan(shop, name, lines) {
  const point = await ok('GET', `/v1/pickup-points/${shop.id}`);
  const zone = h3Parent(point.h3_cell, 8);
  const event = await ok('POST', '/v1/events', {
    token: PLANNER,
    json: { name, starts_at: '2030-11-11T00:00:00+01:00', ends_at: '2030-11-12T00:00:00+01:00', timezone: 'Europe/Madrid' }
  });
  // A line may give its size class third (`['SKU-RING', 2, 'S']`): the forecast then has sizes.
  const sized = lines.some((l) => l.length > 2);
  const csv = [sized ? 'zone,sku,units,size' : 'zone,sku,units',
    ...lines.map(([sku, units, size]) => (sized ? `${zone},${sku},${units},${size || ''}` : `${zone},${sku},${units}`))].join('\n');
  await ok('POST', `/v1/events/${event.id}/forecast`, { token: PLANNER, text: csv, contentType: 'text/csv' });
  const plan = await ok('POST', `/v1/events/${event.id}/plans`, { token: PLANNER, json: {} });
  await ok('POST', `/v1/plans/${plan.id}/approve`, { token: PLANNER });
  await ok('POST', `/v1/plans/${plan.id}/dispatch`, { token: PLANNER });
  return plan.id;
}

/**
 * Calls `check` until it answers something truthy (at most `tries` times, `everyMs` apart);
 * for what the server applies asynchronously, such as free slots in the geo index.
 */
export async function until(check, what, { tries = 100, everyMs = 100 } = {}) {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  assert.fail(`still not true after ${tries} tries: ${what}`);
}

/**
 * An HTTP server on its own port (so another origin than the pudo server) answering
 * `routes[path]` (or `routes(path)` when `routes` is a function): a string (served as HTML) or
 * `{ type, body }`. Answers { origin, requests, close }; `requests` lists the URLs asked for.
 */
export async function hostServer(routes) {
  const requests = [];
  const server = createServer((req, res) => {
    const path = req.url.split('?')[0];
    requests.push(req.url);
    const route = typeof routes === 'function' ? routes(path) : routes[path];
    if (route === undefined) { res.writeHead(404).end(); return; }
    const { type, body } = typeof route === 'string' ? { type: 'text/html; charset=utf-8', body: route } : route;
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, requests, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** The value of a Prometheus counter line, e.g. metric('pudo_handovers_total{result="success"}'). */
export async function metric(prefix) {
  const res = await fetch(`${URL}/metrics`);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(prefix + ' '));
  return line ? Number(line.slice(prefix.length + 1)) : 0;
}

/** Headless Debian Chromium with a fresh profile (Playwright gives each launch a new one). */
export async function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'
    ]
  });
}

/** A new phone-size browser context and page. */
export async function phone(browser, { locale = 'en-GB', ...options } = {}) {
  const context = await browser.newContext({
    viewport: PHONE,
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale,
    timezoneId: 'Europe/Madrid',
    ...options
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) errors.push(m.text()); });
  page.errors = errors;
  return { context, page };
}

/**
 * A screenshot of the page into `dir` (default: the partner app's screenshots); without the
 * focus ring unless `blur` is false (to show keyboard use).
 */
export async function shot(page, name, dir = SCREENSHOTS, { blur = true } = {}) {
  mkdirSync(dir, { recursive: true });
  if (!blur) {
    await page.screenshot({ path: join(dir, `${name}.png`), animations: 'disabled' });
    return;
  }
  // Screens as the owner sees them after a moment: no focus ring, no passing toast.
  await page.evaluate(() => {
    window.__refocus = document.activeElement;
    document.activeElement?.blur?.();
    document.getElementById('toast')?.setAttribute('hidden', '');
  });
  await page.screenshot({ path: join(dir, `${name}.png`), animations: 'disabled' });
  await page.evaluate(() => { window.__refocus?.focus?.({ preventScroll: true }); delete window.__refocus; });
}

/** Opens the app and signs in as the shop; resolves once Today is shown. */
export async function signIn(page, shop) {
  await page.goto(`${URL}/partner/`);
  await page.getByLabel(/Shop ID|店铺编号|ID de la tienda/).fill(shop);
  await page.getByLabel(/API key|API 密钥|Clave API/).fill(KEYS[shop]);
  await page.locator('#signin').click();
  await page.locator('#view-today').waitFor({ state: 'visible' });
}

/** Types a code on the on-screen keypad and confirms it. */
export async function keypad(page, code) {
  await page.locator('#view-handover').waitFor({ state: 'visible' });
  await page.locator('.keypad [data-key="clear"]').click();
  for (const digit of code) await page.locator(`.keypad [data-key="${digit}"]`).click();
  await page.locator('#confirm').click();
}

export async function openTab(page, name) {
  await page.locator(`#nav a[data-view="${name}"]`).click();
  await page.locator(`#view-${name}`).waitFor({ state: 'visible' });
}

/** An 8-digit code that is none of `known`. */
export function wrongCode(known) {
  for (let n = 13572468; ; n = (n + 7654321) % 100000000) {
    const code = String(n).padStart(8, '0');
    if (!known.includes(code)) return code;
  }
}
