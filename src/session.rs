//! The session protocol between a client (browser SDK, native client) and a hub over one
//! WebSocket: authentication, channel registration, the channel protocol itself, and typed
//! errors. Frames use the same binary encoding as [`crate::wire`].

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use crate::eip712;
use crate::error::SignatureError;
use crate::ledger::Payment;
use crate::op::Policy;
use crate::router::RoutingPolicy;
use crate::signer::{Signature, Signer};
use crate::state::{ChannelParams, ChannelState};
use crate::wire::Message;
use crate::Amount;

/// What a hub accepts in a channel it is asked to register: a wallet checks its channel
/// against these before any money goes on chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubTerms {
    /// The shortest challenge period the hub accepts, in seconds.
    pub min_challenge_period: u64,
    /// The tokens it serves (the zero address: the chain's native coin).
    pub tokens: Vec<Address>,
}

/// Everything that travels over a client–hub connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Frame {
    /// Hub → client, first frame: prove you hold your key by signing this challenge.
    Challenge {
        hub: Address,
        chain_id: u64,
        adjudicator: Address,
        challenge: B256,
    },
    /// Client → hub: the signed challenge.
    Auth { client: Address, sig: Signature },
    /// Hub → client: authenticated; the channels the hub holds with this client, the
    /// channel policy both ends must enforce, and the hub's routing fees and expiry rules.
    Welcome {
        channels: Vec<ChannelParams>,
        policy: Policy,
        routing: RoutingPolicy,
        terms: HubTerms,
    },
    /// Client → hub: track this channel (opened on chain, the hub is participant B).
    Register { params: ChannelParams },
    /// Hub → client: the hub now drives its end of the channel.
    Registered { channel_id: B256 },
    /// The channel protocol.
    Channel(Message),
    /// Hub → client: a request or frame was refused; the connection stays usable unless the
    /// hub closes it.
    Error { code: String, message: String },
    /// Client → hub: send me your latest countersigned state of this channel (a wallet that
    /// lost its storage, or restored an old backup, recovers from it).
    Sync { channel_id: B256 },
    /// Hub → client: the answer to `Sync`.
    SyncState(Box<SyncState>),
}

/// A channel's latest state signed by both, with what the ledger must remember. The client
/// checks both signatures, so a hub can only hand back a state the client itself signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncState {
    pub params: ChannelParams,
    pub state: ChannelState,
    /// `[A, B]` signatures on `state`; absent at nonce 0 (nothing was signed yet).
    pub sigs: Option<[Signature; 2]>,
    /// Cumulative deposits the hub's chain watcher has seen, `[A, B]`.
    #[serde(with = "crate::serde_util::amount_pair")]
    pub chain_deposits: [Amount; 2],
    pub last_htlc_id: [u64; 2],
    pub payments: Vec<(B256, Payment)>,
}

/// The digest a client signs to authenticate to `hub` with `challenge`.
pub fn auth_digest(chain_id: u64, hub: Address, client: Address, challenge: B256) -> B256 {
    let auth = eip712::Auth {
        hub,
        client,
        challenge,
    };
    eip712::signing_hash(&auth, &eip712::invoice_domain(chain_id))
}

/// The client's answer to a challenge.
pub fn answer_challenge(
    signer: &dyn Signer,
    chain_id: u64,
    hub: Address,
    challenge: B256,
) -> Frame {
    let client = signer.address();
    Frame::Auth {
        client,
        sig: signer.sign_digest(&auth_digest(chain_id, hub, client, challenge)),
    }
}

/// Checks a client's answer to the challenge the hub sent.
pub fn verify_auth(
    chain_id: u64,
    hub: Address,
    challenge: B256,
    client: Address,
    sig: &Signature,
) -> Result<(), SignatureError> {
    sig.verify(&auth_digest(chain_id, hub, client, challenge), client)
}
