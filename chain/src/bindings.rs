//! Contract bindings generated from the solc-js artifacts in `contracts/out/` (regenerate them
//! with `node contracts/compile.mjs`).

#![allow(missing_docs, clippy::too_many_arguments)]

use alloy::sol;

sol!(
    #[sol(rpc, all_derives)]
    Adjudicator,
    "../contracts/out/Adjudicator.json"
);

sol!(
    #[sol(rpc, all_derives)]
    TestToken,
    "../contracts/out/TestToken.json"
);

sol!(
    #[sol(rpc, all_derives)]
    ReentrantToken,
    "../contracts/out/ReentrantToken.json"
);

sol!(
    #[sol(rpc, all_derives)]
    HostilePayee,
    "../contracts/out/HostilePayee.json"
);

sol!(
    #[sol(rpc, all_derives)]
    HookToken,
    "../contracts/out/HookToken.json"
);

sol! {
    /// The ERC-20 calls the client needs for any token.
    #[sol(rpc)]
    interface IERC20 {
        function approve(address spender, uint256 amount) external returns (bool);
        function allowance(address owner, address spender) external view returns (uint256);
        function balanceOf(address who) external view returns (uint256);
    }
}
