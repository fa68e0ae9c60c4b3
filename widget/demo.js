// The demo page's own script: shows the detail of each `pudo:select` event.
document.addEventListener('pudo:select', (e) => {
  document.getElementById('event').textContent = JSON.stringify(e.detail, null, 2);
});
