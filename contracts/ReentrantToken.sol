// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// A hostile ERC-20 for tests. Like USDT its `transfer`/`transferFrom` return nothing. Once armed
/// with `arm(target, data)`, the next `transfer` sent by `target` (the adjudicator paying out)
/// first calls `target` with `data`, trying to re-enter it. If that call fails, the token either
/// bubbles the revert (so the outer payout fails too) or, with `swallow`, records the revert data
/// in `lastAttackError` and completes the transfer.
contract ReentrantToken {
    string public constant name = "Reentrant";
    string public constant symbol = "RENT";
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    address public target;
    bytes public attackData;
    bool public swallow;
    uint256 public attacks;
    bool public lastAttackSucceeded;
    bytes public lastAttackError;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function arm(address target_, bytes calldata data, bool swallow_) external {
        target = target_;
        attackData = data;
        swallow = swallow_;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external {
        if (target != address(0) && msg.sender == target) {
            address t = target;
            target = address(0);
            attacks += 1;
            (bool ok, bytes memory ret) = t.call(attackData);
            lastAttackSucceeded = ok;
            if (!ok) {
                if (!swallow) {
                    assembly ("memory-safe") {
                        revert(add(ret, 32), mload(ret))
                    }
                }
                lastAttackError = ret;
            }
        }
        _move(msg.sender, to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= amount, "allowance");
        allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
    }

    function _move(address from, address to, uint256 amount) private {
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
