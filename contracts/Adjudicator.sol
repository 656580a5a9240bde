// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// Minimal ERC-20 surface the adjudicator needs.
interface IERC20Like {
    function balanceOf(address who) external view returns (uint256);
}

/// @title l2pay adjudicator
/// @notice Holds the funds of two-party payment channels and enforces the latest state both
/// participants signed (EIP-712, see `src/eip712.rs`). Channels are funded in the chain's native
/// coin (`token == address(0)`) or one ERC-20. Partial withdrawals keep the channel open; a
/// channel closes cooperatively at once, or unilaterally after a challenge period in which a
/// newer state replaces an older one. Pending HTLCs of the settled state are paid out one by one
/// against a global preimage registry.
/// @dev Participant A's key signs states; the account that funds A's side may be another one
/// (`openFor`): A's payouts then go to that funder, never to the signing key.
/// Payouts are pushed with bounded gas and never copy the payee's return data; one the payee
/// (or the token) refuses is kept in `owed[token][payee]` for the payee to pull with
/// `claimOwed`, so neither side can block the other's exit.
contract Adjudicator {
    // ------------------------------------------------------------------ types

    /// The signed channel state; field order and types are those of `State` in `src/eip712.rs`.
    struct State {
        bytes32 channelId;
        uint256 nonce;
        uint256 balanceA;
        uint256 balanceB;
        uint256 depositA;
        uint256 depositB;
        uint256 withdrawnA;
        uint256 withdrawnB;
        bytes32 locksRoot;
        bool isFinal;
    }

    /// One pending HTLC; `locksRoot = keccak256(abi.encode(Lock[]))`, zero for none.
    struct Lock {
        uint64 id;
        bool fromA;
        uint256 amount;
        bytes32 paymentHash;
        uint64 expiry;
    }

    enum Status {
        None,
        Open,
        Closing,
        Closed
    }

    struct Channel {
        // slot 0
        address a;
        uint64 challengePeriod;
        Status status;
        /// Set by `openFor` when the funder is not `a`: A's payouts go to `payeeA`, not to `a`.
        bool hasPayeeA;
        // slot 1
        address b;
        uint64 deadline;
        // slot 2
        address token;
        uint64 withdrawNonce;
        // slots 3-6: cumulative on-chain deposits and withdrawals
        uint256 depositA;
        uint256 depositB;
        uint256 withdrawnA;
        uint256 withdrawnB;
        // slots 7-9: the registered state of a unilateral close, reduced to what settle needs
        uint128 payoutA;
        uint128 payoutB;
        bytes32 locksRoot;
        uint64 nonce;
        // slot 9 (packed after `nonce`): where A's payouts go if `hasPayeeA`
        address payeeA;
    }

    /// A lock of a settled channel, waiting for `claimHtlc`.
    struct StoredLock {
        bytes32 paymentHash;
        uint128 amount;
        uint64 expiry;
        bool fromA;
        bool claimed;
    }

    /// Everything a watcher or UI wants to know about one channel.
    struct ChannelView {
        address a;
        address b;
        address token;
        uint64 challengePeriod;
        Status status;
        uint256 depositA;
        uint256 depositB;
        uint256 withdrawnA;
        uint256 withdrawnB;
        uint64 withdrawNonce;
        uint64 registeredNonce;
        uint64 deadline;
        uint256 payoutA;
        uint256 payoutB;
        bytes32 locksRoot;
        uint256 lockCount;
        /// Where A's payouts go: the account that called `openFor`, else `a`.
        address payeeA;
    }

    // -------------------------------------------------------------- constants

    bytes32 public constant STATE_TYPEHASH = keccak256(
        "State(bytes32 channelId,uint256 nonce,uint256 balanceA,uint256 balanceB,uint256 depositA,"
        "uint256 depositB,uint256 withdrawnA,uint256 withdrawnB,bytes32 locksRoot,bool isFinal)"
    );
    bytes32 public constant LOCK_TYPEHASH =
        keccak256("Lock(uint64 id,bool fromA,uint256 amount,bytes32 paymentHash,uint64 expiry)");
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("l2pay");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// secp256k1 n / 2: signatures with a larger s are the malleable twin and are refused.
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    /// Bounds of a channel's challenge period in seconds, checked at open (the same as
    /// `MIN_CHALLENGE_PERIOD` / `MAX_CHALLENGE_PERIOD` of `src/state.rs`). At least a minute,
    /// so that a stale close can be answered; at most 30 days, so that funds are never frozen
    /// for longer and `block.timestamp + challengePeriod` cannot overflow 64 bits.
    uint64 public constant MIN_CHALLENGE_PERIOD = 60;
    uint64 public constant MAX_CHALLENGE_PERIOD = 2_592_000;
    /// Gas forwarded to a native-coin payee: enough for a smart-contract wallet's `receive`,
    /// too little to grief the caller. The payee's return data is never copied.
    uint256 public constant PAYOUT_GAS = 50_000;
    /// Gas forwarded to the token for an ERC-20 `transfer` (hooks included); at most 32 bytes
    /// of its return data are read.
    uint256 public constant TOKEN_PAYOUT_GAS = 200_000;

    uint256 private immutable cachedChainId;
    bytes32 private immutable cachedDomainSeparator;

    // ---------------------------------------------------------------- storage

    mapping(bytes32 => Channel) private channels;
    mapping(bytes32 => StoredLock[]) private settledLocks;
    /// sha256(preimage) => timestamp of its first reveal.
    mapping(bytes32 => uint256) public revealedAt;
    /// token (zero: native coin) => payee => payouts that could not be delivered (the payee, or
    /// the token for it, refused or ran out of its gas allowance); the payee pulls them with
    /// `claimOwed`.
    mapping(address => mapping(address => uint256)) public owed;
    bool private transient entered;

    // ----------------------------------------------------------------- events

    event Opened(
        bytes32 indexed channelId,
        address indexed a,
        address indexed b,
        address token,
        uint256 amount,
        uint64 challengePeriod,
        bytes32 salt
    );
    /// `by` is the participant whose side was credited (the payer may be another account, see
    /// `depositFor`); `totalDeposit` is that side's cumulative deposit.
    event Deposited(bytes32 indexed channelId, address indexed by, uint256 amount, uint256 totalDeposit);
    event Withdrawn(
        bytes32 indexed channelId, uint256 nonce, uint256 amountA, uint256 amountB, uint256 withdrawnA, uint256 withdrawnB
    );
    event Closed(bytes32 indexed channelId, uint256 nonce, uint256 payoutA, uint256 payoutB);
    event CloseRegistered(bytes32 indexed channelId, address indexed by, uint256 nonce, uint64 deadline);
    event Challenged(bytes32 indexed channelId, address indexed by, uint256 nonce);
    event Settled(bytes32 indexed channelId, uint256 nonce, uint256 payoutA, uint256 payoutB, uint256 lockCount);
    event HtlcRegistered(
        bytes32 indexed channelId, uint256 index, bytes32 indexed paymentHash, uint256 amount, uint64 expiry, bool fromA
    );
    event PreimageRevealed(bytes32 indexed paymentHash, bytes32 preimage);
    event HtlcClaimed(bytes32 indexed channelId, uint256 index, address indexed to, uint256 amount, bool redeemed);
    event PaymentDeferred(address indexed token, address indexed to, uint256 amount);
    event OwedClaimed(address indexed token, address indexed by, address to, uint256 amount);

    // ----------------------------------------------------------------- errors

    error Reentrancy();
    error ZeroCounterparty();
    error ZeroParticipant();
    error SameParticipants();
    error ChannelExists();
    error NotToken();
    error WrongValue();
    error AmountTooLarge();
    error TransferFailed();
    error UnknownChannel();
    error NotOpen();
    error NotClosing();
    error NotClosed();
    error NotParticipant();
    error SignatureMalformed();
    error SignatureHighS();
    error WrongSigner(address expected, address got);
    error NonceTooLow();
    error NonceTooLarge();
    error DepositNotOnChain();
    error WithdrawalUndone();
    error Unbalanced();
    error NotFinal();
    error LocksPending();
    error HasWithdrawals();
    error ChallengePeriodOver();
    error ChallengePeriodRunning();
    error LocksMismatch();
    error BadLockIndex();
    error AlreadyClaimed();
    error Undetermined();
    error NothingOwed();
    error ChallengePeriodOutOfRange(uint64 challengePeriod);
    error LocksUnbalanced();
    error PayoutStarved();

    // ------------------------------------------------------------- modifiers

    modifier nonReentrant() {
        if (entered) revert Reentrancy();
        entered = true;
        _;
        entered = false;
    }

    constructor() {
        cachedChainId = block.chainid;
        cachedDomainSeparator = _buildDomainSeparator();
    }

    // ------------------------------------------------------------- funding

    /// Opens a channel with the caller as participant A and funds A's side with `amount`.
    function open(address b, address token, uint256 amount, uint64 challengePeriod, bytes32 salt)
        external
        payable
        nonReentrant
        returns (bytes32 channelId)
    {
        channelId = _open(msg.sender, b, token, amount, challengePeriod, salt);
    }

    /// Opens a channel with `a` as participant A (the key that signs A's states) and funds A's
    /// side with `amount` from the caller. A's payouts go to the caller for the channel's whole
    /// life; the channel id is the same as if `a` had called `open`. Anyone can take a given id
    /// first (e.g. by front-running): a funder whose `openFor` reverts `ChannelExists` must not
    /// fund that channel afterwards without checking `getChannel(id).payeeA`.
    function openFor(address a, address b, address token, uint256 amount, uint64 challengePeriod, bytes32 salt)
        external
        payable
        nonReentrant
        returns (bytes32 channelId)
    {
        if (a == address(0)) revert ZeroParticipant();
        channelId = _open(a, b, token, amount, challengePeriod, salt);
    }

    /// Adds `amount` to the caller's side of an open channel.
    function deposit(bytes32 channelId, uint256 amount) external payable nonReentrant {
        _deposit(channelId, msg.sender, amount);
    }

    /// Adds `amount`, paid by the caller, to `participant`'s side of an open channel. The money
    /// belongs to that side from now on: it is paid out to the side's payout address
    /// (`getChannel(id).payeeA` for A, `b` for B), not to the caller.
    function depositFor(bytes32 channelId, address participant, uint256 amount) external payable nonReentrant {
        _deposit(channelId, participant, amount);
    }

    /// Pays out the withdrawals `s` authorises beyond what was already withdrawn on chain.
    function withdraw(State calldata s, bytes calldata sigA, bytes calldata sigB) external nonReentrant {
        Channel storage ch = _channel(s.channelId);
        if (ch.status != Status.Open) revert NotOpen();
        _verifyBoth(ch, s, sigA, sigB);
        if (s.nonce <= ch.withdrawNonce) revert NonceTooLow();
        _payouts(ch, s);

        uint256 amountA = s.withdrawnA - ch.withdrawnA;
        uint256 amountB = s.withdrawnB - ch.withdrawnB;
        ch.withdrawNonce = uint64(s.nonce);
        ch.withdrawnA = s.withdrawnA;
        ch.withdrawnB = s.withdrawnB;
        emit Withdrawn(s.channelId, s.nonce, amountA, amountB, s.withdrawnA, s.withdrawnB);
        _pay(ch.token, _payeeA(ch), amountA);
        _pay(ch.token, ch.b, amountB);
    }

    // ------------------------------------------------------------- closing

    /// Closes at once on a final state without locks signed by both.
    function closeCooperative(State calldata s, bytes calldata sigA, bytes calldata sigB) external nonReentrant {
        Channel storage ch = _channel(s.channelId);
        if (ch.status != Status.Open) revert NotOpen();
        if (!s.isFinal) revert NotFinal();
        if (s.locksRoot != bytes32(0)) revert LocksPending();
        _verifyBoth(ch, s, sigA, sigB);
        (uint256 payA, uint256 payB) = _payouts(ch, s);

        ch.status = Status.Closed;
        emit Closed(s.channelId, s.nonce, payA, payB);
        _pay(ch.token, _payeeA(ch), payA);
        _pay(ch.token, ch.b, payB);
    }

    /// Registers a state signed by both and starts the challenge period. Anyone may call.
    /// `locks` are the state's HTLCs (the list its `locksRoot` commits to, empty for none);
    /// balances and locks together must account for exactly what the channel holds.
    function closeUnilateral(State calldata s, bytes calldata sigA, bytes calldata sigB, Lock[] calldata locks)
        external
        nonReentrant
    {
        Channel storage ch = _channel(s.channelId);
        if (ch.status != Status.Open) revert NotOpen();
        _verifyBoth(ch, s, sigA, sigB);
        _register(ch, s, locks);
        // At most MAX_CHALLENGE_PERIOD: no overflow before the year 5 * 10^11.
        uint64 deadline = uint64(block.timestamp) + ch.challengePeriod;
        ch.status = Status.Closing;
        ch.deadline = deadline;
        emit CloseRegistered(s.channelId, msg.sender, s.nonce, deadline);
    }

    /// Starts a unilateral close on the implicit nonce-0 state: every deposit goes back to its
    /// side. Only for a participant who never got a signed state, or for A's funder (`openFor`),
    /// whose signing key may hold no coin to pay for gas.
    function closeWithoutState(bytes32 channelId) external nonReentrant {
        Channel storage ch = _channel(channelId);
        if (ch.status != Status.Open) revert NotOpen();
        if (msg.sender != ch.a && msg.sender != ch.b && msg.sender != _payeeA(ch)) revert NotParticipant();
        if (ch.withdrawnA != 0 || ch.withdrawnB != 0) revert HasWithdrawals();
        // Nonce-0 state: balances, deposits, withdrawals zero, no locks.
        ch.payoutA = uint128(ch.depositA);
        ch.payoutB = uint128(ch.depositB);
        // At most MAX_CHALLENGE_PERIOD: no overflow before the year 5 * 10^11.
        uint64 deadline = uint64(block.timestamp) + ch.challengePeriod;
        ch.status = Status.Closing;
        ch.deadline = deadline;
        emit CloseRegistered(channelId, msg.sender, 0, deadline);
    }

    /// Replaces the registered state with a strictly newer one while the period runs; `locks`
    /// as for `closeUnilateral`.
    function challenge(State calldata s, bytes calldata sigA, bytes calldata sigB, Lock[] calldata locks)
        external
        nonReentrant
    {
        Channel storage ch = _channel(s.channelId);
        if (ch.status != Status.Closing) revert NotClosing();
        if (block.timestamp > ch.deadline) revert ChallengePeriodOver();
        if (s.nonce <= ch.nonce) revert NonceTooLow();
        _verifyBoth(ch, s, sigA, sigB);
        _register(ch, s, locks);
        emit Challenged(s.channelId, msg.sender, s.nonce);
    }

    /// After the period, pays the registered state and stores its locks for `claimHtlc`.
    /// `locks` must be the registered state's list (its root is checked). Their total is not
    /// summed again: registration checked `payoutA + payoutB + locks == holdings` for this very
    /// list, and the holdings cannot change while the channel is closing.
    function settle(bytes32 channelId, Lock[] calldata locks) external nonReentrant {
        Channel storage ch = _channel(channelId);
        if (ch.status != Status.Closing) revert NotClosing();
        if (block.timestamp <= ch.deadline) revert ChallengePeriodRunning();
        if (_locksRoot(locks) != ch.locksRoot) revert LocksMismatch();

        uint256 payA = ch.payoutA;
        uint256 payB = ch.payoutB;
        StoredLock[] storage stored = settledLocks[channelId];
        for (uint256 i = 0; i < locks.length; ++i) {
            Lock calldata l = locks[i];
            // Registration bounded every amount by the channel's holdings (< 2^128).
            stored.push(StoredLock(l.paymentHash, uint128(l.amount), l.expiry, l.fromA, false));
            emit HtlcRegistered(channelId, i, l.paymentHash, l.amount, l.expiry, l.fromA);
        }

        ch.status = Status.Closed;
        emit Settled(channelId, ch.nonce, payA, payB, locks.length);
        _pay(ch.token, _payeeA(ch), payA);
        _pay(ch.token, ch.b, payB);
    }

    // --------------------------------------------------------------- HTLCs

    /// Records the first reveal of `preimage` under `sha256(preimage)`.
    function revealPreimage(bytes32 preimage) external {
        _reveal(preimage);
    }

    /// Pays lock `index` of a settled channel: to its receiver if the preimage was revealed by the
    /// lock's expiry, back to its sender once it expired unrevealed. A non-zero `preimage` is
    /// revealed first.
    function claimHtlc(bytes32 channelId, uint256 index, bytes32 preimage) external nonReentrant {
        Channel storage ch = _channel(channelId);
        if (ch.status != Status.Closed) revert NotClosed();
        StoredLock[] storage stored = settledLocks[channelId];
        if (index >= stored.length) revert BadLockIndex();
        StoredLock storage l = stored[index];
        if (l.claimed) revert AlreadyClaimed();
        if (preimage != bytes32(0)) _reveal(preimage);

        uint256 t = revealedAt[l.paymentHash];
        bool redeemed;
        if (t != 0 && t <= l.expiry) {
            redeemed = true;
        } else if (block.timestamp <= l.expiry) {
            revert Undetermined();
        }
        address to = (l.fromA == redeemed) ? ch.b : _payeeA(ch);
        uint256 amount = l.amount;
        l.claimed = true;
        emit HtlcClaimed(channelId, index, to, amount, redeemed);
        _pay(ch.token, to, amount);
    }

    /// Sends the caller's undelivered payouts in `token` (zero: native coin) to `to`, with the
    /// same bounded call as a payout; reverts (keeping them owed) if that fails.
    function claimOwed(address token, address to) external nonReentrant {
        uint256 amount = owed[token][msg.sender];
        if (amount == 0) revert NothingOwed();
        owed[token][msg.sender] = 0;
        emit OwedClaimed(token, msg.sender, to, amount);
        if (!_send(token, to, amount)) revert TransferFailed();
    }

    // ---------------------------------------------------------------- views

    function domainSeparator() public view returns (bytes32) {
        return block.chainid == cachedChainId ? cachedDomainSeparator : _buildDomainSeparator();
    }

    /// The EIP-712 digest both participants sign for `s`.
    function stateDigest(State calldata s) public view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), keccak256(abi.encode(STATE_TYPEHASH, s))));
    }

    function locksRootOf(Lock[] calldata locks) external pure returns (bytes32) {
        return _locksRoot(locks);
    }

    function getChannel(bytes32 channelId) external view returns (ChannelView memory v) {
        Channel storage ch = channels[channelId];
        v.a = ch.a;
        v.b = ch.b;
        v.token = ch.token;
        v.challengePeriod = ch.challengePeriod;
        v.status = ch.status;
        v.depositA = ch.depositA;
        v.depositB = ch.depositB;
        v.withdrawnA = ch.withdrawnA;
        v.withdrawnB = ch.withdrawnB;
        v.withdrawNonce = ch.withdrawNonce;
        v.registeredNonce = ch.nonce;
        v.deadline = ch.deadline;
        v.payoutA = ch.payoutA;
        v.payoutB = ch.payoutB;
        v.locksRoot = ch.locksRoot;
        v.lockCount = settledLocks[channelId].length;
        v.payeeA = _payeeA(ch);
    }

    function getLock(bytes32 channelId, uint256 index) external view returns (StoredLock memory) {
        return settledLocks[channelId][index];
    }

    // ------------------------------------------------------------- internals

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    function _open(address a, address b, address token, uint256 amount, uint64 challengePeriod, bytes32 salt)
        private
        returns (bytes32 channelId)
    {
        if (b == address(0)) revert ZeroCounterparty();
        if (a == b) revert SameParticipants();
        if (challengePeriod < MIN_CHALLENGE_PERIOD || challengePeriod > MAX_CHALLENGE_PERIOD) {
            revert ChallengePeriodOutOfRange(challengePeriod);
        }
        channelId = keccak256(abi.encode(block.chainid, address(this), a, b, token, uint256(challengePeriod), salt));
        Channel storage ch = channels[channelId];
        if (ch.status != Status.None) revert ChannelExists();
        if (token != address(0) && token.code.length == 0) revert NotToken();
        if (amount > type(uint128).max) revert AmountTooLarge();

        ch.a = a;
        ch.challengePeriod = challengePeriod;
        ch.status = Status.Open;
        if (msg.sender != a) {
            ch.hasPayeeA = true;
            ch.payeeA = msg.sender;
        }
        ch.b = b;
        if (token != address(0)) ch.token = token;
        if (amount != 0) ch.depositA = amount;

        emit Opened(channelId, a, b, token, amount, challengePeriod, salt);
        _pull(token, msg.sender, amount);
    }

    /// Credits `amount` to `participant`'s side and pulls it from the caller.
    function _deposit(bytes32 channelId, address participant, uint256 amount) private {
        Channel storage ch = _channel(channelId);
        if (ch.status != Status.Open) revert NotOpen();
        uint256 total;
        if (participant == ch.a) {
            total = ch.depositA + amount;
            ch.depositA = total;
        } else if (participant == ch.b) {
            total = ch.depositB + amount;
            ch.depositB = total;
        } else {
            revert NotParticipant();
        }
        if (ch.depositA + ch.depositB > type(uint128).max) revert AmountTooLarge();
        emit Deposited(channelId, participant, amount, total);
        _pull(ch.token, msg.sender, amount);
    }

    /// Where A's payouts go: the funder given at `openFor`, else A itself. Reads slot 9 only
    /// for such channels (the flag shares slot 0 with `status`, which every caller reads).
    function _payeeA(Channel storage ch) private view returns (address) {
        return ch.hasPayeeA ? ch.payeeA : ch.a;
    }

    function _channel(bytes32 channelId) private view returns (Channel storage ch) {
        ch = channels[channelId];
        if (ch.status == Status.None) revert UnknownChannel();
    }

    function _holdings(Channel storage ch) private view returns (uint256) {
        return ch.depositA + ch.depositB - ch.withdrawnA - ch.withdrawnB;
    }

    /// Checks `s` against the on-chain deposits and withdrawals and returns what each side gets
    /// if `s` is final: `balance + unrecognised deposits + authorised but unexecuted withdrawals`.
    /// The rest of the channel's holdings (the locked amount) must be covered by the locks.
    function _payouts(Channel storage ch, State calldata s) private view returns (uint256 payA, uint256 payB) {
        if (s.nonce > type(uint64).max) revert NonceTooLarge();
        if (s.depositA > ch.depositA || s.depositB > ch.depositB) revert DepositNotOnChain();
        if (s.withdrawnA < ch.withdrawnA || s.withdrawnB < ch.withdrawnB) revert WithdrawalUndone();
        if (s.nonce < ch.withdrawNonce) revert NonceTooLow();
        payA = s.balanceA + (ch.depositA - s.depositA) + (s.withdrawnA - ch.withdrawnA);
        payB = s.balanceB + (ch.depositB - s.depositB) + (s.withdrawnB - ch.withdrawnB);
        uint256 holdings = _holdings(ch);
        uint256 paid = payA + payB;
        if (paid > holdings || (s.locksRoot == bytes32(0) && paid != holdings)) revert Unbalanced();
    }

    /// `keccak256(abi.encode(locks))`, zero for none (what states commit to as `locksRoot`).
    function _locksRoot(Lock[] calldata locks) private pure returns (bytes32) {
        return locks.length == 0 ? bytes32(0) : keccak256(abi.encode(locks));
    }

    /// Records `s` as the state to settle. `locks` must be the list `s` commits to, and its
    /// payouts plus the locked amounts must equal the channel's holdings, so that `settle` can
    /// always pay it out.
    function _register(Channel storage ch, State calldata s, Lock[] calldata locks) private {
        (uint256 payA, uint256 payB) = _payouts(ch, s);
        if (_locksRoot(locks) != s.locksRoot) revert LocksMismatch();
        uint256 holdings = _holdings(ch);
        uint256 total = payA + payB;
        for (uint256 i = 0; i < locks.length; ++i) {
            uint256 amount = locks[i].amount;
            if (amount > holdings - total) revert LocksUnbalanced();
            total += amount;
        }
        if (total != holdings) revert LocksUnbalanced();
        // Holdings are capped at 2^128 - 1 on deposit, and payouts never exceed holdings.
        ch.payoutA = uint128(payA);
        ch.payoutB = uint128(payB);
        ch.locksRoot = s.locksRoot;
        ch.nonce = uint64(s.nonce);
    }

    function _verifyBoth(Channel storage ch, State calldata s, bytes calldata sigA, bytes calldata sigB)
        private
        view
    {
        bytes32 digest = stateDigest(s);
        _verify(digest, sigA, ch.a);
        _verify(digest, sigB, ch.b);
    }

    function _verify(bytes32 digest, bytes calldata sig, address expected) private pure {
        if (sig.length != 65) revert SignatureMalformed();
        bytes32 r;
        bytes32 sv;
        uint8 v;
        assembly ("memory-safe") {
            r := calldataload(sig.offset)
            sv := calldataload(add(sig.offset, 32))
            v := byte(0, calldataload(add(sig.offset, 64)))
        }
        if (v != 27 && v != 28) revert SignatureMalformed();
        if (uint256(sv) > HALF_N) revert SignatureHighS();
        address got = ecrecover(digest, v, r, sv);
        if (got == address(0)) revert SignatureMalformed();
        if (got != expected) revert WrongSigner(expected, got);
    }

    function _reveal(bytes32 preimage) private {
        bytes32 h = sha256(abi.encodePacked(preimage));
        if (revealedAt[h] == 0) {
            revealedAt[h] = block.timestamp;
            emit PreimageRevealed(h, preimage);
        }
    }

    /// Takes `amount` from `from`: the exact msg.value for the native coin, or an ERC-20
    /// `transferFrom` whose effect is checked on the balance (fee-on-transfer tokens are refused).
    function _pull(address token, address from, uint256 amount) private {
        if (token == address(0)) {
            if (msg.value != amount) revert WrongValue();
            return;
        }
        if (msg.value != 0) revert WrongValue();
        if (amount == 0) return;
        uint256 before = IERC20Like(token).balanceOf(address(this));
        _call(token, abi.encodeWithSelector(0x23b872dd, from, address(this), amount));
        if (IERC20Like(token).balanceOf(address(this)) - before != amount) revert TransferFailed();
    }

    /// Pays `amount` to `to`. A payout that fails (the payee refuses the native coin, the token
    /// refuses the transfer, or either exhausts its gas allowance) is kept in `owed` instead of
    /// blocking the other side's payout.
    function _pay(address token, address to, uint256 amount) private {
        if (amount == 0) return;
        if (_send(token, to, amount)) return;
        owed[token][to] += amount;
        emit PaymentDeferred(token, to, amount);
    }

    /// One delivery attempt with bounded gas that copies no return data: a plain call with
    /// value for the native coin; for an ERC-20, `transfer` whose return data is read up to 32
    /// bytes (none, as USDT, or `true` is success). Reverts `PayoutStarved` if the attempt failed
    /// because the caller left too little gas to forward the whole allowance (EIP-150 keeps
    /// 1/64 back), so that a relayer cannot make a payout fail on purpose.
    function _send(address token, address to, uint256 amount) private returns (bool ok) {
        uint256 allowance;
        if (token == address(0)) {
            allowance = PAYOUT_GAS;
            assembly ("memory-safe") {
                ok := call(PAYOUT_GAS, to, amount, 0, 0, 0, 0)
            }
        } else {
            allowance = TOKEN_PAYOUT_GAS;
            bytes memory data = abi.encodeWithSelector(0xa9059cbb, to, amount);
            assembly ("memory-safe") {
                ok := call(TOKEN_PAYOUT_GAS, token, 0, add(data, 32), mload(data), 0, 0)
                if and(ok, iszero(iszero(returndatasize()))) {
                    switch lt(returndatasize(), 32)
                    case 1 { ok := 0 }
                    default {
                        returndatacopy(0, 0, 32)
                        ok := eq(mload(0), 1)
                    }
                }
            }
        }
        if (!ok && gasleft() < allowance / 63) revert PayoutStarved();
    }

    /// ERC-20 `transferFrom` (deposits) that accepts tokens returning nothing (USDT-style) or
    /// `true`. A token's own revert reason is passed on.
    function _call(address token, bytes memory data) private {
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok && ret.length != 0) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        if (!ok || (ret.length != 0 && (ret.length != 32 || !abi.decode(ret, (bool))))) revert TransferFailed();
    }
}
