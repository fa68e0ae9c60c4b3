// Scanning the customer's QR code. Desktop Chromium on Linux has no BarcodeDetector and no
// camera, so the test gives the page both: a canvas stream as the camera, and a detector that
// reads the code the test chose (what the phone's detector would read off the merchant's QR).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { arriveAndReadCode, launch, openTab, partner, phone, reservation, reserve, signIn } from './lib.js';

const SHOP = 'ES-E2E-SOL';
let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

function fakeCamera(code) {
  window.BarcodeDetector = class {
    static async getSupportedFormats() { return ['qr_code', 'ean_13']; }
    constructor(options) { this.formats = options.formats; }
    async detect(source) {
      window.__detectCalls = (window.__detectCalls || 0) + 1;
      return source && window.__detectCalls > 2 ? [{ format: 'qr_code', rawValue: code }] : [];
    }
  };
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    window.__constraints = constraints;
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    const ctx = canvas.getContext('2d');
    setInterval(() => { ctx.fillStyle = `hsl(${Date.now() % 360},50%,50%)`; ctx.fillRect(0, 0, 320, 240); }, 50);
    return canvas.captureStream(10);
  };
}

test('without BarcodeDetector there is no scan button: the keypad is the way', async () => {
  const { context, page } = await phone(browser);
  await signIn(page, SHOP);
  await openTab(page, 'handover');
  assert.equal(await page.evaluate(() => 'BarcodeDetector' in window), false);
  assert.ok(await page.locator('#scan').isHidden());
  await context.close();
});

test('scanning the QR code confirms the handover', async () => {
  const shop = await partner(SHOP);
  const parcel = await reserve(shop.id, 'ORD-4001');
  const code = await arriveAndReadCode(shop.token, parcel.id);
  const { context, page } = await phone(browser);
  await page.addInitScript(fakeCamera, code);
  await signIn(page, SHOP);
  await openTab(page, 'handover');
  await page.getByRole('button', { name: 'Scan QR code' }).click();
  await page.getByRole('heading', { name: 'Hand over the parcel' }).waitFor();
  assert.equal(await page.locator('#result-main').textContent(), 'Order ORD-4001');
  assert.deepEqual(await page.evaluate(() => window.__constraints.video), { facingMode: 'environment' });
  assert.ok(await page.locator('#video').isHidden(), 'the camera is off again');
  assert.equal((await reservation(parcel.id)).state, 'picked_up');
  assert.deepEqual(page.errors, []);
  await context.close();
});
