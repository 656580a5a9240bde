// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// The hook a `HookToken` recipient with code implements.
interface ITokenRecipient {
    function onTokenTransfer(address from, uint256 amount) external returns (bool);
}

/// An ERC-20 for tests with a transfer hook (as ERC-777 / ERC-1363 tokens have): a `transfer`
/// to an account with code calls its `onTokenTransfer` and fails if the hook does, so the
/// recipient decides whether a payout to it succeeds. Anyone may mint.
contract HookToken {
    string public constant name = "Hook";
    string public constant symbol = "HOOK";
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        if (to.code.length != 0) {
            require(ITokenRecipient(to).onTokenTransfer(msg.sender, amount), "hook");
        }
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= amount, "allowance");
        allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
