// Confirmations that could not be sent wait here, in localStorage, until the server has
// answered them. Every kind is safe to send again (a repeated handover answers `replay: true`,
// a repeated arrival or return answers the parcel, a repeated receipt 409 "already received"),
// so an item leaves the queue only once the server has given a definitive answer: nothing is
// lost when the phone goes offline, reloads or runs out of battery.

import { ApiError, NetworkError, send } from './api.js';

const queueKey = (shop) => `pudo.queue.${shop}`;
const sentKey = (shop) => `pudo.sent.${shop}`;
const MAX_SENT = 20;

function read(key) {
  try {
    const value = JSON.parse(localStorage.getItem(key) || '[]');
    return Array.isArray(value) ? value : [];
  } catch {
    return [];
  }
}

function write(key, items) {
  localStorage.setItem(key, JSON.stringify(items));
}

export const pending = (shop) => read(queueKey(shop));
export const sent = (shop) => read(sentKey(shop));
export const clearSent = (shop) => write(sentKey(shop), []);

/** Adds an action to the shop's queue; a handover of a code already queued is not added twice. */
export function enqueue(shop, action) {
  const items = pending(shop);
  const same = items.find((i) => i.kind === action.kind && i.key === keyOf(action));
  if (same) return same;
  const item = {
    ...action,
    key: keyOf(action),
    qid: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    queuedAt: new Date().toISOString(),
    attempts: 0
  };
  items.push(item);
  write(queueKey(shop), items);
  return item;
}

function keyOf(action) {
  return action.kind === 'handover' ? action.code : String(action.id);
}

function update(shop, qid, change) {
  const items = pending(shop);
  const i = items.findIndex((x) => x.qid === qid);
  if (i < 0) return;
  if (change) items[i] = { ...items[i], ...change };
  else items.splice(i, 1);
  write(queueKey(shop), items);
}

function record(shop, outcome) {
  const list = [outcome, ...sent(shop)].slice(0, MAX_SENT);
  write(sentKey(shop), list);
}

/** Masks a pickup code once it has been sent: only its last four digits are kept. */
export const mask = (code) => `•••• ${String(code).slice(-4)}`;

let running = null;

/**
 * Sends the queued actions in order. `onOutcome(outcome)` is called for each definitive answer.
 * Answers `{ sent, left, offline, unauthorized }`. Only one flush runs at a time (per tab, and
 * across tabs where the Web Locks API exists), so nothing is sent twice in parallel.
 */
export function flush(shop, token, onOutcome = () => {}) {
  if (running) return running;
  const run = () => drain(shop, token, onOutcome);
  running = (navigator.locks ? navigator.locks.request(`pudo-queue-${shop}`, run) : run())
    .finally(() => { running = null; });
  return running;
}

async function drain(shop, token, onOutcome) {
  const result = { sent: 0, left: 0, offline: false, unauthorized: false };
  const done = new Set();
  for (;;) {
    const now = Date.now();
    const item = pending(shop).find((i) => !done.has(i.qid) && !(i.notBefore > now));
    if (!item) break;
    done.add(item.qid);
    let outcome;
    try {
      const answer = await send(token, item);
      outcome = { ok: true, answer };
    } catch (e) {
      if (e instanceof NetworkError) {
        update(shop, item.qid, { attempts: item.attempts + 1, lastError: e.message });
        result.offline = true;
        break;
      }
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 401) {
        result.unauthorized = true;
        break;
      }
      if (e.status === 429) {
        // Blocked for a while: keep it and try again after the wait the server gave.
        const wait = (e.retryAfter ?? 60) * 1000;
        update(shop, item.qid, { attempts: item.attempts + 1, notBefore: Date.now() + wait, lastError: e.message });
        continue;
      }
      // A receipt sent twice is answered 409: the first one landed.
      const already = item.kind === 'receipt' && e.status === 409;
      outcome = already ? { ok: true, answer: null } : { ok: false, status: e.status, detail: e.message };
    }
    const entry = {
      kind: item.kind,
      id: item.id,
      code: item.kind === 'handover' ? mask(item.code) : undefined,
      label: item.label,
      queuedAt: item.queuedAt,
      at: new Date().toISOString(),
      ...outcome
    };
    update(shop, item.qid, null);
    record(shop, entry);
    result.sent += 1;
    onOutcome(entry);
  }
  result.left = pending(shop).length;
  return result;
}
