// QR code scanning with the browser's BarcodeDetector and the back camera. Loaded only when
// the shop owner taps "Scan": phones without BarcodeDetector never download it.

export const supported = () =>
  'BarcodeDetector' in window && !!navigator.mediaDevices?.getUserMedia;

/**
 * Shows the camera in `video` and resolves with the first 8-digit code read from a QR code.
 * `signal` (an AbortSignal) stops the camera and rejects with an AbortError.
 */
export async function scan(video, signal) {
  const formats = (await window.BarcodeDetector.getSupportedFormats?.()) || ['qr_code'];
  if (!formats.includes('qr_code')) throw new Error('qr_code not supported');
  const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: 'environment' },
    audio: false
  });
  const stop = () => {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  try {
    video.srcObject = stream;
    await video.play().catch(() => {});
    for (;;) {
      if (signal?.aborted) throw new DOMException('stopped', 'AbortError');
      if (video.readyState >= 2) {
        const found = await detector.detect(video).catch(() => []);
        for (const code of found) {
          const digits = codeFrom(code.rawValue);
          if (digits) return digits;
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    stop();
  }
}

/** The 8-digit pickup code in a QR code's text (digits, maybe with spaces or dashes). */
export function codeFrom(text) {
  const digits = String(text || '').replace(/[\s-]/g, '');
  return /^\d{8}$/.test(digits) ? digits : null;
}
