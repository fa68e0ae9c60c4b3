/*! pudo checkout widget: <pudo-picker>. Apache-2.0. https://pudo.dev
 *
 * <script src="https://pudo.example/widget/pudo-widget.js" defer></script>
 * <form> … <pudo-picker name="pickup_point" required lat="40.4168" lon="-3.7038"
 *              sku="SKU-1" arrive-at="2026-11-11T09:00:00+01:00" lang="es"
 *              capability="step_free,parking"></pudo-picker> … </form>
 *
 * A form-associated custom element with its own shadow DOM (the page's CSS cannot reach it).
 * It asks the pudo API that served this script (simple cross-origin GETs, no credentials) for
 * the nearest pickup points, draws them and their H3 cells in SVG (no tile service unless
 * `tile-url` is set), and lets the customer choose one with pointer or keyboard; the choice is
 * the form value (the point's id) and a bubbling, composed `pudo:select` event.
 */
(() => {
  'use strict';
  if (!window.customElements || customElements.get('pudo-picker')) return;

  // The API is the origin (and path prefix) this script was loaded from: …/widget/pudo-widget.js.
  const SCRIPT_URL = document.currentScript && document.currentScript.src;
  const DEFAULT_API = SCRIPT_URL ? new URL('..', SCRIPT_URL).href.replace(/\/$/, '') : '';
  // Query parameters of the ranking-and-availability search; an older server refuses them by
  // name (400), and the widget then searches without them.
  const NEW_PARAMS = ['include_unavailable', 'rank', 'arrive_at', 'stock_sku', 'parcel', 'weight_kg', 'capability'];
  // What a point declares (and open_24_7, from its hours), in the server's order, with the
  // symbol shown before each label.
  const CAPABILITIES = { step_free: '♿', parking: 'P', cash_on_delivery: '¤', id_check: 'ID', open_24_7: '24h' };
  const legacyApis = new Set();
  const outlines = new Map(); // H3 cell → [[lat, lon], …], shared by every picker on the page
  const TIMEOUT_MS = 15000;

  const TEXTS = {
    en: {
      near: 'Find pickup points near', where_ph: 'Latitude, longitude', where_ph_geo: 'Address, or latitude, longitude',
      search: 'Search', locate: 'Use my location', locating: 'Finding your location…',
      start: 'Use your location or type one to see the pickup points near you.',
      searching: 'Searching…', found: '{n} pickup points found, {m} can be chosen.',
      none: 'No pickup points near this location.', failed: 'Pickup points cannot be loaded right now. Try again.',
      bad_where: 'Type a location as latitude, longitude, for example 40.4168, -3.7038.',
      not_found: 'That place was not found. Try another address or latitude, longitude.',
      geo_denied: 'Your location is not available. Type a location instead.',
      list: 'Pickup points', map: 'Map of the pickup points around the searched location',
      open_now: 'Open now', closed_now: 'Closed now', h24: 'Open 24 hours', off: 'closed',
      free_one: '1 free slot', free_other: '{n} free slots', in_stock: 'In stock for instant pickup',
      unavailable: 'Cannot be chosen', full: 'Full: no free slots', paused: 'Paused by the shop',
      closed_at_arrival: 'Closed when your parcel arrives',
      closed_for_period: 'Closed on holiday when your parcel arrives', chosen: 'Pickup at {name}',
      closed_soon: 'Closed on holiday in the next 2 days, when your parcel may arrive',
      chose: '{name} chosen as your pickup point.', lost: '{name} can no longer be chosen: choose another point.',
      not_selectable: '{name} cannot be chosen: {reason}.', required: 'Choose a pickup point to continue.',
      you: 'Searched location', days: 'Mo Tu We Th Fr Sa Su', svc_pickup: 'Parcel pickup',
      svc_dropoff: 'Parcel drop-off', svc_returns: 'Returns', svc_staging: 'Peak-day stock',
      where_ph_text: 'Town, postcode, point ID or latitude, longitude', zoom_in: 'Zoom in', zoom_out: 'Zoom out',
      cluster: '{n} pickup points here: zoom in', area: '{n} pickup points in this area.', opens: 'Opens {when}',
      does_not_fit: 'Your parcel does not fit here', max_weight: 'Your parcel is too heavy for this point',
      max_dimensions: 'Your parcel is too large for this point', size_class: 'No compartment here is large enough for your parcel',
      cap_step_free: 'Step-free access', cap_parking: 'Parking', cap_cash_on_delivery: 'Cash on delivery',
      cap_id_check: 'ID checks', cap_open_24_7: 'Open 24/7', photo: 'Photo of {name}',
    },
    zh: {
      where_ph_text: '城镇、邮编、自提点编号，或 纬度, 经度', zoom_in: '放大', zoom_out: '缩小',
      cluster: '此处有 {n} 个自提点：放大查看', area: '此区域有 {n} 个自提点。', opens: '{when} 开门',
      near: '查找附近的自提点', where_ph: '纬度, 经度', where_ph_geo: '地址，或 纬度, 经度',
      search: '搜索', locate: '使用我的位置', locating: '正在获取您的位置…',
      start: '使用您的位置或输入一个位置，查看附近的自提点。',
      searching: '正在搜索…', found: '找到 {n} 个自提点，其中 {m} 个可选。',
      none: '此位置附近没有自提点。', failed: '暂时无法加载自提点，请重试。',
      bad_where: '请以“纬度, 经度”格式输入位置，例如 40.4168, -3.7038。',
      not_found: '未找到该地点。请换一个地址或输入纬度, 经度。',
      geo_denied: '无法获取您的位置，请手动输入位置。',
      list: '自提点', map: '搜索位置周围自提点的地图',
      open_now: '营业中', closed_now: '休息中', h24: '24 小时营业', off: '休息',
      free_one: '1 个空位', free_other: '{n} 个空位', in_stock: '有现货，可立即自提',
      unavailable: '不可选', full: '已满：没有空位', paused: '店铺暂停服务',
      closed_at_arrival: '包裹到达时不营业',
      closed_for_period: '包裹到达时店铺休假', chosen: '自提点：{name}',
      closed_soon: '未来 2 天内店铺休假，包裹可能在此期间到达',
      chose: '已选择 {name} 作为自提点。', lost: '{name} 已不可选，请选择其他自提点。',
      not_selectable: '{name} 不可选：{reason}。', required: '请选择一个自提点后继续。',
      you: '搜索位置', days: '周一 周二 周三 周四 周五 周六 周日', svc_pickup: '包裹自提',
      svc_dropoff: '包裹寄件', svc_returns: '退货', svc_staging: '大促备货',
      does_not_fit: '您的包裹放不进此自提点', max_weight: '您的包裹超过此自提点的重量上限',
      max_dimensions: '您的包裹超过此自提点的尺寸上限', size_class: '此自提点没有能放下您包裹的格口',
      cap_step_free: '无障碍通行', cap_parking: '可停车', cap_cash_on_delivery: '货到付款',
      cap_id_check: '可核验身份', cap_open_24_7: '24 小时营业', photo: '{name} 的照片',
    },
    es: {
      near: 'Buscar puntos de recogida cerca de', where_ph: 'Latitud, longitud', where_ph_geo: 'Dirección, o latitud, longitud',
      where_ph_text: 'Ciudad, código postal, ID del punto o latitud, longitud', zoom_in: 'Acercar', zoom_out: 'Alejar',
      cluster: '{n} puntos de recogida aquí: acerca el mapa', area: '{n} puntos de recogida en esta zona.', opens: 'Abre {when}',
      search: 'Buscar', locate: 'Usar mi ubicación', locating: 'Buscando tu ubicación…',
      start: 'Usa tu ubicación o escribe una para ver los puntos de recogida cercanos.',
      searching: 'Buscando…', found: '{n} puntos de recogida encontrados, {m} disponibles.',
      none: 'No hay puntos de recogida cerca de esta ubicación.', failed: 'Ahora no se pueden cargar los puntos de recogida. Inténtalo de nuevo.',
      bad_where: 'Escribe una ubicación como latitud, longitud; por ejemplo 40.4168, -3.7038.',
      not_found: 'No se encontró ese lugar. Prueba otra dirección o latitud, longitud.',
      geo_denied: 'Tu ubicación no está disponible. Escribe una ubicación.',
      list: 'Puntos de recogida', map: 'Mapa de los puntos de recogida alrededor de la ubicación buscada',
      open_now: 'Abierto ahora', closed_now: 'Cerrado ahora', h24: 'Abierto 24 horas', off: 'cerrado',
      free_one: '1 hueco libre', free_other: '{n} huecos libres', in_stock: 'En stock para recogida inmediata',
      unavailable: 'No se puede elegir', full: 'Lleno: sin huecos libres', paused: 'En pausa por la tienda',
      closed_at_arrival: 'Cerrado cuando llegue tu paquete',
      closed_for_period: 'Cerrado por vacaciones cuando llegue tu paquete', chosen: 'Recogida en {name}',
      closed_soon: 'Cerrado por vacaciones en los próximos 2 días, cuando puede llegar tu paquete',
      chose: 'Has elegido {name} como punto de recogida.', lost: 'Ya no se puede elegir {name}: elige otro punto.',
      not_selectable: 'No se puede elegir {name}: {reason}.', required: 'Elige un punto de recogida para continuar.',
      you: 'Ubicación buscada', days: 'lu ma mi ju vi sá do', svc_pickup: 'Recogida de paquetes',
      svc_dropoff: 'Envío de paquetes', svc_returns: 'Devoluciones', svc_staging: 'Stock para días punta',
      does_not_fit: 'Tu paquete no cabe en este punto', max_weight: 'Tu paquete pesa demasiado para este punto',
      max_dimensions: 'Tu paquete es demasiado grande para este punto', size_class: 'Ningún casillero de este punto es lo bastante grande para tu paquete',
      cap_step_free: 'Acceso sin escalones', cap_parking: 'Aparcamiento', cap_cash_on_delivery: 'Pago contra reembolso',
      cap_id_check: 'Verificación de identidad', cap_open_24_7: 'Abierto 24 h', photo: 'Foto de {name}',
    },
  };

  const CSS = `
:host{display:block}
:host([hidden]){display:none}
.pp{all:initial;display:block;box-sizing:border-box;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;color:#14181f;background:#fff;border:1px solid #c9ced8;border-radius:12px;padding:12px;container-type:inline-size;--a:var(--pudo-accent,#0b5d2a)}
.pp *{box-sizing:border-box;margin:0}
input,button{font:inherit}
[hidden]{display:none!important}
label{display:block;font-weight:600;margin-bottom:4px}
.row{display:flex;gap:8px}
input{flex:1;min-width:0;min-height:44px;padding:8px 10px;border:1px solid #6b7280;border-radius:8px;background:#fff}
button{min-height:44px;padding:8px 14px;border-radius:8px;border:1px solid var(--a);background:var(--a);color:#fff;font-weight:600;cursor:pointer}
button.ghost{background:#fff;color:var(--a);margin-top:8px;display:inline-flex;align-items:center;gap:6px}
button svg{background:none;width:18px;height:18px}
input:focus-visible,button:focus-visible{outline:3px solid #1a55c4;outline-offset:2px}
.st{margin-top:8px;color:#4a5261;font-size:14px}
.err{margin-top:8px;padding:8px 10px;border-radius:8px;background:#fde2e1;color:#a4161a;font-weight:600}
.chosen{margin-top:8px;font-weight:600;color:var(--a)}
.body{display:grid;gap:10px;margin-top:10px}
@container (min-width:620px){.body{grid-template-columns:1fr 1fr;align-items:start}}
svg{display:block;width:100%;height:auto;border-radius:8px;background:#eef2ee}
.hex{fill:rgba(11,93,42,.10);stroke:rgba(11,93,42,.55);stroke-width:1}
.hex.off{fill:rgba(90,96,108,.10);stroke:rgba(90,96,108,.45)}
.hex.sel{fill:rgba(11,93,42,.30);stroke:var(--a);stroke-width:2}
.mk circle{fill:var(--a);stroke:#fff;stroke-width:2}
.mk text{fill:#fff;font-size:11px;font-weight:700;text-anchor:middle;dominant-baseline:central}
.mk.off circle{fill:#7a808c}
.mk.sel circle{fill:#fff;stroke:var(--a);stroke-width:4}
.mk.sel text{fill:var(--a)}
.mk{cursor:pointer}.mk.off{cursor:default}
.you{fill:#1a55c4;stroke:#fff;stroke-width:2;pointer-events:none}
.cl circle{fill:rgba(11,93,42,.75);stroke:#fff;stroke-width:2}.cl text{fill:#fff;font-size:11px;font-weight:700;text-anchor:middle;dominant-baseline:central}
.cl,.dot{cursor:pointer}.dot{fill:var(--a);stroke:#fff;stroke-width:1.5}
.mapw{position:relative}.zm{position:absolute;right:6px;top:6px;display:flex;flex-direction:column;gap:4px}
.zm button{min-height:32px;min-width:32px;padding:0;border-radius:6px;font-size:18px;line-height:1}
.scale{stroke:#14181f;stroke-width:2;fill:none}.lbl{font-size:10px;fill:#14181f}
ul{list-style:none;padding:0;max-height:420px;overflow:auto;border-radius:8px;outline:none}
ul:focus-visible{box-shadow:0 0 0 3px #1a55c4}
li{display:flex;gap:10px;padding:10px;border:1px solid #c9ced8;border-radius:10px;cursor:pointer;background:#fff}
li+li{margin-top:8px}
li[aria-selected=true]{border:2px solid var(--a);background:#eaf4ed;padding:9px}
li[aria-disabled=true]{cursor:not-allowed;background:#f1f2f4;color:#4a5261}
ul.kbd li.act,ul:focus-visible li.act{outline:3px solid #1a55c4;outline-offset:-1px}
.n{flex:none;width:24px;height:24px;border-radius:50%;background:var(--a);color:#fff;font-size:12px;font-weight:700;display:grid;place-items:center}
li[aria-disabled=true] .n{background:#7a808c}
.m{flex:1;min-width:0}
.t{display:flex;justify-content:space-between;gap:8px}
.t b{font-weight:700;overflow-wrap:anywhere}
.d{flex:none;color:#4a5261;font-size:14px}
.l{font-size:14px;color:#4a5261}
.o{color:#0b5d2a;font-weight:600}.c{color:#4a5261;font-weight:600}
.s{margin-top:4px;display:inline-block;padding:2px 8px;border-radius:99px;background:#dcefe2;color:#084620;font-size:13px;font-weight:600}
.r{margin-top:4px;color:#a4161a;font-weight:600;font-size:14px}
.ck{flex:none;width:22px;height:22px;border-radius:50%;border:2px solid #6b7280;align-self:center}
li[aria-selected=true] .ck{border:7px solid var(--a)}
li[aria-disabled=true] .ck{visibility:hidden}
.caps{display:flex;flex-wrap:wrap;gap:4px;margin-top:4px}
.cap{display:inline-flex;align-items:center;gap:4px;padding:1px 7px;border-radius:99px;border:1px solid #b8c2d0;background:#f4f6f9;color:#2b3340;font-size:12px;font-weight:600}
.cap i{font-style:normal;font-size:11px;min-width:14px;text-align:center;color:#1a55c4}
.ph{display:block;width:100%;max-height:160px;object-fit:cover;margin-top:6px;border-radius:8px;background:#eef2ee}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

  let sheet = null; // one constructed style sheet for every picker (not subject to the page's CSP)
  function styles(root) {
    try {
      if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); }
      root.adoptedStyleSheets = [sheet];
    } catch {
      const style = document.createElement('style');
      style.textContent = CSS;
      root.append(style);
    }
  }

  /** An element with attributes (`on…` functions become listeners) and children. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
    return el;
  }

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v);
    }
    el.append(...children);
    return el;
  }

  const fill = (text, vars) => text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? vars[k] : `{${k}}`));

  /** `lang` attribute, else the page's (nearest `lang` up the tree), else the browser's. */
  function language(el) {
    const tags = [el.getAttribute('lang'), el.closest('[lang]')?.getAttribute('lang'), ...(navigator.languages || [navigator.language])];
    for (const tag of tags) {
      const base = String(tag || '').toLowerCase().split('-')[0];
      if (base in TEXTS) return base;
    }
    return 'en';
  }

  /** "40.4168, -3.7038" (or with a space, or a semicolon) → { lat, lon }; null otherwise. */
  function parseCoordinate(text) {
    const m = /^\s*([-+]?\d{1,2}(?:\.\d+)?)\s*[,;\s]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$/.exec(text);
    if (!m) return null;
    const lat = Number(m[1]);
    const lon = Number(m[2]);
    return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? { lat, lon } : null;
  }

  /** GET as a simple cross-origin request (no credentials, no custom header: no preflight). */
  async function getJson(url, abort) {
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      const res = await fetch(url, { credentials: 'omit', mode: 'cors', signal: abort.signal });
      const body = await res.json().catch(() => null);
      return { status: res.status, body };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether a point can be chosen, and why not (older servers: only `free_slots` tells). */
  function availability(p) {
    if ('selectable' in p) return { ok: !!p.selectable, reason: p.selectable ? null : p.unavailable_reason || 'unavailable' };
    if (p.status && p.status !== 'active') return { ok: false, reason: p.status === 'paused' ? 'paused' : 'unavailable' };
    if (p.free_slots <= 0) return { ok: false, reason: 'full' };
    return { ok: true, reason: null };
  }

  // Web Mercator on the unit square: tiles of a `tile-url` line up with what is drawn.
  const mercX = (lon) => (lon + 180) / 360;
  const mercY = (lat) => {
    const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  };
  const W = 360;
  const H = 200;
  const PAD = 18;
  const MAX_SCALE = 256 * 2 ** 18; // px per unit square: never closer than tile zoom 18

  class PudoPicker extends HTMLElement {
    static formAssociated = true;
    static observedAttributes = ['lat', 'lon', 'sku', 'arrive-at', 'lang', 'limit', 'radius-m', 'required', 'tile-url', 'cluster-over', 'parcel', 'weight-kg', 'capability'];
    static TEXTS = TEXTS;

    constructor() {
      super();
      this._internals = typeof this.attachInternals === 'function' ? this.attachInternals() : null;
      this._root = this.attachShadow({ mode: 'open' });
      styles(this._root);
      this._items = [];
      this._chosen = null;
      this._active = -1;
      this._at = null;
      this._status = ['start', {}];
      this._seq = 0;
      this._geocode = null;
      this._zoom = 0; // 0: the nearest points; each step out shows an area four times as wide
      this._area = null; // what the zoomed-out map shows: { box, items, clusters, total }
      // A page may have set `geocode` before this script defined the element.
      if (Object.prototype.hasOwnProperty.call(this, 'geocode')) {
        const fn = this.geocode;
        delete this.geocode;
        this.geocode = fn;
      }
      this.addEventListener('invalid', () => this._showRequired(true));
    }

    connectedCallback() {
      if (!this._built) this._build();
      this._texts();
      this._validity();
      this._fromAttributes();
    }

    disconnectedCallback() {
      this._abort?.abort();
    }

    attributeChangedCallback(name, old, value) {
      if (!this._built || old === value) return;
      if (name === 'lang') { this._texts(); this._renderList(); this._renderMap(); }
      else if (name === 'required') this._validity();
      else if (name === 'tile-url') this._renderMap();
      else if (name === 'lat' || name === 'lon') this._fromAttributes();
      else if (this._at) this._search();
    }

    // The form-control surface (ElementInternals), so `required` blocks the host form.
    get form() { return this._internals?.form ?? this.closest('form'); }
    get name() { return this.getAttribute('name'); }
    get type() { return 'pudo-picker'; }
    get value() { return this._chosen ? String(this._chosen.id) : ''; }
    /** The chosen point as the API gave it, or null. */
    get selected() { return this._chosen; }
    get validity() { return this._internals?.validity; }
    get validationMessage() { return this._internals?.validationMessage ?? (this._missing() ? this._t('required') : ''); }
    get willValidate() { return this._internals?.willValidate ?? true; }
    checkValidity() { return this._internals ? this._internals.checkValidity() : !this._missing(); }
    reportValidity() {
      const ok = this.checkValidity();
      if (!ok) { this._showRequired(true); if (!this._internals) this._list.focus(); }
      return this._internals ? this._internals.reportValidity() : ok;
    }
    formResetCallback() { this._choose(null, false); }

    /** Optional: `async (text) => ({ lat, lon }) | null`, the merchant's geocoder for addresses. */
    get geocode() { return this._geocode; }
    set geocode(fn) {
      this._geocode = typeof fn === 'function' ? fn : null;
      if (this._built) this._texts();
    }

    /** Searches around a position (the merchant's geocoding, or the customer's). */
    setLocation(lat, lon) {
      const la = Number(lat);
      const lo = Number(lon);
      if (!Number.isFinite(la) || !Number.isFinite(lo) || Math.abs(la) > 90 || Math.abs(lo) > 180) {
        throw new RangeError('setLocation(lat, lon): latitude -90..90 and longitude -180..180');
      }
      this._at = { lat: la, lon: lo };
      if (this._built) this._input.value = `${la}, ${lo}`;
      this._search();
    }

    _t(key, vars = {}) {
      const lang = this._lang || 'en';
      return fill(TEXTS[lang][key] ?? TEXTS.en[key], vars);
    }

    _build() {
      this._built = true;
      this._input = h('input', { id: 'q', type: 'text', autocomplete: 'off', spellcheck: 'false' });
      this._label = h('label', { for: 'q' });
      this._searchBtn = h('button', { type: 'submit' });
      this._locateBtn = h('button', { type: 'button', class: 'ghost', onclick: () => this._locate() });
      this._locateBtn.hidden = !navigator.geolocation;
      this._statusEl = h('p', { class: 'st', role: 'status', 'aria-live': 'polite' });
      this._chosenEl = h('p', { class: 'chosen', hidden: true });
      this._map = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', hidden: '' });
      this._list = h('ul', {
        id: 'list', role: 'listbox', tabindex: '0',
        onkeydown: (e) => this._key(e), onfocus: () => this._focusList(),
        onpointerdown: () => this._list.classList.remove('kbd'),
      });
      this._list.hidden = true;
      this._error = h('p', { class: 'err', role: 'alert', hidden: true });
      const search = h('form', { class: 'search', role: 'search', novalidate: true, onsubmit: (e) => { e.preventDefault(); this._typed(); } },
        this._label, h('div', { class: 'row' }, this._input, this._searchBtn), this._locateBtn);
      this._zoomIn = h('button', { type: 'button', class: 'ghost zin', onclick: () => this._zoomBy(-1) }, '+');
      this._zoomOut = h('button', { type: 'button', class: 'ghost zout', onclick: () => this._zoomBy(1) }, '−');
      this._zoomBox = h('div', { class: 'zm', hidden: true }, this._zoomIn, this._zoomOut);
      this._root.append(h('div', { class: 'pp', part: 'root' },
        search, this._statusEl, this._chosenEl,
        h('div', { class: 'body' }, h('div', { class: 'mapw' }, this._map, this._zoomBox), this._list), this._error));
    }

    _texts() {
      this._lang = language(this);
      this._root.querySelector('.pp')?.setAttribute('lang', this._lang === 'zh' ? 'zh-Hans' : this._lang);
      this._label.textContent = this._t('near');
      this._input.placeholder = this._t(this.geocode ? 'where_ph_geo' : 'where_ph_text');
      this._zoomIn.setAttribute('aria-label', this._t('zoom_in'));
      this._zoomOut.setAttribute('aria-label', this._t('zoom_out'));
      this._searchBtn.textContent = this._t('search');
      this._locateBtn.replaceChildren(
        svg('svg', { viewBox: '0 0 24 24', width: '18', height: '18', 'aria-hidden': 'true' },
          svg('circle', { cx: '12', cy: '12', r: '4', fill: 'currentColor' }),
          svg('path', { d: 'M12 2v4M12 18v4M2 12h4M18 12h4', stroke: 'currentColor', 'stroke-width': '2' }),
          svg('circle', { cx: '12', cy: '12', r: '7.5', fill: 'none', stroke: 'currentColor', 'stroke-width': '2' })),
        this._t('locate'));
      this._list.setAttribute('aria-label', this._t('list'));
      this._map.setAttribute('aria-label', this._t('map'));
      this._statusEl.textContent = this._t(...this._status);
      if (this._chosen) this._chosenEl.textContent = this._chosenText(this._chosen);
      this._error.textContent = this._t('required');
      this._validity();
    }

    _say(key, vars = {}) {
      this._status = [key, vars];
      this._statusEl.textContent = this._t(key, vars);
    }

    _fromAttributes() {
      const lat = this.getAttribute('lat');
      const lon = this.getAttribute('lon');
      if (lat === null || lon === null || lat === '' || lon === '') return;
      try { this.setLocation(lat, lon); } catch { this._say('bad_where'); }
    }

    async _typed() {
      const text = this._input.value;
      const at = parseCoordinate(text);
      if (at) { this.setLocation(at.lat, at.lon); return; }
      if (!text.trim()) { this._say('bad_where'); return; }
      this._say('searching');
      try {
        // The merchant's geocoder first (addresses), then pudo's own towns, then points by
        // postcode, ID or name; text with a digit is more likely a point ID or postcode.
        const found = (typeof this.geocode === 'function' && await this.geocode(text.trim()))
          || (/\d/.test(text) ? await this._points(text) || await this._town(text) : await this._town(text) || await this._points(text));
        if (!found) { this._say('not_found'); return; }
        if (found.items) {
          this._at = found.at;
          this._zoom = 0;
          this._show(found.items);
        } else {
          this.setLocation(found.lat, found.lon);
        }
        this._input.value = text;
      } catch {
        this._say('not_found');
      }
    }

    _api() { return (this.getAttribute('api') || DEFAULT_API).replace(/\/$/, ''); }

    /** A town or district of pudo's place data (`/v1/places`): its position, or null. */
    async _town(text) {
      const res = await getJson(`${this._api()}/v1/places?${new URLSearchParams({ q: text.trim(), limit: 1 })}`, new AbortController());
      const place = res.status === 200 && res.body?.items?.[0];
      return place ? { lat: place.lat, lon: place.lon } : null;
    }

    /** Points whose postcode, ID or name match (`q=`), near the last position if any; or null. */
    async _points(text) {
      const q = new URLSearchParams({ q: text.trim(), limit: 10, include_unavailable: 'true' });
      this._parcelParams(q);
      if (this._at) { q.set('lat', this._at.lat); q.set('lon', this._at.lon); }
      const res = await getJson(`${this._api()}/v1/pickup-points?${q}`, new AbortController());
      const items = res.status === 200 && res.body?.items;
      return items?.length ? { items, at: { lat: items[0].lat, lon: items[0].lon } } : null;
    }

    /** Zooms the map out (steps > 0) to clusters of the area, or back in toward the list. */
    async _zoomBy(steps) {
      if (!this._at) return;
      this._zoom = Math.max(0, Math.min(12, this._zoom + steps));
      if (!this._zoom) { this._area = null; this._renderMap(); return; }
      // The list's extent (2 to 100 km across), widened four times per step.
      const lats = this._items.map((p) => Math.abs(p.lat - this._at.lat));
      const base = Math.min(0.5, Math.max(0.01, ...lats));
      const half = Math.min(85, base * 4 ** this._zoom);
      const halfLon = Math.min(180, half / Math.max(0.2, Math.cos((this._at.lat * Math.PI) / 180)));
      const wrap = (x) => (x > 180 ? x - 360 : x < -180 ? x + 360 : x);
      const box = halfLon >= 180
        ? [-180, Math.max(-85, this._at.lat - half), 180, Math.min(85, this._at.lat + half)]
        : [wrap(this._at.lon - halfLon), Math.max(-85, this._at.lat - half), wrap(this._at.lon + halfLon), Math.min(85, this._at.lat + half)];
      const limit = Math.min(Math.max(Number(this.getAttribute('cluster-over')) || 50, 1), 100);
      const seq = ++this._seq;
      try {
        const q = new URLSearchParams({ bbox: box.join(','), limit });
        this._parcelParams(q);
        const res = await getJson(`${this._api()}/v1/pickup-points?${q}`, new AbortController());
        if (seq !== this._seq || res.status !== 200) return;
        this._area = { box, items: res.body.items || [], clusters: res.body.clusters || [], total: res.body.total || 0 };
        this._say('area', { n: this._area.total });
        this._renderMap();
      } catch { this._say('failed'); }
    }

    _locate() {
      this._say('locating');
      navigator.geolocation.getCurrentPosition(
        (pos) => this.setLocation(pos.coords.latitude, pos.coords.longitude),
        () => { this._say('geo_denied'); this._input.focus(); },
        { enableHighAccuracy: false, timeout: 10000, maximumAge: 60000 }
      );
    }

    async _search() {
      if (!this._at) return;
      const seq = ++this._seq;
      this._abort?.abort();
      const abort = new AbortController();
      this._abort = abort;
      const api = this._api();
      this._zoom = 0;
      this._area = null;
      const sku = this.getAttribute('sku');
      const arrive = this.getAttribute('arrive-at');
      const limit = Math.min(Math.max(Number(this.getAttribute('limit')) || 10, 1), 100);
      const radius = Number(this.getAttribute('radius-m'));
      const query = (legacy) => {
        const q = new URLSearchParams({ lat: this._at.lat, lon: this._at.lon, limit });
        if (radius > 0) q.set('radius_m', radius);
        if (!legacy) {
          q.set('include_unavailable', 'true');
          q.set('rank', 'room');
          if (arrive) q.set('arrive_at', arrive);
          if (sku) q.set('stock_sku', sku);
          this._parcelParams(q);
        }
        return `${api}/v1/pickup-points?${q}`;
      };
      this._say('searching');
      try {
        let res = await getJson(query(legacyApis.has(api)), abort);
        if (res.status === 400 && NEW_PARAMS.includes(res.body?.parameter) && !legacyApis.has(api)) {
          legacyApis.add(api);
          res = await getJson(query(true), abort);
        }
        if (seq !== this._seq) return;
        if (res.status !== 200 || !Array.isArray(res.body?.items)) throw new Error(`HTTP ${res.status}`);
        this._show(res.body.items);
        this._loadOutlines(api, seq, abort);
      } catch (e) {
        if (seq === this._seq) {
          this._say('failed');
          if (e?.name !== 'AbortError') console.warn('pudo-picker: search failed', e);
        }
      }
    }

    _show(items) {
      this._items = items.map((p) => ({ ...p, _av: availability(p) }));
      const ids = this._items.map((p) => p.id);
      this._active = this._chosen ? ids.indexOf(this._chosen.id) : -1;
      const fresh = this._chosen && this._items.find((p) => p.id === this._chosen.id);
      if (fresh && !fresh._av.ok) {
        const name = this._chosen.name;
        this._choose(null, true);
        this._say('lost', { name });
      } else {
        if (fresh) this._chosen = this._plain(fresh);
        const m = this._items.filter((p) => p._av.ok).length;
        this._say(this._items.length ? 'found' : 'none', { n: this._items.length, m });
      }
      this._renderList();
      this._renderMap();
    }

    async _loadOutlines(api, seq, abort) {
      const missing = [...new Set(this._items.map((p) => p.h3_cell))].filter((c) => c && !outlines.has(c));
      if (!missing.length) return;
      try {
        const res = await getJson(`${api}/v1/h3-cells?cells=${missing.join(',')}`, abort);
        for (const o of res.body?.items || []) outlines.set(o.cell, o.boundary);
        if (seq === this._seq) this._renderMap();
      } catch { /* the map shows the points without their cells */ }
    }

    _hours(p) {
      const oh = p.opening_hours;
      if (oh === undefined) return ''; // an older server does not say
      if (oh === null || oh.trim() === '24/7') return this._t('h24');
      const days = this._t('days').split(' ');
      const en = TEXTS.en.days.split(' ');
      let text = oh.replace(/\b(Mo|Tu|We|Th|Fr|Sa|Su)\b/g, (d) => days[en.indexOf(d)]).replace(/\boff\b/g, this._t('off'));
      const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (p.timezone && p.timezone !== here) text += ` (${p.timezone})`;
      return text;
    }

    _distance(m) {
      if (typeof m !== 'number') return '';
      const lang = this._lang === 'zh' ? 'zh-CN' : this._lang;
      if (m < 1000) return `${new Intl.NumberFormat(lang).format(Math.round(m / 10) * 10)} m`;
      return `${new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(m / 1000)} km`;
    }

    _renderList() {
      this._list.hidden = !this._items.length;
      this._list.replaceChildren(...this._items.map((p, i) => {
        const chosen = this._chosen?.id === p.id;
        // A paused shop takes no parcels, whatever its hours: "Open now" would mislead.
        const open = p.open_now === undefined || p._av.reason === 'paused' ? null : p.open_now;
        const address = this._address(p);
        const hours = this._hours(p);
        const services = (Array.isArray(p.services) ? p.services : [])
          .map((s) => (TEXTS.en[`svc_${s}`] ? this._t(`svc_${s}`) : String(s).replace(/_/g, ' '))).join(', ');
        // Where the parcel does not fit, its free slots mean nothing to the customer.
        const free = p._av.reason === 'does_not_fit' ? null
          : p.free_slots === 1 ? this._t('free_one') : this._t('free_other', { n: p.free_slots });
        return h('li', {
          id: `o${i}`, role: 'option', class: i === this._active ? 'act' : null,
          'aria-selected': String(chosen), 'aria-disabled': p._av.ok ? null : 'true',
          'data-id': p.id, onclick: () => this._pick(i, true),
        },
        h('span', { class: 'n', 'aria-hidden': 'true' }, String(i + 1)),
        h('div', { class: 'm' },
          h('div', { class: 't' }, h('b', null, this._name(p)), h('span', { class: 'd' }, this._distance(p.distance_m))),
          address ? h('div', { class: 'l a' }, address) : null,
          h('div', { class: 'l' },
            open === null ? null : h('span', { class: open ? 'o' : 'c' }, this._t(open ? 'open_now' : 'closed_now')),
            !open && p.next_open_at ? ` · ${this._t('opens', { when: this._when(p.next_open_at) })}` : null,
            open !== null && hours ? ' · ' : null, hours || null),
          h('div', { class: 'l' }, free, free && services ? ' · ' : null, services || null),
          this._capabilities(p),
          p.in_stock ? h('div', { class: 's' }, `✓ ${this._t('in_stock')}`) : null,
          p._av.ok ? null : h('div', { class: 'r' }, this._reason(p)),
          chosen ? this._photo(p) : null),
        h('span', { class: 'ck', 'aria-hidden': 'true' }));
      }));
      this._syncActive();
      this._validity(); // the list, once shown, is where an invalid form takes the customer
    }

    /** A coming instant in the customer's words: "Mon 09:00". */
    _when(t) {
      const lang = this._lang === 'zh' ? 'zh-CN' : this._lang;
      return new Intl.DateTimeFormat(lang, { weekday: 'short', hour: '2-digit', minute: '2-digit' }).format(new Date(t));
    }

    /** The parcel's measurements (`parcel`, `weight-kg` attributes) and the capabilities
     * every point must have (`capability`: names separated by commas) as search parameters. */
    _parcelParams(q) {
      const parcel = this.getAttribute('parcel');
      const kg = this.getAttribute('weight-kg');
      // Known names only: the server refuses an unknown one (400 `capability`), which the
      // search would take for an older server and drop every new parameter.
      const capability = [];
      for (const c of (this.getAttribute('capability') || '').split(',').map((name) => name.trim().toLowerCase())) {
        if (c in CAPABILITIES) capability.push(c);
        else if (c) console.warn(`pudo-picker: unknown capability ${c} ignored`);
      }
      if (parcel) q.set('parcel', parcel);
      if (kg) q.set('weight_kg', kg);
      if (capability.length) q.set('capability', capability.join(','));
    }

    /** The point's capabilities as small labels, each a symbol and words (known names only). */
    _capabilities(p) {
      const known = (Array.isArray(p.capabilities) ? p.capabilities : []).filter((c) => c in CAPABILITIES);
      if (!known.length) return null;
      // Spans, not a list: the point is an option of the listbox, read as one phrase.
      return h('div', { class: 'caps' },
        known.map((c) => h('span', { class: 'cap', 'data-cap': c },
          h('i', { 'aria-hidden': 'true' }, CAPABILITIES[c]), this._t(`cap_${c}`), h('span', { class: 'sr' }, ';'))));
    }

    /** The point's photo, once chosen: only an https URL (the server accepts nothing else). */
    _photo(p) {
      if (typeof p.photo_url !== 'string' || !/^https:\/\//i.test(p.photo_url)) return null;
      return h('img', { class: 'ph', src: p.photo_url, alt: this._t('photo', { name: this._name(p) }), loading: 'lazy', referrerpolicy: 'no-referrer' });
    }

    _reason(p) {
      // The limit the parcel exceeds says more than "does not fit".
      if (p._av.reason === 'does_not_fit' && p.limit && TEXTS.en[p.limit]) return this._t(p.limit);
      // Without `arrive-at` the server assumes arrival within two days (docs/merchants.md).
      if (p._av.reason === 'closed_for_period' && !this.getAttribute('arrive-at')) return this._t('closed_soon');
      return this._t(TEXTS.en[p._av.reason] ? p._av.reason : 'unavailable');
    }

    /** The point's name in the interface's language when the partner gave one. */
    _name(p) {
      return p.localized?.[this._lang]?.name || p.name;
    }

    /** The point's address on one line: the localised line, else street, postcode and city. */
    _address(p) {
      const local = p.localized?.[this._lang]?.address;
      if (local) return local;
      const a = p.address;
      if (!a) return '';
      const city = [a.postcode, a.city].filter(Boolean).join(' ');
      return [a.street, city].filter(Boolean).join(', ');
    }

    _renderMap() {
      const map = this._map;
      map.toggleAttribute('hidden', !this._items.length || !this._at);
      this._zoomBox.hidden = map.hasAttribute('hidden');
      if (map.hasAttribute('hidden')) return;
      if (this._area) { this._renderArea(); return; }
      const pts = this._items.map((p) => [mercX(p.lon), mercY(p.lat)]);
      const hexes = [...new Set(this._items.map((p) => p.h3_cell))].filter((c) => outlines.has(c))
        .map((c) => [c, outlines.get(c).map(([la, lo]) => [mercX(lo), mercY(la)])]);
      const all = [...pts, [mercX(this._at.lon), mercY(this._at.lat)], ...hexes.flatMap(([, v]) => v)];
      const xs = all.map((p) => p[0]);
      const ys = all.map((p) => p[1]);
      const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
      const scale = Math.min((W - 2 * PAD) / Math.max(x1 - x0, 1e-12), (H - 2 * PAD) / Math.max(y1 - y0, 1e-12), MAX_SCALE);
      const cx = (x0 + x1) / 2;
      const cy = (y0 + y1) / 2;
      const px = ([x, y]) => [W / 2 + (x - cx) * scale, H / 2 + (y - cy) * scale];
      const fmt = (v) => v.toFixed(1);
      const children = [];
      const tiles = this.getAttribute('tile-url');
      if (tiles) children.push(...this._tiles(tiles, scale, cx, cy));
      // A cell holding several points is drawn as its "best" point: chosen, else selectable.
      const rank = { 'hex off': 0, hex: 1, 'hex sel': 2 };
      const cellClass = new Map();
      for (const p of this._items) {
        const c = this._chosen?.id === p.id ? 'hex sel' : p._av.ok ? 'hex' : 'hex off';
        if (!cellClass.has(p.h3_cell) || rank[c] > rank[cellClass.get(p.h3_cell)]) cellClass.set(p.h3_cell, c);
      }
      for (const [cell, verts] of hexes) {
        children.push(svg('polygon', { class: cellClass.get(cell), points: verts.map((v) => px(v).map(fmt).join(',')).join(' ') }));
      }
      const [yx, yy] = px([mercX(this._at.lon), mercY(this._at.lat)]);
      children.push(svg('path', { class: 'you', d: `M${fmt(yx)} ${fmt(yy - 8)}l7 8-7 8-7-8z` }, svg('title', {}, this._t('you'))));
      // The chosen marker last, so that it is drawn on top.
      const order = this._items.map((p, i) => i).sort((a, b) => (this._items[a].id === this._chosen?.id) - (this._items[b].id === this._chosen?.id));
      for (const i of order) {
        const p = this._items[i];
        const [x, y] = px(pts[i]);
        const cls = this._chosen?.id === p.id ? 'mk sel' : p._av.ok ? 'mk' : 'mk off';
        children.push(svg('g', { class: cls, 'data-id': p.id, onclick: () => this._pick(i, true) },
          svg('circle', { cx: fmt(x), cy: fmt(y), r: '10' }),
          svg('text', { x: fmt(x), y: fmt(y) }, String(i + 1))));
      }
      children.push(...this._scaleBar(scale, cy));
      if (tiles && this.getAttribute('tile-attribution')) {
        children.push(svg('text', { class: 'lbl', x: String(W - 4), y: String(H - 4), 'text-anchor': 'end' }, this.getAttribute('tile-attribution')));
      }
      map.replaceChildren(...children);
    }

    /** The zoomed-out map: the area's clusters (exact counts) or its points, as dots. */
    _renderArea() {
      const { box, items, clusters } = this._area;
      const [west, south, east, north] = box;
      const x0 = mercX(west);
      const x1 = mercX(east) + (east < west ? 1 : 0);
      const [y0, y1] = [mercY(north), mercY(south)];
      const scale = Math.min((W - 2 * PAD) / Math.max(x1 - x0, 1e-12), (H - 2 * PAD) / Math.max(y1 - y0, 1e-12));
      const cx = (x0 + x1) / 2;
      const cy = (y0 + y1) / 2;
      const px = (lat, lon) => {
        const x = mercX(lon) + (east < west && lon < west ? 1 : 0);
        return [W / 2 + (x - cx) * scale, H / 2 + (mercY(lat) - cy) * scale];
      };
      const fmt = (v) => v.toFixed(1);
      const children = [];
      const tiles = this.getAttribute('tile-url');
      if (tiles) children.push(...this._tiles(tiles, scale, cx, cy));
      const zoomTo = (lat, lon) => { this.setLocation(lat, lon); };
      // The searched place first: the clusters and dots over it stay visible and clickable.
      const [yx, yy] = px(this._at.lat, this._at.lon);
      children.push(svg('path', { class: 'you', d: `M${fmt(yx)} ${fmt(yy - 8)}l7 8-7 8-7-8z` }, svg('title', {}, this._t('you'))));
      for (const c of clusters) {
        const [x, y] = px(c.lat, c.lon);
        const r = 9 + 3 * Math.log10(Math.max(1, c.count));
        const label = c.count >= 10000 ? `${Math.round(c.count / 1000)}k` : c.count >= 1000 ? `${(c.count / 1000).toFixed(1)}k` : String(c.count);
        children.push(svg('g', { class: 'cl', 'data-count': c.count, onclick: () => zoomTo(c.lat, c.lon) },
          svg('circle', { cx: fmt(x), cy: fmt(y), r: fmt(r) }),
          svg('text', { x: fmt(x), y: fmt(y) }, label),
          svg('title', {}, this._t('cluster', { n: c.count }))));
      }
      for (const p of items) {
        const [x, y] = px(p.lat, p.lon);
        children.push(svg('circle', { class: 'dot', cx: fmt(x), cy: fmt(y), r: '5', 'data-id': p.id, onclick: () => zoomTo(p.lat, p.lon) },
          svg('title', {}, p.name)));
      }
      children.push(...this._scaleBar(scale, cy));
      this._map.replaceChildren(...children);
    }

    _tiles(template, scale, cx, cy) {
      const z = Math.max(0, Math.min(19, Math.ceil(Math.log2(scale / 256))));
      const n = 2 ** z;
      const size = scale / n;
      const images = [];
      const tx0 = Math.floor((cx - W / 2 / scale) * n);
      const tx1 = Math.floor((cx + W / 2 / scale) * n);
      const ty0 = Math.max(0, Math.floor((cy - H / 2 / scale) * n));
      const ty1 = Math.min(n - 1, Math.floor((cy + H / 2 / scale) * n));
      for (let tx = tx0; tx <= tx1; tx++) {
        for (let ty = ty0; ty <= ty1; ty++) {
          const href = template.replace('{z}', z).replace('{x}', ((tx % n) + n) % n).replace('{y}', ty);
          images.push(svg('image', {
            href, x: (W / 2 + (tx / n - cx) * scale).toFixed(2), y: (H / 2 + (ty / n - cy) * scale).toFixed(2),
            width: size.toFixed(2), height: size.toFixed(2), preserveAspectRatio: 'none',
          }));
        }
      }
      return images;
    }

    _scaleBar(scale, cy) {
      const lat = (Math.atan(Math.sinh(Math.PI * (1 - 2 * cy))) * 180) / Math.PI;
      const metresPerPx = (40075016.686 * Math.cos((lat * Math.PI) / 180)) / scale;
      const steps = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
      const m = steps.filter((s) => s / metresPerPx <= 90).pop() || steps[0];
      const len = m / metresPerPx;
      return [
        svg('path', { class: 'scale', d: `M8 ${H - 14}v4h${len.toFixed(1)}v-4` }),
        svg('text', { class: 'lbl', x: '8', y: String(H - 16) }, m >= 1000 ? `${m / 1000} km` : `${m} m`),
      ];
    }

    _plain(p) {
      const { _av, ...point } = p;
      return point;
    }

    _pick(i, byPointer) {
      const p = this._items[i];
      if (!p) return;
      this._active = i;
      if (byPointer) this._list.focus({ preventScroll: true });
      if (!p._av.ok) {
        this._syncActive();
        this._say('not_selectable', { name: p.name, reason: this._reason(p) });
        return;
      }
      if (this._chosen?.id !== p.id) this._choose(p, true);
      this._renderList();
      this._renderMap();
    }

    _choose(p, announce) {
      const before = this._chosen;
      this._chosen = p ? this._plain(p) : null;
      this._chosenEl.hidden = !p;
      this._chosenEl.textContent = p ? this._chosenText(p) : '';
      this._internals?.setFormValue(p ? String(p.id) : null);
      this._validity();
      if (p) this._showRequired(false);
      if (announce && p) this._say('chose', { name: p.name });
      if (!announce || before?.id === this._chosen?.id) return;
      this.dispatchEvent(new CustomEvent('pudo:select', { bubbles: true, composed: true, detail: this._chosen }));
      this.dispatchEvent(new Event('change', { bubbles: true }));
    }

    _chosenText(p) {
      const address = this._address(p);
      return this._t('chosen', { name: this._name(p) }) + (address ? ` · ${address}` : '');
    }

    _missing() {
      return this.hasAttribute('required') && !this._chosen;
    }

    _validity() {
      if (!this._internals || !this._built) return;
      if (this._missing()) this._internals.setValidity({ valueMissing: true }, this._t('required'), this._list.hidden ? this._input : this._list);
      else this._internals.setValidity({});
    }

    _showRequired(show) {
      this._error.hidden = !show;
    }

    _focusList() {
      if (this._active < 0 && this._items.length) {
        const chosen = this._items.findIndex((p) => p.id === this._chosen?.id);
        const first = this._items.findIndex((p) => p._av.ok);
        this._active = chosen >= 0 ? chosen : Math.max(first, 0);
      }
      // Scrolling under a pointer between its press and release would turn the click into a
      // click on the list: only keyboard focus brings the active point into view.
      this._syncActive(this._list.matches(':focus-visible'));
    }

    _syncActive(scroll = false) {
      const items = [...this._list.children];
      items.forEach((li, i) => li.classList.toggle('act', i === this._active));
      const act = items[this._active];
      if (act) {
        this._list.setAttribute('aria-activedescendant', act.id);
        if (scroll) act.scrollIntoView?.({ block: 'nearest' });
      } else {
        this._list.removeAttribute('aria-activedescendant');
      }
    }

    _key(e) {
      const n = this._items.length;
      if (!n) return;
      const moves = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 };
      this._list.classList.add('kbd');
      if (e.key in moves) this._active = Math.max(0, Math.min(n - 1, this._active + moves[e.key]));
      else if (e.key === 'Home') this._active = 0;
      else if (e.key === 'End') this._active = n - 1;
      else if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this._pick(this._active, false); return; }
      else return;
      e.preventDefault();
      this._syncActive(true);
    }
  }

  customElements.define('pudo-picker', PudoPicker);
})();
