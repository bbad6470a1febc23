from alerts.mailing import User, recipients
from alerts.preferences import wants


def test_a_new_user_gets_each_kinds_default():
    assert wants({}, "marketing") is False
    assert wants({}, "digest") is True
    assert wants({}, "security") is True
    assert wants({"digest": False}, "marketing") is False


def test_marketing_goes_only_to_those_who_opted_in():
    users = [User("new@x.org"), User("fan@x.org", preferences={"marketing": True}),
             User("quiet@x.org", preferences={"marketing": False})]
    assert recipients(users, "marketing") == ["fan@x.org"]
    assert recipients(users, "security") == ["fan@x.org", "new@x.org", "quiet@x.org"]
