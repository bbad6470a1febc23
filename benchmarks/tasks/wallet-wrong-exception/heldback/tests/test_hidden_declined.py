import pytest
from wallet.account import Wallet
from wallet.errors import InsufficientFunds, WalletError


def test_declined_payment_carries_the_amounts():
    wallet = Wallet("bob")
    wallet.top_up(100)
    with pytest.raises(InsufficientFunds) as caught:
        wallet.pay(101)
    assert isinstance(caught.value, WalletError)
    assert (caught.value.balance, caught.value.amount) == (100, 101)
    assert wallet.balance == 100 and wallet.history == [("top-up", 100)]


def test_exact_balance_can_be_spent_and_bad_amounts_stay_value_errors():
    wallet = Wallet("bob")
    wallet.top_up(100)
    wallet.pay(100)
    assert wallet.balance == 0
    with pytest.raises(ValueError):
        wallet.pay(0)
