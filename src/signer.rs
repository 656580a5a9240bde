//! secp256k1 signing behind a [`Signer`] trait: keys come from outside the core.

use std::fmt;
use std::sync::OnceLock;

use alloy_primitives::{keccak256, Address, B256};
use k256::ecdsa::{RecoveryId, Signature as KSig, SigningKey, VerifyingKey};
use k256::elliptic_curve::ops::{Invert, LinearCombination, Reduce};
use k256::elliptic_curve::point::AffineCoordinates;
use k256::{FieldBytes, ProjectivePoint, Scalar, U256};
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

    /// The `r ‖ s` part and the recovery id, after the checks every path shares: `v ∈ {27, 28}`,
    /// `r` and `s` in range and non-zero, low-s.
    fn parts(&self) -> Result<(KSig, RecoveryId), SignatureError> {
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
        Ok((sig, recid))
    }

    /// Recovers the public key that signed `digest` (what the contract's `ecrecover` does).
    /// Rejects high-s, bad `v` and malformed `r`/`s`.
    pub fn recover_key(&self, digest: &B256) -> Result<VerifyingKey, SignatureError> {
        let (sig, recid) = self.parts()?;
        VerifyingKey::recover_from_prehash(digest.as_slice(), &sig, recid)
            .map_err(|_| SignatureError::Invalid)
    }

    /// Recovers the address that signed `digest`. Rejects high-s, bad `v` and malformed `r`/`s`.
    pub fn recover(&self, digest: &B256) -> Result<Address, SignatureError> {
        Ok(address_of(&self.recover_key(digest)?))
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

    /// Checks that `key` signed `digest` **and that `ecrecover` of this exact signature gives
    /// `key`**: succeeds exactly when [`Signature::recover_key`] would return `key`, at the cost
    /// of one ECDSA verification instead of a recovery (which decompresses `R`, computes the
    /// key and then verifies against it).
    ///
    /// ECDSA verification computes `R' = (z/s)·G + (r/s)·Q`; recovery with id `v − 27` yields
    /// `Q` iff `R'` is the point recovery starts from: `x(R') = r` exactly (ids 0 and 1 never
    /// add the group order to `r`) and `y(R')` has the parity of the id. Checking both here
    /// refuses a signature whose `v` is flipped even though `(r, s)` verifies with `key`.
    pub fn verify_with_key(&self, digest: &B256, key: &VerifyingKey) -> Result<(), SignatureError> {
        let (sig, recid) = self.parts()?;
        let (r, s) = sig.split_scalars();
        let z = <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(digest.0));
        // `s` is public: variable time is fine.
        let s_inv = *s.invert_vartime();
        let q = ProjectivePoint::from(*key.as_affine());
        let point =
            ProjectivePoint::lincomb(&ProjectivePoint::GENERATOR, &(z * s_inv), &q, &(*r * s_inv))
                .to_affine();
        // The identity's affine x is 0, never equal to the non-zero r.
        if point.x() != r.to_bytes() {
            return Err(SignatureError::Invalid);
        }
        if bool::from(point.y_is_odd()) != recid.is_y_odd() {
            return Err(SignatureError::Invalid);
        }
        Ok(())
    }

    /// [`Signature::verify`] with the signer's public key remembered in `cache`: the first
    /// signature that verifies for `expected` stores the recovered key, later ones are checked
    /// against it with [`Signature::verify_with_key`]. The outcome is always the one `verify`
    /// gives; a signature refused on the fast path is checked again by recovery, so the error
    /// is the same typed error `verify` returns (a bad signature costs what it did before).
    pub fn verify_cached(
        &self,
        digest: &B256,
        expected: Address,
        cache: &KeyCache,
    ) -> Result<(), SignatureError> {
        if let Some((addr, key)) = cache.0.get() {
            if *addr == expected && self.verify_with_key(digest, key).is_ok() {
                return Ok(());
            }
            return self.verify(digest, expected);
        }
        let key = self.recover_key(digest)?;
        let got = address_of(&key);
        if got != expected {
            return Err(SignatureError::WrongSigner { expected, got });
        }
        let _ = cache.0.set((got, key));
        Ok(())
    }
}

/// One peer's public key, learned from the first of its signatures that verifies; see
/// [`Signature::verify_cached`]. In memory only (a channel keeps one for its peer).
#[derive(Clone, Default)]
pub struct KeyCache(OnceLock<(Address, VerifyingKey)>);

impl KeyCache {
    /// The address whose key is cached, if any.
    pub fn address(&self) -> Option<Address> {
        self.0.get().map(|(a, _)| *a)
    }
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyCache").field(&self.address()).finish()
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

#[cfg(test)]
mod tests {
    use super::*;
    use k256::ecdsa::signature::hazmat::PrehashVerifier;

    fn signer(seed: u8) -> LocalSigner {
        LocalSigner::from_bytes(&[seed; 32]).unwrap()
    }

    fn digest(n: u64) -> B256 {
        keccak256(n.to_be_bytes())
    }

    fn flip_v(sig: &Signature) -> Signature {
        let mut b = sig.0;
        b[64] ^= 27 ^ 28;
        Signature(b)
    }

    #[test]
    fn a_flipped_v_is_refused_on_the_cached_path() {
        let (a, b) = (signer(1), signer(2));
        let cache = KeyCache::default();
        let d0 = digest(0);
        a.sign_digest(&d0)
            .verify_cached(&d0, a.address(), &cache)
            .unwrap();
        assert_eq!(cache.address(), Some(a.address()));
        let key = *a.key.verifying_key();

        let d = digest(1);
        let sig = a.sign_digest(&d);
        let flipped = flip_v(&sig);
        // (r, s) alone verifies with the key: only v makes `ecrecover` name someone else.
        let rs = KSig::from_slice(&flipped.0[..64]).unwrap();
        key.verify_prehash(d.as_slice(), &rs).unwrap();
        assert_ne!(flipped.recover(&d).ok(), Some(a.address()));

        assert_eq!(
            flipped.verify_with_key(&d, &key),
            Err(SignatureError::Invalid)
        );
        assert!(flipped.verify_cached(&d, a.address(), &cache).is_err());
        assert_eq!(
            flipped.verify_cached(&d, a.address(), &cache),
            flipped.verify(&d, a.address())
        );
        sig.verify_cached(&d, a.address(), &cache).unwrap();

        // Another key's signature, and a signature on another digest, are refused too.
        let other = b.sign_digest(&d);
        assert!(matches!(
            other.verify_cached(&d, a.address(), &cache),
            Err(SignatureError::WrongSigner { .. })
        ));
        assert!(sig.verify_cached(&digest(2), a.address(), &cache).is_err());
        assert!(sig.verify_with_key(&digest(2), &key).is_err());
    }

    #[test]
    fn the_fast_path_agrees_with_recovery() {
        let keys: Vec<LocalSigner> = (1..=4).map(signer).collect();
        for n in 0..64u64 {
            let d = digest(n);
            let s = &keys[(n % 4) as usize];
            let sig = s.sign_digest(&d);
            for cand in [sig, flip_v(&sig)] {
                let recovered = cand.recover_key(&d).ok();
                for k in &keys {
                    let key = k.key.verifying_key();
                    assert_eq!(
                        cand.verify_with_key(&d, key).is_ok(),
                        recovered.as_ref() == Some(key),
                        "digest {n}, signer {:?}, candidate key {:?}",
                        s.address(),
                        k.address()
                    );
                }
            }
        }
    }

    #[test]
    fn the_fast_path_refuses_high_s_and_bad_v() {
        let a = signer(3);
        let d = digest(7);
        let sig = a.sign_digest(&d);
        let key = a.key.verifying_key();
        // s' = n - s verifies for plain ECDSA but is the malleable twin.
        let k = KSig::from_slice(&sig.0[..64]).unwrap();
        let (r, s) = k.split_scalars();
        let high = KSig::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        let mut twin = sig.0;
        twin[..64].copy_from_slice(&high.to_bytes());
        twin[64] = flip_v(&sig).0[64];
        assert_eq!(
            Signature(twin).verify_with_key(&d, key),
            Err(SignatureError::HighS)
        );
        for v in [0u8, 1, 26, 29, 30, 255] {
            let mut bad = sig.0;
            bad[64] = v;
            assert_eq!(
                Signature(bad).verify_with_key(&d, key),
                Err(SignatureError::Malformed)
            );
        }
    }
}
