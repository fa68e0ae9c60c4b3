//! Pickup codes: drawn from a CSPRNG, stored only as a keyed hash, sealed for one reading.
//!
//! Codes have [`CODE_DIGITS`] digits: with the handover limit of 5 wrong codes per shop per
//! 10 minutes, a shop holding 100 live parcels gives a guesser a 1-in-a-million chance per
//! try, about 0.07 % per day of nonstop guessing, every try audited.

use base64::{engine::general_purpose::STANDARD, Engine};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

/// Digits in a pickup code.
pub const CODE_DIGITS: usize = 8;

/// A fresh random code.
pub fn generate() -> String {
    let mut rng = rand::rng();
    (0..CODE_DIGITS)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// Whether a typed code has the right form (digits only, the right length), after removing
/// spaces and dashes people type.
pub fn normalise(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (code.len() == CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

fn mac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
        mac.update(b"\x1f");
    }
    mac.finalize().into_bytes().into()
}

/// The keyed hash stored for a pickup code at a shop (hex).
pub fn hash(key: &[u8; 32], shop_id: i64, code: &str) -> String {
    keyed_hash(key, b"pickup-code", shop_id, code)
}

/// The keyed hash stored for a drop-off code at a shop (hex). A separate domain from pickup
/// codes, so the same digits never stand for both.
pub fn dropoff_hash(key: &[u8; 32], shop_id: i64, code: &str) -> String {
    keyed_hash(key, b"dropoff-code", shop_id, code)
}

fn keyed_hash(key: &[u8; 32], domain: &[u8], shop_id: i64, code: &str) -> String {
    hex(&mac(
        key,
        &[domain, &shop_id.to_be_bytes(), code.as_bytes()],
    ))
}

/// Encrypts a secret (a code, a webhook secret) for storage; base64 of nonce and ciphertext.
pub fn seal(key: &[u8; 32], plain: &str) -> String {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&mac(key, &[b"seal"])));
    let mut nonce = [0u8; 12];
    rand::rng().fill(&mut nonce);
    // Encryption with a valid key and nonce cannot fail.
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
        .unwrap_or_default();
    STANDARD.encode([nonce.as_slice(), &sealed].concat())
}

/// The code sealed for its one reading, in clear: `claim` erases the sealed copy (a
/// conditional update that only one caller can win) and returns the rows it changed; only the
/// caller that erased it gets the code. `None` when nothing is sealed or another caller won.
pub fn reveal_once<E>(
    key: &[u8; 32],
    sealed: Option<&str>,
    claim: impl FnOnce() -> Result<usize, E>,
) -> Result<Option<String>, E> {
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    Ok((claim()? == 1).then(|| unseal(key, sealed)).flatten())
}

/// Decrypts what [`seal`] produced; `None` if it was tampered with or sealed with another key.
pub fn unseal(key: &[u8; 32], sealed: &str) -> Option<String> {
    let bytes = STANDARD.decode(sealed).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&mac(key, &[b"seal"])));
    let plain = cipher
        .decrypt(Nonce::from_slice(&bytes[..12]), &bytes[12..])
        .ok()?;
    String::from_utf8(plain).ok()
}

/// HMAC-SHA256 of a webhook body, as sent in `Pudo-Signature` (hex). pudo only signs: the
/// webhook secret is never compared with anything here (merchants verify, in constant time).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// The code as an SVG QR code, for the merchant to show the customer.
pub fn qr_svg(code: &str) -> String {
    match qrcode::QrCode::new(code.as_bytes()) {
        Ok(qr) => qr
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
        Err(_) => String::new(),
    }
}

/// The code as a PNG QR code (8 pixels a module, a 4-module quiet zone), for the customer's
/// e-mail: mail clients show PNG inline where they refuse SVG. `None` only if the code does not
/// fit a QR code, which a pickup code always does.
pub fn qr_png(code: &str) -> Option<Vec<u8>> {
    const SCALE: usize = 8;
    const QUIET: usize = 4;
    let qr = qrcode::QrCode::new(code.as_bytes()).ok()?;
    let modules = qr.width();
    let colors = qr.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (x, y) = ((i % modules + QUIET) * SCALE, (i / modules + QUIET) * SCALE);
        for row in y..y + SCALE {
            pixels[row * side + x..row * side + x + SCALE].fill(0);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&pixels).ok()?;
    writer.finish().ok()?;
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_numeric_and_vary() {
        let codes: std::collections::HashSet<String> = (0..1000).map(|_| generate()).collect();
        assert!(codes.len() > 990);
        assert!(codes
            .iter()
            .all(|c| c.len() == CODE_DIGITS && c.bytes().all(|b| b.is_ascii_digit())));
    }

    #[test]
    fn hashes_are_keyed_and_per_shop() {
        let k = [1u8; 32];
        assert_eq!(hash(&k, 1, "12345678"), hash(&k, 1, "12345678"));
        assert_ne!(hash(&k, 1, "12345678"), hash(&k, 2, "12345678"));
        assert_ne!(hash(&k, 1, "12345678"), hash(&[2u8; 32], 1, "12345678"));
        assert!(!hash(&k, 1, "12345678").contains("12345678"));
        assert_ne!(hash(&k, 1, "12345678"), dropoff_hash(&k, 1, "12345678"));
        assert_ne!(
            dropoff_hash(&k, 1, "12345678"),
            dropoff_hash(&k, 2, "12345678")
        );
    }

    #[test]
    fn sealing_round_trips_and_detects_tampering() {
        let k = [3u8; 32];
        let sealed = seal(&k, "87654321");
        assert!(!sealed.contains("87654321"));
        assert_eq!(unseal(&k, &sealed).as_deref(), Some("87654321"));
        assert_eq!(unseal(&[4u8; 32], &sealed), None);
        let mut bytes = STANDARD.decode(&sealed).expect("b64");
        bytes[14] ^= 1;
        assert_eq!(unseal(&k, &STANDARD.encode(bytes)), None);
    }

    #[test]
    fn typed_codes_are_normalised() {
        assert_eq!(normalise(" 1234-5678 ").as_deref(), Some("12345678"));
        assert_eq!(normalise("1234567"), None);
        assert_eq!(normalise("1234567a"), None);
    }

    #[test]
    fn qr_is_svg() {
        assert!(qr_svg("12345678").starts_with("<?xml"));
    }

    #[test]
    fn qr_png_is_a_square_png_that_decodes_to_black_and_white() {
        let png = qr_png("12345678").expect("png");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().expect("header");
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).expect("frame");
        assert_eq!(info.width, info.height);
        // Version 1 (21 modules) plus the quiet zone, 8 pixels each.
        assert_eq!(info.width, (21 + 8) * 8);
        assert!(pixels.contains(&0) && pixels.contains(&255));
        assert!(pixels.iter().all(|&p| p == 0 || p == 255));
    }
}
