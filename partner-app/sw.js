// The partner app's service worker: keeps the app's own files so that the app opens without a
// connection (and shows what is waiting to be sent). Network first, so a connected phone always
// runs the current version; the API (/v1/…) is never touched here.

const CACHE = 'pudo-partner-1';
const SHELL = ['./', 'app.css', 'app.js', 'api.js', 'queue.js', 'i18n.js', 'scan.js', 'icon.svg', 'manifest.webmanifest'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  const scope = new URL(self.registration.scope);
  if (req.method !== 'GET' || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  const key = url.pathname === scope.pathname || url.pathname.endsWith('/index.html') ? './' : req;
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(key, copy));
        }
        return res;
      })
      .catch(() => caches.match(key, { ignoreSearch: true }).then((hit) => hit || Response.error()))
  );
});
