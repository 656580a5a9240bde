//! secp256k1 signing behind a [`Signer`] trait: keys come from outside the core.

use std::fmt;

use alloy_primitives::{keccak256, Address, B256};
use k256::ecdsa::{RecoveryId, Signature as KSig, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::SignatureError;

/// A recoverable secp256k1 signature as Ethereum encodes it: `r ‖ s ‖ v`, `v ∈ {27, 28}`,
/// always low-s.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 65]);

impl Signature {
    pub fn as_bytes(&self) -> &[u8; 65] {
        &self.0
    }

    pub fn from_slice(b: &[u8]) -> Result<Self, SignatureError> {
        let arr: [u8; 65] = b.try_into().map_err(|_| SignatureError::Malformed)?;
        Ok(Signature(arr))
    }

    /// Recovers the address that signed `digest`. Rejects high-s, bad `v` and malformed `r`/`s`.
    pub fn recover(&self, digest: &B256) -> Result<Address, SignatureError> {
        let v = self.0[64];
        let recid = match v {
            27 | 28 => v - 27,
            _ => return Err(SignatureError::Malformed),
        };
        let sig = KSig::from_slice(&self.0[..64]).map_err(|_| SignatureError::Malformed)?;
        if sig.normalize_s().is_some() {
            return Err(SignatureError::HighS);
        }
        let recid = RecoveryId::from_byte(recid).ok_or(SignatureError::Malformed)?;
        let key = VerifyingKey::recover_from_prehash(digest.as_slice(), &sig, recid)
            .map_err(|_| SignatureError::Invalid)?;
        Ok(address_of(&key))
    }

    /// Checks that `expected` signed `digest`.
    pub fn verify(&self, digest: &B256, expected: Address) -> Result<(), SignatureError> {
        let got = self.recover(digest)?;
        if got == expected {
            Ok(())
        } else {
            Err(SignatureError::WrongSigner { expected, got })
        }
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", alloy_primitives::hex::encode(self.0))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&format!("{self:?}"))
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            let bytes = alloy_primitives::hex::decode(s).map_err(D::Error::custom)?;
            Signature::from_slice(&bytes).map_err(D::Error::custom)
        } else {
            let bytes: &[u8] = <&[u8]>::deserialize(d)?;
            Signature::from_slice(bytes).map_err(D::Error::custom)
        }
    }
}

/// Something that can sign 32-byte digests for one address: a local key, a hardware wallet,
/// a remote signer. The core only ever asks for digests of EIP-712 typed data.
pub trait Signer: Send + Sync {
    fn address(&self) -> Address;
    fn sign_digest(&self, digest: &B256) -> Signature;
}

/// Ethereum address of a public key: the last 20 bytes of keccak256 of the uncompressed point.
pub fn address_of(key: &VerifyingKey) -> Address {
    let point = key.to_encoded_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
}

/// A secp256k1 key held in memory. Signatures are deterministic (RFC 6979): the same digest
/// always yields the same signature.
#[derive(Clone)]
pub struct LocalSigner {
    key: SigningKey,
    address: Address,
}

impl LocalSigner {
    /// A signer from 32 secret bytes (from a CSPRNG or a backup). Rejects zero and values ≥ n.
    pub fn from_bytes(secret: &[u8; 32]) -> Result<Self, SignatureError> {
        let key = SigningKey::from_slice(secret).map_err(|_| SignatureError::BadKey)?;
        let address = address_of(key.verifying_key());
        Ok(LocalSigner { key, address })
    }

    pub fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes().into()
    }
}

impl fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSigner")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Signer for LocalSigner {
    fn address(&self) -> Address {
        self.address
    }

    fn sign_digest(&self, digest: &B256) -> Signature {
        let (sig, recid) = self
            .key
            .sign_prehash_recoverable(digest.as_slice())
            .expect("a 32-byte prehash is always signable");
        let (sig, recid) = match sig.normalize_s() {
            Some(low) => (
                low,
                RecoveryId::new(!recid.is_y_odd(), recid.is_x_reduced()),
            ),
            None => (sig, recid),
        };
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&sig.to_bytes());
        out[64] = 27 + recid.to_byte();
        Signature(out)
    }
}
