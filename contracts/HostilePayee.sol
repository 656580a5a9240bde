// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// The adjudicator calls a hostile payee makes.
interface IAdjudicatorCalls {
    function openFor(address a, address b, address token, uint256 amount, uint64 challengePeriod, bytes32 salt)
        external
        payable
        returns (bytes32);
    function claimOwed(address token, address to) external;
}

/// A hostile payee for tests: while not `tame`, receiving the native coin or a token's transfer
/// hook (`HookToken`) reverts with as much return data as its gas can pay for, a "return bomb"
/// that makes a caller copying it run out of gas. It can fund a channel (`openFor`, becoming
/// A's payee) and pull what it is owed. As the code of an EIP-7702 delegated EOA it does the same
/// for that account (its `tame` flag then lives in the EOA's storage).
contract HostilePayee {
    bool public tame;

    receive() external payable {
        if (!tame) _bomb();
    }

    /// Called by `HookToken` on every transfer to this account.
    function onTokenTransfer(address, uint256) external view returns (bool) {
        if (!tame) _bomb();
        return true;
    }

    function setTame(bool tame_) external {
        tame = tame_;
    }

    function approve(address token, address spender, uint256 amount) external {
        (bool ok,) = token.call(abi.encodeWithSelector(0x095ea7b3, spender, amount));
        require(ok, "approve");
    }

    function openFor(
        IAdjudicatorCalls adjudicator,
        address a,
        address b,
        address token,
        uint256 amount,
        uint64 challengePeriod,
        bytes32 salt
    ) external payable {
        adjudicator.openFor{value: msg.value}(a, b, token, amount, challengePeriod, salt);
    }

    function claimOwed(IAdjudicatorCalls adjudicator, address token, address to) external {
        adjudicator.claimOwed(token, to);
    }

    /// Reverts with about as many bytes as its remaining gas can pay the memory for (3 gas a
    /// word + words^2 / 512), keeping 5,000 gas: a caller that copies them needs as much again.
    function _bomb() private view {
        assembly ("memory-safe") {
            function affordable(bytes_) -> ok {
                let words := div(bytes_, 32)
                ok := lt(add(add(mul(words, 3), div(mul(words, words), 512)), 5000), gas())
            }
            let size := 32
            for {} affordable(mul(size, 2)) {} { size := mul(size, 2) }
            for { let step := div(size, 2) } gt(step, 31) { step := div(step, 2) } {
                if affordable(add(size, step)) { size := add(size, step) }
            }
            revert(0, size)
        }
    }
}
