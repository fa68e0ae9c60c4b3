//! The cryptography behind `jsonwebtoken`: HMAC-SHA2 and Ed25519 only, nothing else.
//!
//! jsonwebtoken 10 takes its signing code from a process-wide [`CryptoProvider`]. Its built-in
//! `rust_crypto` provider also brings RSA (the `rsa` crate, RUSTSEC-2023-0071, no fixed
//! version), P-256 and P-384, which pudo never uses: it signs with HS256 or EdDSA only
//! (`keys.rs`). This provider implements exactly the HMAC family and EdDSA with the RustCrypto
//! crates pudo already has (`hmac`, `sha2`, `ed25519-dalek`), the same way the built-in one
//! does; any other algorithm is refused as `InvalidAlgorithm`, so a token claiming RS256 or
//! ES256 can never be verified, whatever the rest of the code does.
//!
//! [`install`] must run before the first `jsonwebtoken` call of the process (otherwise
//! jsonwebtoken settles on its built-in fallback, which panics on use); [`super::Keys`] calls it
//! whenever keys are made, and every signature goes through keys.

use ed25519_dalek::pkcs8::DecodePrivateKey;
use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::jwk::ThumbprintHash;
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Makes this module's provider the process's one; later calls do nothing.
pub fn install() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // Fails only if a provider is already installed, which only this function does.
        let _ = PROVIDER.install_default();
    });
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    jwk_utils: JwkUtils {
        extract_rsa_public_key_components: |_| {
            Err(ErrorKind::InvalidRsaKey("RSA is not supported".into()).into())
        },
        extract_ec_public_key_coordinates: |_, _| Err(ErrorKind::InvalidEcdsaKey.into()),
        compute_digest,
    },
};

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Vec<u8> {
    match hash {
        ThumbprintHash::SHA256 => Sha256::digest(data).to_vec(),
        ThumbprintHash::SHA384 => Sha384::digest(data).to_vec(),
        ThumbprintHash::SHA512 => Sha512::digest(data).to_vec(),
    }
}

/// An HMAC key (HS256, HS384 or HS512), for signing and verifying.
struct HmacKey<M>(M, Algorithm);

impl<M: Mac + Clone> Signer<Vec<u8>> for HmacKey<M> {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl<M: Mac + Clone> Verifier<Vec<u8>> for HmacKey<M> {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        // Constant-time comparison.
        mac.verify_slice(signature)
            .map_err(signature::Error::from_source)
    }
}

impl<M: Mac + Clone> JwtSigner for HmacKey<M> {
    fn algorithm(&self) -> Algorithm {
        self.1
    }
}

impl<M: Mac + Clone> JwtVerifier for HmacKey<M> {
    fn algorithm(&self) -> Algorithm {
        self.1
    }
}

fn hmac<M: Mac + Clone + hmac::digest::KeyInit + 'static>(
    secret: &[u8],
    algorithm: Algorithm,
) -> Result<HmacKey<M>, Error> {
    let mac = <M as hmac::digest::KeyInit>::new_from_slice(secret)
        .map_err(|_| ErrorKind::InvalidKeyFormat)?;
    Ok(HmacKey(mac, algorithm))
}

struct EdSigner(ed25519_dalek::SigningKey);

impl Signer<Vec<u8>> for EdSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(msg).to_bytes().to_vec())
    }
}

impl JwtSigner for EdSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct EdVerifier(ed25519_dalek::VerifyingKey);

impl Verifier<Vec<u8>> for EdVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let signature = ed25519_dalek::Signature::from_slice(signature)?;
        // Strict: refuses the malleable and small-order cases that plain `verify` accepts.
        self.0.verify_strict(msg, &signature)
    }
}

impl JwtVerifier for EdVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    let alg = *algorithm;
    Ok(match alg {
        Algorithm::HS256 => Box::new(hmac::<Hmac<Sha256>>(key.try_get_hmac_secret()?, alg)?),
        Algorithm::HS384 => Box::new(hmac::<Hmac<Sha384>>(key.try_get_hmac_secret()?, alg)?),
        Algorithm::HS512 => Box::new(hmac::<Hmac<Sha512>>(key.try_get_hmac_secret()?, alg)?),
        Algorithm::EdDSA => {
            if key.family() != AlgorithmFamily::Ed {
                return Err(ErrorKind::InvalidKeyFormat.into());
            }
            let signing = ed25519_dalek::SigningKey::from_pkcs8_der(key.inner())
                .map_err(|_| ErrorKind::InvalidEddsaKey)?;
            Box::new(EdSigner(signing))
        }
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    })
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    let alg = *algorithm;
    Ok(match alg {
        Algorithm::HS256 => Box::new(hmac::<Hmac<Sha256>>(key.try_get_hmac_secret()?, alg)?),
        Algorithm::HS384 => Box::new(hmac::<Hmac<Sha384>>(key.try_get_hmac_secret()?, alg)?),
        Algorithm::HS512 => Box::new(hmac::<Hmac<Sha512>>(key.try_get_hmac_secret()?, alg)?),
        Algorithm::EdDSA => {
            if key.family() != AlgorithmFamily::Ed {
                return Err(ErrorKind::InvalidKeyFormat.into());
            }
            // An Ed25519 public key is 32 bytes; anything else is not one.
            let bytes: &[u8; 32] = key
                .as_bytes()
                .try_into()
                .map_err(|_| ErrorKind::InvalidEddsaKey)?;
            let verifying = ed25519_dalek::VerifyingKey::from_bytes(bytes)
                .map_err(|_| ErrorKind::InvalidEddsaKey)?;
            Box::new(EdVerifier(verifying))
        }
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_and_eddsa_sign_and_verify_and_nothing_else_does() {
        install();
        let msg = b"header.claims";
        let secret = EncodingKey::from_secret(&[7u8; 32]);
        let check = DecodingKey::from_secret(&[7u8; 32]);
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let sig = jsonwebtoken::crypto::sign(msg, &secret, alg).expect("sign");
            assert!(jsonwebtoken::crypto::verify(&sig, msg, &check, alg).expect("verify"));
            assert!(!jsonwebtoken::crypto::verify(&sig, b"other", &check, alg).expect("verify"));
        }
        for alg in [
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::ES384,
        ] {
            let err = jsonwebtoken::crypto::sign(msg, &secret, alg).expect_err("refused");
            assert!(matches!(err.kind(), ErrorKind::InvalidAlgorithm), "{alg:?}");
            let err = jsonwebtoken::crypto::verify("AAAA", msg, &check, alg).expect_err("refused");
            assert!(matches!(err.kind(), ErrorKind::InvalidAlgorithm), "{alg:?}");
        }
        // An HMAC secret is not an Ed25519 key, and the other way round.
        assert!(jsonwebtoken::crypto::sign(msg, &secret, Algorithm::EdDSA).is_err());
    }
}
