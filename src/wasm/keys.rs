//! `Key`: a secp256k1 secret key held inside the wasm instance.

use crate::error::SignatureError;
use crate::{LocalSigner, Signer};
use wasm_bindgen::prelude::*;

use super::error::{WasmError, INVALID_KEY};

/// A secp256k1 key that signs l2pay states. The secret stays in wasm memory until `toBytes()`
/// is called; call `free()` when done to release it (JavaScript's garbage collector does not
/// see wasm memory).
#[wasm_bindgen]
pub struct Key {
    signer: LocalSigner,
}

#[wasm_bindgen]
impl Key {
    /// A fresh key from the platform CSPRNG (`crypto.getRandomValues`).
    pub fn generate() -> Result<Key, WasmError> {
        loop {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret)
                .map_err(|e| WasmError::new("RNG_UNAVAILABLE", e.to_string()))?;
            // Fails only for zero or a value ≥ the curve order: probability ≈ 2^-128.
            if let Ok(signer) = LocalSigner::from_bytes(&secret) {
                return Ok(Key { signer });
            }
        }
    }

    /// A key from its 32 secret bytes. Throws `INVALID_KEY` for any other length, for zero
    /// and for values not below the curve order.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Key, WasmError> {
        let secret: &[u8; 32] = bytes.try_into().map_err(|_| {
            WasmError::new(
                INVALID_KEY,
                format!("a secret key is 32 bytes, got {}", bytes.len()),
            )
        })?;
        let signer = LocalSigner::from_bytes(secret)
            .map_err(|e: SignatureError| WasmError::new(INVALID_KEY, e.to_string()))?;
        Ok(Key { signer })
    }

    /// The Ethereum address, `0x`-prefixed and EIP-55 checksummed.
    #[wasm_bindgen(getter, unchecked_return_type = "Hex")]
    pub fn address(&self) -> String {
        self.signer.address().to_checksum(None)
    }

    /// The 32 secret bytes (for a backup). Handle with care.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.signer.secret_bytes().to_vec()
    }
}

impl Key {
    pub(crate) fn signer(&self) -> &LocalSigner {
        &self.signer
    }
}
