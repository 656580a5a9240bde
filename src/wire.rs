//! The wire protocol: versioned messages, a compact binary frame (postcard) for the socket and
//! a readable JSON form for logs and debugging. Decoding never panics on any input.

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use crate::error::{Error, UpdateError};
use crate::op::Op;
use crate::signer::Signature;

/// Wire protocol version carried in every frame.
pub const VERSION: u8 = 1;
/// Frame magic: ASCII "L2".
pub const MAGIC: [u8; 2] = *b"L2";
/// Largest frame accepted or produced, in bytes.
pub const MAX_FRAME: usize = 64 * 1024;

/// A proposal of the next state: the proposer's op, applied to the agreed state `base_nonce`,
/// gives the state at `nonce`, which `sig` signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Propose {
    pub channel_id: B256,
    pub base_nonce: u64,
    pub nonce: u64,
    pub op: Op,
    pub sig: Signature,
    /// The proposer's signature on the base state: lets a peer that missed the proposer's
    /// `Accept` of that base catch up from this message alone.
    pub base_sig: Option<Signature>,
}

/// The countersignature of the proposal at `nonce`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accept {
    pub channel_id: B256,
    pub nonce: u64,
    pub sig: Signature,
}

/// Why a proposal was not countersigned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RejectReason {
    /// Both sides proposed at once; participant A's proposal goes first.
    Conflict,
    /// The op is not valid on the agreed state.
    Invalid(UpdateError),
    /// The signature did not verify.
    BadSignature,
    /// The proposal does not build on the receiver's agreed state.
    OutOfSync,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reject {
    pub channel_id: B256,
    pub nonce: u64,
    pub reason: RejectReason,
    /// The highest nonce the rejecting side has ever signed; the next proposal must exceed it.
    pub highest_signed: u64,
}

/// Sent on every (re)connection: where the sender stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reestablish {
    pub channel_id: B256,
    pub latest_nonce: u64,
    /// The sender's signature on its latest agreed state (absent at nonce 0).
    pub latest_sig: Option<Signature>,
    pub highest_signed: u64,
}

/// Every message of the channel protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Message {
    Propose(Propose),
    Accept(Accept),
    Reject(Reject),
    Reestablish(Reestablish),
}

impl Message {
    pub fn channel_id(&self) -> B256 {
        match self {
            Message::Propose(m) => m.channel_id,
            Message::Accept(m) => m.channel_id,
            Message::Reject(m) => m.channel_id,
            Message::Reestablish(m) => m.channel_id,
        }
    }
}

/// Encodes any wire type into a frame: `"L2" ‖ version ‖ postcard(value)`.
pub fn encode_frame<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    let out = postcard::to_extend(value, out).map_err(|e| Error::Decode(e.to_string()))?;
    if out.len() > MAX_FRAME {
        return Err(Error::FrameTooLarge {
            size: out.len(),
            max: MAX_FRAME,
        });
    }
    Ok(out)
}

/// Decodes a frame produced by [`encode_frame`]. Any input yields a value or a typed error.
pub fn decode_frame<'a, T: Deserialize<'a>>(frame: &'a [u8]) -> Result<T, Error> {
    if frame.len() > MAX_FRAME {
        return Err(Error::FrameTooLarge {
            size: frame.len(),
            max: MAX_FRAME,
        });
    }
    let Some((header, body)) = frame.split_at_checked(3) else {
        return Err(Error::Decode("frame shorter than its header".into()));
    };
    if header[..2] != MAGIC {
        return Err(Error::Decode("bad frame magic".into()));
    }
    if header[2] != VERSION {
        return Err(Error::UnsupportedVersion(header[2]));
    }
    let (value, rest) =
        postcard::take_from_bytes(body).map_err(|e| Error::Decode(e.to_string()))?;
    if !rest.is_empty() {
        return Err(Error::Decode(format!("{} trailing bytes", rest.len())));
    }
    Ok(value)
}

/// The readable JSON form of a message (amounts as decimal strings, bytes as 0x-hex).
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("wire types always serialise to JSON")
}

pub fn from_json<'a, T: Deserialize<'a>>(s: &'a str) -> Result<T, Error> {
    if s.len() > MAX_FRAME {
        return Err(Error::FrameTooLarge {
            size: s.len(),
            max: MAX_FRAME,
        });
    }
    serde_json::from_str(s).map_err(|e| Error::Decode(e.to_string()))
}
