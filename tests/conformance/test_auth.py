"""Client construction, version probe, session verification, login, bad credentials."""
import httpx
import igz_mgmt
import pytest
import semver

from conftest import ACCESS_KEY, URL, unique


def test_access_key_client_probes_version_and_verifies_session(client):
    assert client.version == semver.VersionInfo.parse("3.6.0")
    assert client.tenant_id
    assert client.username == "admin"


def test_basic_auth_username_is_reported(client):
    named = igz_mgmt.Client(endpoint=URL, username="operator", access_key=ACCESS_KEY)
    try:
        assert named.username == "operator"
        assert igz_mgmt.Group.get_by_name(named, "all_users").system_provided
    finally:
        named.close()


def test_bad_access_key_is_refused():
    with pytest.raises(httpx.HTTPStatusError) as failure:
        igz_mgmt.Client(endpoint=URL, access_key="not-a-key")
    assert failure.value.response.status_code == 401
    assert failure.value.response.json()["errors"][0]["status"] == 401


def test_every_route_needs_credentials():
    for path in ["user_groups", "users", "projects", "jobs"]:
        response = httpx.get(f"{URL}/api/{path}")
        assert response.status_code == 401, path


def test_password_login_sets_a_working_session(client, make_user):
    username = unique("login")
    make_user(username, password="s3cret-Pass")
    session_client = igz_mgmt.Client(endpoint=URL, username=username, password="s3cret-Pass")
    try:
        session_client.login()
        assert session_client.username == username
        assert session_client.tenant_id == client.tenant_id
        groups = igz_mgmt.Group.list(session_client, filter_by={"name": "all_users"})
        assert [g.name for g in groups] == ["all_users"]
    finally:
        session_client.close()


def test_wrong_password_is_refused(make_user):
    username = unique("login")
    make_user(username, password="right")
    session_client = igz_mgmt.Client(endpoint=URL, username=username, password="wrong")
    with pytest.raises(httpx.HTTPStatusError) as failure:
        session_client.login()
    assert failure.value.response.status_code == 401


def test_user_self_is_the_logged_in_user(make_user):
    user = make_user(password="Pa55word!")
    logged_in = igz_mgmt.Client(endpoint=URL, username=user.username, password="Pa55word!")
    try:
        logged_in.login()
        me = igz_mgmt.User.self(logged_in)
        assert me.id == user.id
        assert me.username == user.username
    finally:
        logged_in.close()


def test_user_self_without_a_user_resource_is_not_found(client):
    with pytest.raises(Exception) as raised:
        igz_mgmt.User.self(client)
    assert "404" in str(raised.value) and "has no user resource" in str(raised.value)
