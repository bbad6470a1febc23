"""A wallet account. Amounts are integer cents."""

from wallet.errors import InsufficientFunds


class Wallet:
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.balance = 0
        self.history: list[tuple[str, int]] = []

    def top_up(self, amount: int) -> None:
        if amount <= 0:
            raise ValueError("a top-up must be positive")
        self.balance += amount
        self.history.append(("top-up", amount))

    def pay(self, amount: int) -> None:
        """Pay `amount` cents. Raises InsufficientFunds when the balance is too low; nothing changes then."""
        if amount <= 0:
            raise ValueError("a payment must be positive")
        if amount > self.balance:
            raise InsufficientFunds(self.balance, amount)
        self.balance -= amount
        self.history.append(("payment", amount))
