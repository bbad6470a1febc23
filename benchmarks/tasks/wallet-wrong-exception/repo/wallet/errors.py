"""The wallet's own errors, so callers can tell a declined payment from a programming error."""


class WalletError(Exception):
    """Base class of every error the wallet raises on purpose."""


class InsufficientFunds(WalletError):
    """A payment larger than the balance."""

    def __init__(self, balance: int, amount: int) -> None:
        super().__init__(f"cannot pay {amount} cents with a balance of {balance} cents")
        self.balance = balance
        self.amount = amount
