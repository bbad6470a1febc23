import pytest
from wallet.account import Wallet
from wallet.errors import InsufficientFunds


def test_top_up_and_pay():
    wallet = Wallet("ada")
    wallet.top_up(500)
    wallet.pay(200)
    assert wallet.balance == 300
    assert wallet.history == [("top-up", 500), ("payment", 200)]


def test_declined_payment_raises_insufficient_funds():
    wallet = Wallet("ada")
    wallet.top_up(100)
    with pytest.raises(InsufficientFunds):
        wallet.pay(250)
    assert wallet.balance == 100
