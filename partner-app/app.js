// pudo partner: the shop owner's app. Screens: sign in, Today, Handover and Drop-off (one
// keypad screen in two modes, with its result), Returns (collections), Statement, Shop. Plain DOM, no framework; texts come from i18n.js, the API from api.js, and actions
// that could not be sent wait in queue.js until they land.

import * as api from './api.js';
import { ApiError, NetworkError } from './api.js';
import * as queue from './queue.js';
import { LANGUAGES, initialLanguage, language, setLanguage, t, translate } from './i18n.js';

const $ = (id) => document.getElementById(id);
const SESSION = 'pudo.session';
const LAST_SHOP = 'pudo.last-shop';
const VIEWS = ['signin', 'today', 'handover', 'result', 'returns', 'statement', 'shop'];
const LISTS = ['arriving', 'waiting', 'to_return'];

const S = {
  session: null, // { token, shop (external id), shopId, expiresAt }
  shop: null, // GET /v1/partner/shop
  lists: { arriving: [], waiting: [], to_return: [] },
  staging: [],
  updatedAt: null,
  reachable: true,
  refreshing: false,
  refreshAgain: false,
  busy: new Set(), // keys of actions in flight
  shortfall: new Set(), // plan ids whose receipt form is open
  result: null,
  mode: 'handover', // what the keypad screen confirms: 'handover' or 'dropoff'
  collections: null, // GET /v1/partner/collections items, null until loaded
  picked: new Set(), // return ids ticked as taken by the driver
  month: null, // the statement's month, YYYY-MM
  statement: null,
  closures: null, // GET /v1/partner/shop/closures
  editingCaps: false, // the Shop screen's declaration form is open
  blockedUntil: 0,
  retryDelay: 5000,
  retryTimer: 0,
  view: null
};

// ---------------------------------------------------------------- small helpers

/** Builds an element: h('li', { class: 'x', onclick }, 'text', child, …). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

function utc(value) {
  if (!value) return null;
  const s = String(value);
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);
}

/** The browser's own locale when it is of the app's language (en-GB: 24-hour clock), else the language. */
function locale() {
  const lang = language();
  const own = navigator.language || '';
  return own.toLowerCase().split('-')[0] === lang ? own : lang;
}

function fmt(value, options) {
  const d = value instanceof Date ? value : utc(value);
  if (!d || Number.isNaN(d.getTime())) return '';
  const tz = S.shop?.timezone;
  try {
    return new Intl.DateTimeFormat(locale(), { ...options, timeZone: tz || undefined }).format(d);
  } catch {
    return new Intl.DateTimeFormat(locale(), options).format(d);
  }
}
const time = (v) => fmt(v, { hour: '2-digit', minute: '2-digit' });
const dateTime = (v) => fmt(v, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

function wait(ms) {
  const total = Math.max(1, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return m ? t('minutes_seconds', { m, s }) : t('seconds', { s });
}

const spaced = (code) => `${code.slice(0, 4)} ${code.slice(4)}`;

function store(kind, key, value) {
  try {
    if (value === undefined) kind.removeItem(key);
    else kind.setItem(key, JSON.stringify(value));
  } catch { /* storage full or disabled: the app still works for this page */ }
}
function load(kind, key) {
  try { return JSON.parse(kind.getItem(key) || 'null'); } catch { return null; }
}

let toastTimer = 0;
function toast(text) {
  const el = $('toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

// ---------------------------------------------------------------- connection state

function online() { return navigator.onLine && S.reachable; }

function reached(ok) {
  if (S.reachable === ok) return;
  S.reachable = ok;
  renderNet();
  if (ok) flushSoon(0);
}

function renderNet() {
  const on = online();
  const net = $('net');
  net.textContent = on ? t('online') : t('offline');
  net.className = `net ${on ? 'on' : 'off'}`;
  $('banner').hidden = on || !S.session;
}

// ---------------------------------------------------------------- views and routing

function show(view, focus = true) {
  if (!S.session) view = 'signin';
  S.view = view;
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  const signedIn = view !== 'signin';
  $('bar').hidden = !signedIn;
  $('nav').hidden = !signedIn;
  // The keypad screen (and its result) belongs to the Returns tab while it takes in returns.
  const tab = view === 'result' || view === 'handover' ? (S.mode === 'dropoff' ? 'returns' : 'handover') : view;
  for (const a of $('nav').querySelectorAll('a')) {
    if (a.dataset.view === tab) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  renderNet();
  if (view === 'today') renderToday();
  if (view === 'shop') renderShop();
  if (view === 'handover') { renderMode(); renderBlocked(); }
  if (view === 'returns') { renderCollections(); loadCollections(); }
  if (view === 'statement') { renderStatement(); loadStatement(S.month || months()[0]); }
  if (view === 'shop') loadClosures();
  if (focus) {
    const heading = $(`view-${view}`).querySelector('h1');
    heading?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
}

function route() {
  const name = location.hash.replace(/^#/, '') || 'today';
  if (name === 'handover' || name === 'dropoff') {
    S.mode = name;
    return show('handover');
  }
  show(['today', 'returns', 'statement', 'shop'].includes(name) ? name : 'today');
}

// ---------------------------------------------------------------- session

function saveSession() { store(sessionStorage, SESSION, S.session ?? undefined); }

function startSession(session) {
  S.session = session;
  saveSession();
  const cached = load(localStorage, `pudo.cache.${session.shop}`);
  if (cached) Object.assign(S, { shop: cached.shop, lists: cached.lists, staging: cached.staging, updatedAt: cached.updatedAt });
  S.blockedUntil = load(sessionStorage, 'pudo.blocked') || 0;
  renderShopName();
  route();
  refresh();
  flushSoon(0);
}

function endSession(message) {
  S.session = null;
  saveSession();
  Object.assign(S, {
    shop: null, lists: { arriving: [], waiting: [], to_return: [] }, staging: [], updatedAt: null,
    collections: null, statement: null, closures: null, editingCaps: false
  });
  S.picked.clear();
  clearTimeout(S.retryTimer);
  $('key').value = '';
  setMsg($('signin-msg'), message || '', 'info');
  show('signin');
}

function setMsg(el, text, kind = '') {
  el.textContent = text;
  el.className = `msg ${kind}`;
}

async function signIn(event) {
  event.preventDefault();
  const shop = $('shop').value.trim();
  const key = $('key').value.trim();
  const msg = $('signin-msg');
  if (!shop || !key) {
    setMsg(msg, t('signin_wrong'));
    (shop ? $('key') : $('shop')).focus();
    return;
  }
  const button = $('signin');
  button.disabled = true;
  button.textContent = t('signing_in');
  setMsg(msg, '');
  try {
    const answer = await api.signIn(shop, key);
    reached(true);
    store(localStorage, LAST_SHOP, shop);
    $('key').value = '';
    const expiresAt = Date.now() + (answer.expires_in - 60) * 1000;
    startSession({ token: answer.access_token, shop, shopId: answer.shop_id, expiresAt });
  } catch (e) {
    if (e instanceof NetworkError) reached(false);
    setMsg(msg, e instanceof NetworkError ? t('signin_offline') : e.status === 401 ? t('signin_wrong') : t('error_generic', { detail: e.message }));
    $('key').focus();
  } finally {
    button.disabled = false;
    button.textContent = t('signin');
  }
}

function signOut() {
  const n = S.session ? queue.pending(S.session.shop).length : 0;
  endSession(n ? `${t('signed_out')} ${t('signout_pending', { n })}` : t('signed_out'));
}

/** Runs an API call with the session's token; a 401 ends the session. */
async function call(fn) {
  try {
    const answer = await fn(S.session.token);
    reached(true);
    return answer;
  } catch (e) {
    if (e instanceof NetworkError) reached(false);
    else reached(true);
    if (e instanceof ApiError && e.status === 401) endSession(t('session_over'));
    throw e;
  }
}

// ---------------------------------------------------------------- Today

async function refresh() {
  if (!S.session) return;
  if (S.refreshing) {
    // Something changed while the lists were on their way: fetch them again afterwards.
    S.refreshAgain = true;
    return;
  }
  S.refreshing = true;
  S.refreshAgain = false;
  const button = $('refresh');
  button.textContent = t('refreshing');
  button.disabled = true;
  const shopExt = S.session.shop;
  try {
    const [shop, arriving, waiting, toReturn, staging] = await Promise.all([
      call(api.shop),
      call((tk) => api.parcels(tk, 'arriving')),
      call((tk) => api.parcels(tk, 'waiting')),
      call((tk) => api.parcels(tk, 'to_return')),
      call(api.staging)
    ]);
    if (S.session?.shop !== shopExt) return;
    S.shop = shop;
    S.lists = { arriving: arriving.items, waiting: waiting.items, to_return: toReturn.items };
    S.staging = staging.items;
    S.updatedAt = new Date().toISOString();
    store(localStorage, `pudo.cache.${shopExt}`, { shop, lists: S.lists, staging: S.staging, updatedAt: S.updatedAt });
  } catch (e) {
    if (!(e instanceof NetworkError) && !(e instanceof ApiError)) throw e;
  } finally {
    S.refreshing = false;
    button.textContent = t('refresh');
    button.disabled = false;
    renderShopName();
    if (S.view === 'today') renderToday();
    if (S.view === 'shop') renderShop();
    if (S.refreshAgain && S.session) refresh();
  }
}

function renderShopName() {
  $('shop-name').textContent = S.shop ? S.shop.name : S.session?.shop || '';
}

/** The queued action of this kind and id, if any. */
function queued(kind, id) {
  return S.session && queue.pending(S.session.shop).find((i) => i.kind === kind && String(i.id) === String(id));
}

function parcelItem(p, action) {
  const q = action && queued(action.kind, p.id);
  const busy = action && S.busy.has(`${action.kind}:${p.id}`);
  return h('li', { 'data-parcel': p.id },
    h('div', { class: 'item-main' },
      h('strong', {}, t('order', { order: p.order_ref })),
      h('span', {}, [t('parcel', { id: p.id }), p.sku ? t('sku', { sku: p.sku }) : null,
        p.expires_at && p.state === 'at_point' ? t('until', { date: dateTime(p.expires_at) }) : null]
        .filter(Boolean).join(' · ')),
      conditionChips(p)),
    action && (q
      ? h('span', { class: 'chip' }, t('r_queued'))
      : h('button', {
        type: 'button', class: 'secondary', disabled: busy,
        'aria-label': `${action.label} – ${t('order', { order: p.order_ref })}`,
        onclick: () => parcelAction(action.kind, p)
      }, action.label)));
}

function manifestItem(m) {
  const open = S.shortfall.has(m.plan_id);
  const q = queued('receipt', m.plan_id);
  const busy = S.busy.has(`receipt:${m.plan_id}`);
  const total = m.lines.reduce((n, l) => n + l.units, 0);
  const lines = h('ul', { class: 'lines' }, m.lines.map((l) => {
    const id = `recv-${m.plan_id}-${l.sku}`.replace(/[^\w-]/g, '_');
    return h('li', {},
      open
        ? [h('label', { for: id }, t('received_label', { sku: l.sku, units: l.units })), sizeChip(l),
          h('input', { id, type: 'number', inputmode: 'numeric', min: 0, max: l.units, value: l.units, 'data-sku': l.sku, 'data-units': l.units })]
        : [h('span', {}, l.sku, sizeChip(l)),
          h('strong', {}, l.received === null || l.received === undefined
            ? t('units', { units: l.units })
            : t('received_of', { received: l.received, units: l.units }))]);
  }));
  let actions = null;
  if (q) actions = h('span', { class: 'chip' }, t('r_queued'));
  else if (open) {
    actions = h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => { S.shortfall.delete(m.plan_id); renderToday(); } }, t('cancel')),
      h('button', { type: 'button', class: 'primary', disabled: busy, onclick: (e) => receipt(m, e.target.closest('li')) }, t('confirm_receipt')));
  } else {
    actions = h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', disabled: busy, onclick: () => { S.shortfall.add(m.plan_id); renderToday(); $(`recv-${m.plan_id}-${m.lines[0].sku}`.replace(/[^\w-]/g, '_'))?.focus(); } }, t('some_missing')),
      h('button', { type: 'button', class: 'primary', disabled: busy, onclick: () => receipt(m, null) }, t('all_arrived')));
  }
  return h('li', { 'data-plan': m.plan_id },
    h('div', { class: 'item-main' }, h('strong', {}, m.event), h('span', {}, t('units', { units: total }))),
    lines, actions);
}

/** A manifest line's size class (S, M or L): which compartment its units go in. */
function sizeChip(l) {
  return l.size ? h('span', { class: 'chip size', 'data-size': l.size }, t('size_class', { size: l.size })) : null;
}

function renderToday() {
  if (!S.session) return;
  $('updated').textContent = S.updatedAt ? t('updated', { time: time(S.updatedAt) }) : '';
  renderQueue();
  const toReceive = S.staging.filter((m) => !m.received);
  const counts = { ...Object.fromEntries(LISTS.map((k) => [k, S.lists[k].length])), stock: toReceive.length };
  const tiles = $('tiles');
  tiles.replaceChildren(...['arriving', 'waiting', 'to_return', 'stock'].map((k) =>
    h('li', { class: k === 'to_return' && counts[k] ? 'urgent' : '' },
      h('button', { type: 'button', 'data-tile': k, onclick: () => { const s = $(`h-${k}`); s.scrollIntoView({ block: 'start' }); s.focus({ preventScroll: true }); } },
        h('strong', {}, String(counts[k])), h('span', {}, t(k))))));
  const actions = {
    arriving: { kind: 'arrival', label: t('mark_arrived') },
    waiting: null,
    to_return: { kind: 'return', label: t('mark_returned') }
  };
  for (const k of LISTS) {
    $(`n-${k}`).textContent = counts[k];
    const items = S.lists[k].map((p) => parcelItem(p, actions[k]));
    $(`list-${k}`).replaceChildren(...(items.length ? items : [h('li', { class: 'empty' }, t('none'))]));
  }
  $('n-stock').textContent = counts.stock;
  const manifests = toReceive.map(manifestItem);
  $('list-stock').replaceChildren(...(manifests.length ? manifests : [h('li', { class: 'empty' }, t('none'))]));
}

function describe(item) {
  switch (item.kind) {
    case 'handover': return t('pending_handover', { code: item.code.length === 8 ? spaced(item.code) : item.code });
    case 'arrival': return t('pending_arrival', { id: item.id }) + (item.label ? ` (${item.label})` : '');
    case 'return': return t('pending_return', { id: item.id }) + (item.label ? ` (${item.label})` : '');
    default: return t('pending_receipt', { id: item.id }) + (item.label ? ` (${item.label})` : '');
  }
}

function outcomeText(o) {
  if (o.ok && o.kind === 'handover') {
    return t(o.answer.replay ? 'out_handover_replay' : 'out_handover', { code: o.code, order: o.answer.order_ref });
  }
  if (o.ok) return t('out_done', { what: describe(o) });
  const reason = { 404: t('r_unknown_text'), 410: t('r_expired_text') }[o.status]
    || (o.kind === 'handover' && o.status === 409 ? t('r_gone_text') : o.detail);
  return t('out_failed', { what: describe(o), reason });
}

function renderQueue() {
  const shop = S.session?.shop;
  if (!shop) return;
  const items = queue.pending(shop);
  const badge = $('nav-pending');
  badge.hidden = !items.length;
  badge.textContent = items.length;
  const box = $('pending');
  if (!items.length) box.replaceChildren();
  else {
    box.replaceChildren(h('section', { class: 'card pending', 'aria-labelledby': 'h-pending' },
      h('h2', { id: 'h-pending' }, t('pending_title', { n: items.length })),
      h('p', { class: 'hint' }, t('pending_hint')),
      h('ul', {}, items.map((i) => h('li', {}, `${describe(i)} — ${t('queued_at', { time: time(i.queuedAt) })}`))),
      h('button', { type: 'button', class: 'secondary', id: 'send-now', onclick: () => flushSoon(0) }, t('send_now'))));
  }
  const sent = queue.sent(shop);
  const out = $('outcomes');
  if (!sent.length) out.replaceChildren();
  else {
    out.replaceChildren(h('section', { class: 'card outcomes', 'aria-labelledby': 'h-sent' },
      h('h2', { id: 'h-sent' }, t('sent_title')),
      h('ul', {}, sent.map((o) => h('li', { class: o.ok ? '' : 'fail' }, `${time(o.at)} · ${outcomeText(o)}`))),
      h('button', { type: 'button', class: 'ghost', onclick: () => { queue.clearSent(shop); renderToday(); } }, t('dismiss'))));
  }
}

async function parcelAction(kind, parcel) {
  const key = `${kind}:${parcel.id}`;
  S.busy.add(key);
  renderToday();
  try {
    await call((tk) => api.send(tk, { kind, id: parcel.id }));
    toast(t(kind === 'arrival' ? 'marked_arrived' : 'marked_returned', { order: parcel.order_ref }));
    refresh();
  } catch (e) {
    if (e instanceof NetworkError) {
      queue.enqueue(S.session.shop, { kind, id: parcel.id, label: parcel.order_ref });
      toast(t('r_queued'));
      flushSoon();
    } else if (e instanceof ApiError && e.status !== 401) {
      toast(t('error_generic', { detail: e.message }));
      refresh();
    }
  } finally {
    S.busy.delete(key);
    if (S.view === 'today') renderToday();
  }
}

async function receipt(manifest, li) {
  let lines = [];
  if (li) {
    for (const input of li.querySelectorAll('input[data-sku]')) {
      const units = Number(input.dataset.units);
      const n = Number(input.value);
      if (!Number.isInteger(n) || n < 0 || n > units) {
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        toast(t('received_label', { sku: input.dataset.sku, units }));
        return;
      }
      if (n < units) lines.push({ sku: input.dataset.sku, received: n });
    }
  }
  const key = `receipt:${manifest.plan_id}`;
  S.busy.add(key);
  renderToday();
  const action = { kind: 'receipt', id: manifest.plan_id, lines, label: manifest.event };
  try {
    await call((tk) => api.send(tk, action));
    S.shortfall.delete(manifest.plan_id);
    toast(t('stock_received', { event: manifest.event }));
    refresh();
  } catch (e) {
    if (e instanceof NetworkError) {
      S.shortfall.delete(manifest.plan_id);
      queue.enqueue(S.session.shop, action);
      toast(t('r_queued'));
      flushSoon();
    } else if (e instanceof ApiError && e.status !== 401) {
      toast(t('error_generic', { detail: e.message }));
      refresh();
    }
  } finally {
    S.busy.delete(key);
    if (S.view === 'today') renderToday();
  }
}

// ---------------------------------------------------------------- the queue

/** Sends the queue after `delay` ms (default: the current back-off). */
function flushSoon(delay) {
  clearTimeout(S.retryTimer);
  if (!S.session || !queue.pending(S.session.shop).length) return;
  S.retryTimer = setTimeout(flushNow, delay ?? S.retryDelay);
}

async function flushNow() {
  if (!S.session) return;
  const { shop, token } = S.session;
  const button = $('send-now');
  if (button) { button.disabled = true; button.textContent = t('sending'); }
  const result = await queue.flush(shop, token, (o) => {
    toast(outcomeText(o));
    if (S.view === 'today') renderToday();
  });
  if (S.session?.shop !== shop) return;
  if (result.unauthorized) return endSession(t('session_over'));
  if (result.offline) reached(false);
  else reached(true);
  if (result.sent) refresh();
  S.retryDelay = result.offline ? Math.min(S.retryDelay * 2, 60000) : 5000;
  renderQueue();
  if (S.view === 'today') renderToday();
  if (result.left) {
    const next = Math.min(...queue.pending(shop).map((i) => (i.notBefore ? Math.max(0, i.notBefore - Date.now()) : S.retryDelay)));
    flushSoon(Math.max(next, 1000));
  }
}

// ---------------------------------------------------------------- Handover

function digits(value) {
  return String(value)
    .replace(/[\uFF10-\uFF19]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xFF10 + 48))
    .replace(/\D/g, '')
    .slice(0, 8);
}

function setCode(value) {
  const input = $('code');
  input.value = digits(value);
  $('confirm').disabled = input.value.length !== 8 || Date.now() < S.blockedUntil;
}

let blockedTimer = 0;
function renderBlocked() {
  clearTimeout(blockedTimer);
  const left = S.blockedUntil - Date.now();
  const el = $('blocked');
  el.hidden = left <= 0;
  if (left > 0) {
    el.textContent = t('blocked', { wait: wait(left) });
    blockedTimer = setTimeout(renderBlocked, 1000);
  }
  setCode($('code').value);
  if (S.view === 'result' && S.result?.kind === 'limit') renderResult();
}

async function confirmHandover(event) {
  event?.preventDefault();
  const code = digits($('code').value);
  if (code.length !== 8) { $('code').focus(); return; }
  if (Date.now() < S.blockedUntil) return showResult({ kind: 'limit' });
  if (S.mode === 'dropoff') return confirmDropoff(code);
  const button = $('confirm');
  button.disabled = true;
  button.textContent = t('checking');
  $('code-form').setAttribute('aria-busy', 'true');
  try {
    await handOver(code, {});
  } finally {
    button.textContent = t(S.mode === 'dropoff' ? 'confirm_dropoff' : 'confirm');
    $('code-form').removeAttribute('aria-busy');
    setCode($('code').value);
  }
}

/** The 409 reasons of a parcel with conditions at the counter (cash on delivery, an ID check). */
const CONDITIONS = ['cash_not_confirmed', 'id_check_required'];

/**
 * Sends a handover with what the partner confirmed (`cash_collected`, `id_checked`) and shows
 * the answer. A parcel with conditions answers 409 with all of them: the conditions screen
 * shows them and sends the code again once the partner confirmed each one.
 */
async function handOver(code, confirmed) {
  const shop = S.session.shop;
  try {
    const answer = await call((tk) => api.send(tk, { kind: 'handover', code, ...confirmed }));
    showResult({ kind: answer.replay ? 'replay' : 'ok', answer });
    refresh();
  } catch (e) {
    if (e instanceof NetworkError || (e instanceof ApiError && e.status === 401)) {
      // Nothing was decided: keep the code on the phone and send it when possible.
      queue.enqueue(shop, { kind: 'handover', code, ...confirmed });
      if (e instanceof NetworkError) {
        showResult({ kind: 'queued', code });
        flushSoon();
      }
    } else if (e instanceof ApiError) {
      if (e.status === 429) {
        S.blockedUntil = Date.now() + (e.retryAfter ?? 60) * 1000;
        store(sessionStorage, 'pudo.blocked', S.blockedUntil);
      }
      if (e.status === 409 && CONDITIONS.includes(e.problem.reason)) {
        return showResult({ kind: 'conditions', code, problem: e.problem });
      }
      const kind = { 404: 'unknown', 410: 'expired', 409: 'gone', 429: 'limit' }[e.status] || 'error';
      showResult({ kind, detail: e.message });
    } else throw e;
  }
}

/** The cash on delivery of an answer or problem, as money. */
const cash = (c) => money(c.amount_minor, c.currency);

/**
 * What the counter must see before the handover: the cash to collect, the ID check and the
 * authorised collector, with one box per confirmation; Confirm handover sends the code again
 * once every box is ticked.
 */
function conditionsForm(r) {
  const p = r.problem;
  const needs = [];
  const lines = [];
  if (p.cash_on_delivery) {
    const amount = cash(p.cash_on_delivery);
    lines.push(h('p', { class: 'cond', 'data-cond': 'cash' }, t('cond_cash', { amount })));
    needs.push(['cash_collected', t('cond_cash_confirm', { amount })]);
  }
  if (p.id_check) {
    lines.push(h('p', { class: 'cond', 'data-cond': 'id' }, p.id_check === 'named_recipient'
      ? t('cond_named', { name: p.recipient_name || '' })
      : t('cond_age_18')));
    needs.push(['id_checked', t('cond_id_confirm')]);
  }
  if (p.collector_name) {
    lines.push(h('p', { class: 'cond', 'data-cond': 'collector' }, t('cond_collector', { name: p.collector_name })));
  }
  const go = h('button', { type: 'submit', class: 'big', id: 'cond-confirm', disabled: true }, t('confirm'));
  const boxes = needs.map(([name, label]) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name, id: `cond-${name}` }), h('span', {}, label)));
  const form = h('form', { id: 'cond-form', novalidate: true }, lines, boxes, go);
  const ticked = (name) => Boolean(form.elements[name]?.checked);
  form.addEventListener('change', () => { go.disabled = !needs.every(([n]) => ticked(n)); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    go.disabled = true;
    go.textContent = t('checking');
    await handOver(r.code, { cash_collected: ticked('cash_collected'), id_checked: ticked('id_checked') });
  });
  return form;
}

/** After a handover: the cash collected and who may collect, as the answer names them. */
function handedOverNotes(a) {
  return [
    a.cash_collected ? h('p', { class: 'cond', 'data-cond': 'cash' }, t('r_cash_collected', { amount: cash(a.cash_collected) })) : null,
    a.collector_name ? h('p', { class: 'cond', 'data-cond': 'collector' }, t('cond_collector', { name: a.collector_name })) : null
  ].filter(Boolean);
}

/** The conditions of a waiting parcel as chips in the Today list. */
function conditionChips(p) {
  return [
    p.cash_on_delivery ? h('span', { class: 'chip cond-chip' }, t('chip_cash', { amount: cash(p.cash_on_delivery) })) : null,
    p.id_check === 'age_18' ? h('span', { class: 'chip cond-chip' }, t('chip_age_18')) : null,
    p.id_check === 'named_recipient' ? h('span', { class: 'chip cond-chip' }, t('chip_named', { name: p.recipient_name || '' })) : null,
    p.collector_name ? h('span', { class: 'chip cond-chip' }, t('chip_collector', { name: p.collector_name })) : null
  ].filter(Boolean);
}


const ICONS = {
  ok: '<svg viewBox="0 0 24 24"><path d="M5 12.5l4.5 4.5L19 7.5" fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/></svg>',
  replay: '<svg viewBox="0 0 24 24"><path d="M12 7v6M12 16.5v.5" fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round"/></svg>',
  bad: '<svg viewBox="0 0 24 24"><path d="M7 7l10 10M17 7L7 17" fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round"/></svg>',
  queued: '<svg viewBox="0 0 24 24"><path d="M12 6v6l4 2" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round"/><circle cx="12" cy="12" r="8.5" fill="none" stroke="#fff" stroke-width="2"/></svg>'
};

function showResult(result) {
  S.result = result;
  renderResult();
  show('result');
}

function renderResult() {
  const r = S.result;
  if (!r) return;
  const a = r.answer;
  let tone = 'bad';
  let title = t('r_error');
  let main = '';
  let detail = r.detail || '';
  switch (r.kind) {
    case 'ok':
      tone = 'ok'; title = t('r_ok'); main = t('r_ok_text', { order: a.order_ref });
      detail = t('r_ok_detail', { id: a.parcel_id, time: time(a.picked_up_at) });
      break;
    case 'replay':
      tone = 'replay'; title = t('r_replay'); main = t('r_ok_text', { order: a.order_ref });
      detail = t('r_replay_text', { time: dateTime(a.picked_up_at), order: a.order_ref });
      break;
    case 'conditions':
      tone = 'replay'; title = t('cond_title'); detail = t('cond_text');
      break;
    case 'unknown': title = t('r_unknown'); detail = t('r_unknown_text'); break;
    case 'expired': title = t('r_expired'); detail = t('r_expired_text'); break;
    case 'gone': title = t('r_gone'); detail = t('r_gone_text'); break;
    case 'limit':
      title = t('r_limit');
      detail = t('r_limit_text', { wait: wait(S.blockedUntil - Date.now()) });
      break;
    case 'queued':
      tone = 'queued'; title = t('r_queued'); main = spaced(r.code); detail = t('r_queued_text');
      break;
    case 'd_ok':
      tone = 'ok'; title = t('d_ok'); main = t('r_ok_text', { order: a.order_ref });
      detail = t('d_ok_detail', { id: a.return_id, time: time(a.dropped_off_at) });
      break;
    case 'd_replay':
      tone = 'replay'; title = t('d_replay'); main = t('r_ok_text', { order: a.order_ref });
      detail = t('d_replay_text', { time: dateTime(a.dropped_off_at), id: a.return_id });
      break;
    case 'd_unknown': title = t('r_unknown'); detail = t('d_unknown_text'); break;
    case 'd_expired': title = t('r_expired'); detail = t('d_expired_text'); break;
    case 'd_refused': {
      title = t('d_refused');
      const why = { full: 'd_full', paused: 'd_paused', closed: 'd_closed', no_returns_service: 'd_no_service' }[r.reason];
      detail = why ? t(why) : t('error_generic', { detail: r.detail || '' });
      break;
    }
    case 'd_offline':
      tone = 'queued'; title = t('d_offline'); main = spaced(r.code); detail = t('d_offline_text');
      break;
    default:
      detail = t('error_generic', { detail: r.detail || '' });
  }
  const view = $('view-result');
  view.className = `view result ${tone}`;
  view.dataset.result = r.kind;
  $('result-icon').innerHTML = ICONS[tone];
  $('result-title').textContent = title;
  $('result-main').textContent = main;
  $('result-detail').textContent = detail;
  const box = $('result-conditions');
  const notes = r.kind === 'conditions' ? [conditionsForm(r)] : r.kind === 'ok' ? handedOverNotes(a) : [];
  box.replaceChildren(...notes);
  box.hidden = notes.length === 0;
}

function nextCustomer() {
  S.result = null;
  setCode('');
  show('handover');
  // With a mouse and keyboard, the field takes the focus; on a touch screen it would open the
  // phone's keyboard over the keypad (typed digits reach the code anyway, see typedAnywhere).
  if (matchMedia('(pointer: fine)').matches) $('code').focus();
  if (location.hash !== `#${S.mode}`) history.replaceState(null, '', `#${S.mode}`);
}

/**
 * Digits typed while the Handover or result screen shows, outside any field, go to the code:
 * a USB or Bluetooth barcode scanner "types" the code and Enter, and works without a tap.
 */
function typedAnywhere(e) {
  if (!['handover', 'result'].includes(S.view) || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.closest?.('input, select, textarea, button, a')) return;
  const digit = /^\d$/.test(e.key);
  if (!digit && !['Enter', 'Backspace', 'Escape'].includes(e.key)) return;
  e.preventDefault();
  if (S.view === 'result') {
    if (digit || e.key === 'Enter' || e.key === 'Escape') nextCustomer();
    if (digit) setCode(e.key);
    return;
  }
  const v = $('code').value;
  if (digit) setCode(v + e.key);
  else if (e.key === 'Backspace') setCode(v.slice(0, -1));
  else if (e.key === 'Escape') setCode('');
  else if (v.length === 8) confirmHandover();
}

let scanning = null;
async function toggleScan() {
  const button = $('scan');
  const video = $('video');
  const msg = $('scan-msg');
  if (scanning) { scanning.abort(); return; }
  scanning = new AbortController();
  button.textContent = t('scan_stop');
  video.hidden = false;
  msg.textContent = t('scan_hint');
  try {
    const { scan } = await import('./scan.js');
    const code = await scan(video, scanning.signal);
    setCode(code);
    msg.textContent = '';
    confirmHandover();
  } catch (e) {
    msg.textContent = e?.name === 'AbortError' ? '' : t('scan_failed');
  } finally {
    scanning = null;
    video.hidden = true;
    button.textContent = t('scan');
  }
}

// ---------------------------------------------------------------- Drop-off (the keypad's second mode)

/** Fits the keypad screen to its mode: a customer picking up, or dropping off a return. */
function renderMode() {
  const drop = S.mode === 'dropoff';
  $('h-handover').textContent = t(drop ? 'dropoff_title' : 'handover_title');
  document.querySelector('label[for="code"]').textContent = t(drop ? 'dropoff_code_label' : 'code_label');
  $('code-help').textContent = t(drop ? 'dropoff_code_help' : 'code_help');
  if (!$('code-form').hasAttribute('aria-busy')) $('confirm').textContent = t(drop ? 'confirm_dropoff' : 'confirm');
  for (const m of ['handover', 'dropoff']) {
    const a = $(`mode-${m}`);
    if (m === S.mode) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/**
 * Takes in a return by its drop-off code. Unlike a handover it is not queued offline: a
 * drop-off takes a slot, so the owner must know at the counter whether the shop accepted it.
 */
async function confirmDropoff(code) {
  const button = $('confirm');
  button.disabled = true;
  button.textContent = t('checking');
  $('code-form').setAttribute('aria-busy', 'true');
  try {
    const answer = await call((tk) => api.dropoff(tk, code));
    showResult({ kind: answer.replay ? 'd_replay' : 'd_ok', answer });
    S.collections = null;
  } catch (e) {
    if (e instanceof NetworkError) showResult({ kind: 'd_offline', code });
    else if (e instanceof ApiError && e.status !== 401) {
      if (e.status === 429) {
        S.blockedUntil = Date.now() + (e.retryAfter ?? 60) * 1000;
        store(sessionStorage, 'pudo.blocked', S.blockedUntil);
      }
      const kind = { 404: 'd_unknown', 410: 'd_expired', 409: 'd_refused', 429: 'limit' }[e.status] || 'error';
      showResult({ kind, detail: e.message, reason: e.problem.reason });
    } else if (!(e instanceof ApiError)) throw e;
  } finally {
    button.textContent = t('confirm_dropoff');
    $('code-form').removeAttribute('aria-busy');
    setCode($('code').value);
  }
}

// ---------------------------------------------------------------- Returns: collections

async function loadCollections() {
  if (!S.session) return;
  try {
    const answer = await call(api.collections);
    S.collections = answer.items;
    const ids = new Set(answer.items.map((r) => r.id));
    for (const id of S.picked) if (!ids.has(id)) S.picked.delete(id);
    setMsg($('collect-msg'), '');
  } catch (e) {
    if (e instanceof NetworkError) setMsg($('collect-msg'), t('need_network'), 'info');
    else if (e instanceof ApiError && e.status !== 401) setMsg($('collect-msg'), t('error_generic', { detail: e.message }));
    else if (!(e instanceof ApiError)) throw e;
  }
  if (S.view === 'returns') renderCollections();
}

function renderCollections() {
  const items = S.collections || [];
  $('n-collect').textContent = S.collections ? items.length : '';
  $('list-collect').replaceChildren(...(items.length
    ? items.map((r) => {
      const id = `ret-${r.id}`;
      return h('li', { 'data-return': r.id, class: 'pick' },
        h('input', {
          id, type: 'checkbox', checked: S.picked.has(r.id),
          onchange: (e) => { if (e.target.checked) S.picked.add(r.id); else S.picked.delete(r.id); renderCollectButton(); }
        }),
        h('label', { for: id, class: 'item-main' },
          h('strong', {}, t('order', { order: r.order_ref })),
          h('span', {}, [t('return_id', { id: r.id }), r.sku ? t('sku', { sku: r.sku }) : null,
            r.dropped_off_at ? t('dropped_at', { date: dateTime(r.dropped_off_at) }) : null].filter(Boolean).join(' · '))));
    })
    : [h('li', { class: 'empty' }, S.collections ? t('none') : t('loading'))]));
  $('collect-all').hidden = items.length < 2;
  renderCollectButton();
}

function renderCollectButton() {
  const n = S.picked.size;
  const button = $('collect');
  if (button.getAttribute('aria-busy')) return;
  button.disabled = n === 0;
  button.textContent = n ? t('confirm_collection_n', { n }) : t('confirm_collection');
}

async function confirmCollection(event) {
  event.preventDefault();
  const ids = [...S.picked];
  if (!ids.length) return;
  const button = $('collect');
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = t('sending');
  try {
    const answer = await call((tk) => api.collect(tk, ids));
    S.picked.clear();
    setMsg($('collect-msg'), '');
    toast(t('collected', { n: answer.collected_now.length + answer.already_collected.length }));
  } catch (e) {
    if (e instanceof NetworkError) setMsg($('collect-msg'), t('need_network'), 'info');
    else if (e instanceof ApiError && e.status !== 401) setMsg($('collect-msg'), t('error_generic', { detail: e.message }));
    else if (!(e instanceof ApiError)) throw e;
  } finally {
    button.removeAttribute('aria-busy');
    renderCollectButton();
  }
  await loadCollections();
}

function pickAll() {
  for (const r of S.collections || []) S.picked.add(r.id);
  renderCollections();
}

// ---------------------------------------------------------------- Statement

/** This month and the previous one, YYYY-MM in UTC (statements cover UTC months). */
function months() {
  const now = new Date();
  const prev = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return [now.toISOString().slice(0, 7), prev.toISOString().slice(0, 7)];
}

function monthName(month) {
  const [y, m] = month.split('-').map(Number);
  return new Intl.DateTimeFormat(locale(), { month: 'long', year: 'numeric', timeZone: 'UTC' })
    .format(new Date(Date.UTC(y, m - 1, 1)));
}

/**
 * An amount in integer minor units as money: the only arithmetic is the division for display,
 * by the currency's own number of decimals.
 */
function money(minor, currency) {
  try {
    const f = new Intl.NumberFormat(locale(), { style: 'currency', currency });
    return f.format(minor / 10 ** f.resolvedOptions().maximumFractionDigits);
  } catch {
    return `${minor} ${currency} (minor units)`;
  }
}

async function loadStatement(month) {
  if (!S.session) return;
  S.month = month;
  renderStatement();
  try {
    const answer = await call((tk) => api.statement(tk, month));
    if (S.month !== month) return;
    S.statement = answer;
    setMsg($('statement-msg'), '');
  } catch (e) {
    if (e instanceof NetworkError) setMsg($('statement-msg'), t('need_network'), 'info');
    else if (e instanceof ApiError && e.status !== 401) setMsg($('statement-msg'), t('error_generic', { detail: e.message }));
    else if (!(e instanceof ApiError)) throw e;
  }
  if (S.view === 'statement') renderStatement();
}

function renderStatement() {
  const month = S.month || months()[0];
  $('months').replaceChildren(...months().map((m) => h('button', {
    type: 'button', class: 'mode', 'aria-pressed': String(m === month), 'data-month': m,
    onclick: () => { S.statement = null; loadStatement(m); }
  }, monthName(m))));
  const st = S.statement?.month === month ? S.statement : null;
  const box = $('statement');
  $('csv').disabled = !st;
  if (!st) { box.replaceChildren(h('p', { class: 'hint' }, t('loading'))); return; }
  const rows = st.totals.map((k) => h('tr', { 'data-kind': k.kind },
    h('th', { scope: 'row' }, t(`fee_${k.kind}`), h('span', { class: 'hint' }, t('events', { n: k.events, units: k.quantity }))),
    h('td', {}, money(k.amount_minor, k.currency))));
  const grand = st.grand_totals.map((g) => h('tr', { class: 'grand', 'data-currency': g.currency },
    h('th', { scope: 'row' }, t('grand_total')), h('td', { id: `grand-${g.currency}` }, money(g.amount_minor, g.currency))));
  // Cash on delivery is the merchants' money the shop holds, never a fee: its own rows, and
  // the net once the shop keeps its fees out of it.
  const cashRows = (st.settlement || []).filter((x) => x.cash_collected_minor > 0).flatMap((x) => [
    h('tr', { class: 'cash', 'data-currency': x.currency },
      h('th', { scope: 'row' }, t('cash_collected_total')), h('td', { id: `cash-${x.currency}` }, money(x.cash_collected_minor, x.currency))),
    h('tr', { class: 'grand', 'data-currency': x.currency },
      h('th', { scope: 'row' }, t('net_owed')), h('td', { id: `net-${x.currency}` }, money(x.net_owed_minor, x.currency)))
  ]);
  box.replaceChildren(
    h('h2', {}, monthName(month)),
    rows.length || cashRows.length
      ? h('table', { class: 'totals' },
        h('caption', { class: 'hint' }, t('statement_caption', { shop: st.shop.name })),
        h('tbody', {}, rows, grand, cashRows))
      : h('p', { class: 'hint', id: 'statement-empty' }, t('statement_empty')));
}

async function downloadCsv() {
  const month = S.month || months()[0];
  const button = $('csv');
  button.disabled = true;
  try {
    const text = await call((tk) => api.statementCsv(tk, month));
    const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
    const a = h('a', { href: url, download: `statement-${S.session.shop}-${month}.csv`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    if (e instanceof NetworkError) toast(t('need_network'));
    else if (e instanceof ApiError && e.status !== 401) toast(t('error_generic', { detail: e.message }));
    else if (!(e instanceof ApiError)) throw e;
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- Shop: closures

async function loadClosures() {
  if (!S.session) return;
  try {
    S.closures = await call(api.closures);
    setMsg($('closure-msg'), '');
  } catch (e) {
    if (e instanceof NetworkError) setMsg($('closure-msg'), t('need_network'), 'info');
    else if (e instanceof ApiError && e.status !== 401) setMsg($('closure-msg'), t('error_generic', { detail: e.message }));
    else if (!(e instanceof ApiError)) throw e;
  }
  if (S.view === 'shop') renderClosures();
}

function dayName(day) {
  const [y, m, d] = day.split('-').map(Number);
  return new Intl.DateTimeFormat(locale(), { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

function renderClosures() {
  const list = S.closures?.closures || [];
  $('list-closures').replaceChildren(...(list.length
    ? list.map((c, i) => {
      const when = c.end && c.end !== c.start ? `${dayName(c.start)} – ${dayName(c.end)}` : dayName(c.start);
      return h('li', { 'data-closure': i },
        h('div', { class: 'item-main' }, h('strong', {}, when), c.reason ? h('span', {}, c.reason) : null),
        h('button', {
          type: 'button', class: 'secondary', 'aria-label': `${t('closure_remove')} – ${when}`,
          onclick: () => saveClosures(list.filter((_, j) => j !== i))
        }, t('closure_remove')));
    })
    : [h('li', { class: 'empty' }, S.closures ? t('closures_none') : t('loading'))]));
  if (S.closures?.timezone) $('closures-hint').textContent = `${t('closures_hint')} (${S.closures.timezone})`;
}

async function saveClosures(closures, done) {
  const button = $('closure-add');
  button.disabled = true;
  try {
    S.closures = await call((tk) => api.setClosures(tk, closures.map((c) => ({ start: c.start, end: c.end || c.start, reason: c.reason || null }))));
    setMsg($('closure-msg'), '');
    toast(t('closures_saved'));
    done?.();
  } catch (e) {
    if (e instanceof NetworkError) setMsg($('closure-msg'), t('need_network'), 'info');
    else if (e instanceof ApiError && e.status !== 401) setMsg($('closure-msg'), t('error_generic', { detail: e.message }));
    else if (!(e instanceof ApiError)) throw e;
  } finally {
    button.disabled = false;
    if (S.view === 'shop') renderClosures();
  }
}

function addClosure(event) {
  event.preventDefault();
  const start = $('closure-start').value;
  const end = $('closure-end').value || start;
  if (!start) { setMsg($('closure-msg'), t('closure_need_start')); $('closure-start').focus(); return; }
  if (end < start) { setMsg($('closure-msg'), t('closure_end_before')); $('closure-end').focus(); return; }
  const reason = $('closure-reason').value.trim();
  saveClosures([...(S.closures?.closures || []), { start, end, reason }], () => {
    for (const id of ['closure-start', 'closure-end', 'closure-reason']) $(id).value = '';
  });
}

// ---------------------------------------------------------------- Shop

function renderShop() {
  const s = S.shop;
  const card = $('shop-card');
  if (!s) { card.replaceChildren(h('p', { class: 'hint' }, S.session?.shop || '')); $('pause').hidden = true; return; }
  card.replaceChildren(
    h('h2', {}, s.name),
    h('p', { class: 'hint' }, s.external_id),
    h('p', {}, h('span', { class: `pill ${s.status}`, id: 'shop-status' }, t(`status_${s.status}`))),
    h('dl', {},
      h('dt', {}, t('nav_today')), h('dd', {}, t('slots', { free: s.free_slots, capacity: s.capacity })),
      h('dt', {}, t('hours')), h('dd', {}, s.opening_hours ? `${s.opening_hours} (${s.timezone})` : t('hours_always')),
      h('dt', {}, t('address')), h('dd', { id: 'shop-address' }, addressLines(s) || t('address_none')),
      ...(s.phone ? [h('dt', {}, t('phone')), h('dd', {}, s.phone)] : []),
      h('dt', {}, t('capabilities')), h('dd', { id: 'shop-capabilities' }, capabilityList(s) || t('capabilities_none')),
      ...(photoUrl(s) ? [h('dt', {}, t('photo')), h('dd', {}, h('img', {
        id: 'shop-photo', class: 'shop-photo', src: photoUrl(s), alt: t('photo_alt', { name: s.name }),
        referrerpolicy: 'no-referrer', loading: 'lazy',
      }))] : [])));
  const pause = $('pause');
  pause.hidden = s.status === 'closed';
  pause.textContent = s.status === 'paused' ? t('reopen') : t('pause');
  pause.className = `big ${s.status === 'paused' ? 'primary' : 'secondary'}`;
  $('pause-hint').textContent = s.status === 'closed' ? t('closed_hint') : t('pause_hint');
  renderCapsForm();
  const n = S.session ? queue.pending(S.session.shop).length : 0;
  $('signout-note').textContent = n ? t('signout_pending', { n }) : '';
}

/** What the shop offers customers, as the search shows it (declared here or in the shop file). */
function capabilityList(s) {
  return (s.capabilities || []).map((c) => t(`cap_${c}`)).join(', ');
}

/** The photo customers see, when there is one: only an https URL (the server accepts nothing else). */
function photoUrl(s) {
  return typeof s.photo_url === 'string' && s.photo_url.startsWith('https://') ? s.photo_url : null;
}

/** The shop's address as customers are given it: street, postcode and city, region, country. */
function addressLines(s) {
  const a = s.address;
  if (!a) return '';
  return [a.street, [a.postcode, a.city].filter(Boolean).join(' '), a.region, a.country].filter(Boolean).join(', ');
}

async function togglePause() {
  if (!S.shop) return;
  const next = S.shop.status === 'paused' ? 'active' : 'paused';
  const button = $('pause');
  button.disabled = true;
  try {
    S.shop = await call((tk) => api.setShopStatus(tk, next));
    toast(t(next === 'paused' ? 'paused_now' : 'reopened_now'));
  } catch (e) {
    if (e instanceof NetworkError) toast(t('need_network'));
    else if (e instanceof ApiError && e.status !== 401) toast(t('error_generic', { detail: e.message }));
  } finally {
    button.disabled = false;
    if (S.view === 'shop') renderShop();
  }
}

// ---------------------------------------------------------------- Shop: the declaration

/** The declaration form: closed, or open with what the shop declares now (while not editing). */
function renderCapsForm() {
  const form = $('caps-form');
  $('caps-edit').hidden = S.editingCaps || !S.shop;
  form.hidden = !S.editingCaps;
}

function editCaps() {
  if (!S.shop) return;
  const form = $('caps-form');
  const declared = new Set(S.shop.capabilities || []);
  for (const box of form.elements.cap) box.checked = declared.has(box.value);
  $('caps-photo').value = S.shop.photo_url || '';
  setMsg($('caps-msg'), '');
  S.editingCaps = true;
  renderCapsForm();
  form.elements.cap[0].focus();
}

function closeCaps() {
  S.editingCaps = false;
  setMsg($('caps-msg'), '');
  renderCapsForm();
  $('caps-edit').focus();
}

/** Saves the ticked capabilities and the photo link; a refusal names the field at fault. */
async function saveCaps(event) {
  event.preventDefault();
  const form = $('caps-form');
  const capabilities = [...form.elements.cap].filter((b) => b.checked).map((b) => b.value);
  const photo = $('caps-photo').value.trim();
  const button = $('caps-save');
  button.disabled = true;
  try {
    S.shop = await call((tk) => api.setCapabilities(tk, capabilities, photo || null));
    S.editingCaps = false;
    setMsg($('caps-msg'), '');
    toast(t('caps_saved'));
    if (S.view === 'shop') { renderShop(); $('caps-edit').focus(); }
  } catch (e) {
    if (e instanceof NetworkError) setMsg($('caps-msg'), t('need_network'), 'info');
    else if (e instanceof ApiError && e.status !== 401) {
      const photoAtFault = e.problem.parameter === 'photo_url';
      // The detail starts with the field's name (`photo_url: …`), which the text already says.
      const detail = e.message.replace(/^(photo_url|capabilities(\[\d+\])?): /, '');
      setMsg($('caps-msg'), t(photoAtFault ? 'caps_refused_photo' : 'caps_refused', { detail }));
      (photoAtFault ? $('caps-photo') : form.elements.cap[0]).focus();
    } else if (!(e instanceof ApiError)) throw e;
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- language

function fillLanguages() {
  for (const id of ['lang-signin', 'lang-shop']) {
    const select = $(id);
    select.replaceChildren(...Object.entries(LANGUAGES).map(([code, name]) =>
      h('option', { value: code, lang: code === 'zh' ? 'zh-Hans' : code }, name)));
    select.value = language();
  }
}

function changeLanguage(event) {
  setLanguage(event.target.value);
  translate();
  fillLanguages();
  if (S.view) show(S.view, false);
  if (S.view === 'result') renderResult();
  if (!S.session) $('signin').textContent = t('signin');
  event.target.focus();
}

// ---------------------------------------------------------------- start

function start() {
  setLanguage(initialLanguage());
  translate();
  fillLanguages();
  $('shop').value = load(localStorage, LAST_SHOP) || '';
  $('signin-form').addEventListener('submit', signIn);
  $('show-key').addEventListener('change', (e) => { $('key').type = e.target.checked ? 'text' : 'password'; });
  $('lang-signin').addEventListener('change', changeLanguage);
  $('lang-shop').addEventListener('change', changeLanguage);
  $('refresh').addEventListener('click', () => { refresh(); flushSoon(0); });
  $('code-form').addEventListener('submit', confirmHandover);
  $('code').addEventListener('input', (e) => setCode(e.target.value));
  $('code').addEventListener('keydown', (e) => { if (e.key === 'Escape') setCode(''); });
  for (const key of document.querySelectorAll('.keypad button')) {
    key.addEventListener('click', () => {
      const k = key.dataset.key;
      const v = $('code').value;
      setCode(k === 'clear' ? '' : k === 'back' ? v.slice(0, -1) : v + k);
    });
  }
  $('next').addEventListener('click', nextCustomer);
  document.addEventListener('keydown', typedAnywhere);
  $('pause').addEventListener('click', togglePause);
  $('signout').addEventListener('click', signOut);
  $('scan').addEventListener('click', toggleScan);
  $('collect-form').addEventListener('submit', confirmCollection);
  $('collect-all').addEventListener('click', pickAll);
  $('returns-refresh').addEventListener('click', loadCollections);
  $('csv').addEventListener('click', downloadCsv);
  $('closure-form').addEventListener('submit', addClosure);
  $('caps-edit').addEventListener('click', editCaps);
  $('caps-cancel').addEventListener('click', closeCaps);
  $('caps-form').addEventListener('submit', saveCaps);
  $('scan-box').hidden = !('BarcodeDetector' in window && navigator.mediaDevices?.getUserMedia);
  window.addEventListener('hashchange', route);
  for (const a of $('nav').querySelectorAll('a')) {
    a.addEventListener('click', (e) => {
      if (a.getAttribute('href') !== location.hash) return;
      e.preventDefault();
      if (S.view === 'result') nextCustomer();
      else show(a.dataset.view);
    });
  }
  window.addEventListener('online', () => { renderNet(); refresh(); flushSoon(0); });
  window.addEventListener('offline', renderNet);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && S.session) { refresh(); flushSoon(0); }
  });
  setInterval(() => { if (S.session && document.visibilityState === 'visible' && online()) refresh(); }, 60000);
  setCode('');

  const session = load(sessionStorage, SESSION);
  if (session?.token && session.expiresAt > Date.now()) startSession(session);
  else {
    if (session) endSession(t('session_over'));
    show('signin', false);
  }
  if ('serviceWorker' in navigator) {
    window.addEventListener('load', () => navigator.serviceWorker.register('sw.js').catch(() => {}));
  }
}

start();
