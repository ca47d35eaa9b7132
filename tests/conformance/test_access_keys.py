"""Access keys (the SDK's AccessKey), credentials that stop working, and what the platform tells
about itself: the emulator's run-time knobs as the vendor SDK sees them."""
import time

import httpx
import igz_mgmt
import pytest
import semver

from conftest import URL, admin, unique


def new_client(access_key):
    return igz_mgmt.Client(endpoint=URL, access_key=access_key)


def refused(access_key):
    """The SDK's client construction (version probe, then session check) is refused with 401."""
    with pytest.raises(httpx.HTTPStatusError) as failure:
        new_client(access_key)
    assert failure.value.response.status_code == 401
    assert failure.value.response.json()["errors"][0]["status"] == 401


def test_created_key_has_the_sdk_lifetime_and_works(client):
    before = int(time.time())
    key = igz_mgmt.AccessKey.create(
        client,
        planes=[igz_mgmt.constants.SessionPlanes.control],
        label=unique("ci"),
    )
    assert key.id and key.kind == "accessKey"
    assert key.ttl == igz_mgmt.AccessKey.__fields__["ttl"].default
    assert before + key.ttl - 5 <= key.expires_at <= int(time.time()) + key.ttl + 5
    assert key.planes == ["control"]
    assert key.tenant_id == client.tenant_id

    keyed = new_client(key.id)
    try:
        assert keyed.username == client.username
        listed = [k.id for k in igz_mgmt.AccessKey.list(keyed)]
        assert key.id in listed
        fetched = igz_mgmt.AccessKey.get(keyed, key.id)
        assert (fetched.label, fetched.expires_at) == (key.label, key.expires_at)
    finally:
        keyed.close()


def test_get_or_create_reuses_a_key_with_the_same_label(client):
    label = unique("sdk")
    first = igz_mgmt.AccessKey.get_or_create(client, label=label)
    again = igz_mgmt.AccessKey.get_or_create(client, label=label)
    assert first.id == again.id
    default = igz_mgmt.AccessKey.get_or_create(client)
    assert default.label == "for-sdk-mgmt"
    assert default.id != first.id


def test_a_deleted_key_is_refused_everywhere(client):
    key = igz_mgmt.AccessKey.create(client, label=unique("gone"))
    new_client(key.id).close()
    key.delete(client)
    refused(key.id)
    with pytest.raises(igz_mgmt.exceptions.ResourceNotFoundException):
        igz_mgmt.AccessKey.get(client, key.id)
    for path in ["user_groups", "users", "projects", "access_keys"]:
        response = httpx.get(f"{URL}/api/{path}", cookies={"session": f'j:{{"sid": "{key.id}"}}'})
        assert response.status_code == 401, path


def test_keys_issued_revoked_and_expired_by_the_admin_routes():
    issued = admin("POST", "access_keys", json={"ttl": 3600, "label": "rotation"})
    assert issued["expires_at"] - int(time.time()) in range(3590, 3610)
    keyed = new_client(issued["key"])
    try:
        mine = {k.id: k for k in igz_mgmt.AccessKey.list(keyed)}
        assert mine[issued["key"]].expires_at == issued["expires_at"]
        assert mine[issued["key"]].ttl == 3600
        # Revoked while a client holds it: its next request is refused.
        admin("POST", "access_keys/revoke", json={"key": issued["key"]})
        with pytest.raises(httpx.HTTPStatusError) as failure:
            igz_mgmt.Group.list(keyed)
        assert failure.value.response.status_code == 401
    finally:
        keyed.close()

    expired = admin("POST", "access_keys", json={"expires_at": int(time.time()) - 1})
    assert expired["expired"]
    refused(expired["key"])
    stats = admin("GET", "stats")
    assert stats["unauthorized"] >= 3


def test_refused_writes_are_counted_apart_and_change_nothing(client):
    expired = admin("POST", "access_keys", json={"expires_at": int(time.time()) - 1})
    before = admin("GET", "stats")
    # The body the SDK's Group.create sends, with the expired key in its cookie.
    body = {"data": {"type": "user_group", "attributes": {
        "name": unique("never"), "description": None, "gid": None,
        "assigned_policies": ["Data", "Application Admin"]}, "relationships": {}}}
    response = httpx.post(f"{URL}/api/user_groups", json=body,
                          cookies={"session": f'j:{{"sid": "{expired["key"]}"}}'})
    assert response.status_code == 401
    after = admin("GET", "stats")
    assert after["unauthorized_writes"] == before["unauthorized_writes"] + 1
    assert after["writes_total"] == before["writes_total"]
    assert [g.name for g in igz_mgmt.Group.list(client)] == ["all_users"]


def test_the_version_the_platform_tells_or_the_sdk_default_when_it_does_not():
    admin("PUT", "version", json={"version": "3.7.1"})
    told = new_client(admin("GET", "access_keys")[0]["key"])
    assert told.version == semver.VersionInfo.parse("3.7.1")
    admin("PUT", "version", json={"version": None})
    silent = new_client(admin("GET", "access_keys")[0]["key"])
    # Every node's version route answers 404: the SDK falls back to its oldest supported version.
    assert silent.version == semver.VersionInfo.parse("3.4.2")
    assert admin("GET", "stats")["GET /api/tunnel/{tunnel}/external_versions/{node}"] == 1 + 3


def test_an_ended_login_session_is_refused(make_user):
    user = make_user(password="Pa55word!")
    session_client = igz_mgmt.Client(endpoint=URL, username=user.username, password="Pa55word!")
    try:
        session_client.login()
        igz_mgmt.Group.list(session_client)
        assert admin("POST", "sessions/expire")["expired"] == 1
        with pytest.raises(httpx.HTTPStatusError) as failure:
            igz_mgmt.Group.list(session_client)
        assert failure.value.response.status_code == 401
        # A new login works again.
        session_client.login()
        assert igz_mgmt.Group.list(session_client)
    finally:
        session_client.close()
