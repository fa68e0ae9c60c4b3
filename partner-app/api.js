// The partner API over fetch. Errors come in two kinds: `ApiError` (the server answered, with
// an `application/problem+json` body) and `NetworkError` (no answer: offline, timed out, or a
// 5xx that is worth retrying later).

export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.retryAfter = retryAfter;
  }
}

export class NetworkError extends Error {}

const TIMEOUT_MS = 15000;

/**
 * Sends one request to the API and answers its JSON body. `token` is the bearer token, `body`
 * a value to send as JSON. Throws `ApiError` or `NetworkError`.
 */
export async function request(method, path, { token, body, timeout = TIMEOUT_MS } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeout);
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: abort.signal,
      cache: 'no-store',
      credentials: 'omit'
    });
  } catch (e) {
    throw new NetworkError(e?.name === 'AbortError' ? 'timed out' : 'no connection');
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    const text = await res.text();
    data = text ? JSON.parse(text) : null;
  } catch {
    if (res.ok) throw new NetworkError('the answer was cut off');
  }
  if (res.ok) return data;
  // A gateway or server in trouble: nothing was decided, so the request can be sent again.
  if ([502, 503, 504].includes(res.status) || (res.status >= 500 && !data)) {
    throw new NetworkError(`HTTP ${res.status}`);
  }
  const retry = Number.parseInt(res.headers.get('retry-after') || '', 10);
  throw new ApiError(res.status, data, Number.isFinite(retry) ? retry : undefined);
}

/** Exchanges the shop's external id and API key for a partner token. */
export const signIn = (shop, apiKey) =>
  request('POST', '/v1/auth/token', { body: { shop, api_key: apiKey } });

export const shop = (token) => request('GET', '/v1/partner/shop', { token });
export const setShopStatus = (token, status) =>
  request('PATCH', '/v1/partner/shop', { token, body: { status } });
export const parcels = (token, state) =>
  request('GET', `/v1/partner/parcels?state=${encodeURIComponent(state)}`, { token });
export const staging = (token) => request('GET', '/v1/partner/staging', { token });

/** Sends one action that may have been queued; each is safe to repeat. */
export function send(token, action) {
  switch (action.kind) {
    case 'handover':
      // What the partner confirmed at the counter (cash collected, ID checked), when the
      // parcel asked for it: only then is `true` sent.
      return request('POST', '/v1/partner/handovers', {
        token,
        body: {
          code: action.code,
          ...(action.cash_collected ? { cash_collected: true } : {}),
          ...(action.id_checked ? { id_checked: true } : {})
        }
      });
    case 'arrival':
      return request('POST', `/v1/partner/parcels/${action.id}/arrival`, { token });
    case 'return':
      return request('POST', `/v1/partner/parcels/${action.id}/return`, { token });
    case 'receipt':
      return request('POST', `/v1/partner/staging/${action.id}/receipt`, {
        token,
        body: action.lines && action.lines.length ? { lines: action.lines } : {}
      });
    default:
      return Promise.reject(new Error(`unknown action ${action.kind}`));
  }
}

/** Takes in a return at the counter by its drop-off code. */
export const dropoff = (token, code) =>
  request('POST', '/v1/partner/dropoffs', { token, body: { code } });
/** The returns at the shop waiting for the carrier. */
export const collections = (token) => request('GET', '/v1/partner/collections', { token });
/** Confirms what the carrier's driver took (all or nothing). */
export const collect = (token, returnIds) =>
  request('POST', '/v1/partner/collections', { token, body: { return_ids: returnIds } });
export const statement = (token, month) =>
  request('GET', `/v1/partner/statement?month=${encodeURIComponent(month)}`, { token });
/** Replaces what the shop declares to customers: capability names and a photo URL (or null). */
export const setCapabilities = (token, capabilities, photoUrl) =>
  request('PUT', '/v1/partner/shop/capabilities', { token, body: { capabilities, photo_url: photoUrl } });
export const closures = (token) => request('GET', '/v1/partner/shop/closures', { token });
export const setClosures = (token, list) =>
  request('PUT', '/v1/partner/shop/closures', { token, body: { closures: list } });

/** The month's statement as CSV text (the same errors as `request`). */
export async function statementCsv(token, month) {
  const path = `/v1/partner/statement?month=${encodeURIComponent(month)}&format=csv`;
  let res;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    res = await fetch(path, {
      headers: { accept: 'text/csv', authorization: `Bearer ${token}` },
      signal: abort.signal, cache: 'no-store', credentials: 'omit'
    });
    const text = await res.text();
    if (res.ok) return text;
    if (res.status >= 500) throw new NetworkError(`HTTP ${res.status}`);
    let problem = null;
    try { problem = JSON.parse(text); } catch { /* not problem+json */ }
    throw new ApiError(res.status, problem);
  } catch (e) {
    if (e instanceof ApiError || e instanceof NetworkError) throw e;
    throw new NetworkError(e?.name === 'AbortError' ? 'timed out' : 'no connection');
  } finally {
    clearTimeout(timer);
  }
}
