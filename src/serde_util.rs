//! Serde helpers: amounts are decimal strings in human-readable formats (JSON, where a JS number
//! would lose precision) and native integers in the compact binary wire format.

/// `u128` as a decimal string in JSON, as an integer in binary formats.
pub mod amount {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&v.to_string())
        } else {
            s.serialize_u128(*v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map_err(D::Error::custom)
        } else {
            u128::deserialize(d)
        }
    }
}

/// `[u128; 2]` with the same rules as [`amount`].
pub mod amount_pair {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Wrapped(#[serde(with = "super::amount")] u128);

    pub fn serialize<S: Serializer>(v: &[u128; 2], s: S) -> Result<S::Ok, S::Error> {
        [Wrapped(v[0]), Wrapped(v[1])].serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u128; 2], D::Error> {
        let [a, b] = <[Wrapped; 2]>::deserialize(d)?;
        Ok([a.0, b.0])
    }
}
