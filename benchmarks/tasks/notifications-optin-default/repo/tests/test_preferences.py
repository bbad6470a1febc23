import pytest
from alerts.mailing import User, recipients
from alerts.preferences import wants


def test_saved_preferences_are_followed():
    assert wants({"digest": False}, "digest") is False
    assert wants({"marketing": True}, "marketing") is True
    assert wants({"security": True}, "security") is True


def test_unknown_kind_is_an_error():
    with pytest.raises(KeyError):
        wants({}, "sms")


def test_recipients_skip_inactive_users_and_opt_outs():
    users = [
        User("b@x.org", preferences={"digest": True}),
        User("a@x.org", preferences={"digest": True}),
        User("c@x.org", active=False, preferences={"digest": True}),
        User("d@x.org", preferences={"digest": False}),
    ]
    assert recipients(users, "digest") == ["a@x.org", "b@x.org"]
