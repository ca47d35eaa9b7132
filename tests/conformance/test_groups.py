"""The group flows of the seed document, as the vendor SDK runs them."""
import uuid

import httpx
import igz_mgmt
import pytest

from conftest import unique


def member_ids(group):
    return {u["id"] for u in group.relationships["users"]["data"]}


def test_create_group_gets_uuid_and_auto_gid(client):
    group = igz_mgmt.Group.create(client, name=unique("group"))
    assert uuid.UUID(group.id).version == 4
    assert isinstance(group.gid, int) and group.gid > 0
    assert group.assigned_policies == ["Data", "Application Admin"]
    assert group.kind == "local" and group.system_provided is False
    other = igz_mgmt.Group.create(client, name=unique("group"))
    assert other.gid != group.gid


def test_list_with_filter_by_name(client):
    name = unique("random-people")
    created = igz_mgmt.Group.create(client, name=name)
    igz_mgmt.Group.create(client, name=unique("others"))
    groups = igz_mgmt.Group.list(client, filter_by={"name": name})
    assert [g.id for g in groups] == [created.id]
    assert igz_mgmt.Group.list(client, filter_by={"name": "no-such-group"}) == []


def test_get_with_include_users_and_get_by_name(client, make_user):
    alice, bob = make_user(), make_user()
    name = unique("team")
    created = igz_mgmt.Group.create(client, name=name, users=[alice, bob.id])
    group = igz_mgmt.Group.get(client, created.id, include=["users"])
    assert member_ids(group) == {alice.id, bob.id}
    assert {inc.id for inc in group.included} == {alice.id, bob.id}
    by_name = igz_mgmt.Group.get_by_name(client, name, include=["users"])
    assert by_name.id == created.id and member_ids(by_name) == {alice.id, bob.id}
    empty = igz_mgmt.Group.create(client, name=unique("empty"))
    assert igz_mgmt.Group.get(client, empty.id, include=["users"]).relationships["users"]["data"] == []


def test_create_user_then_add_and_remove_it(client, make_user):
    group = igz_mgmt.Group.create(client, name=unique("group"))
    new_user = make_user()
    assert new_user.operational_status == "up"
    assert new_user.in_group(client, igz_mgmt.Group.get_by_name(client, "all_users"))

    group.add_user(client, new_user.id)
    group = igz_mgmt.Group.get(client, group.id, include=["users"])
    found = list(filter(lambda user: user["id"] == new_user.id, group.relationships["users"]["data"]))
    assert len(found) > 0
    assert new_user.in_group(client, group)

    group.remove_user(client, new_user.id)
    group = igz_mgmt.Group.get(client, group.id, include=["users"])
    assert new_user.id not in member_ids(group)
    assert not new_user.in_group(client, group)
    # all_users membership survives the user's group list being replaced
    assert new_user.in_group(client, igz_mgmt.Group.get_by_name(client, "all_users"))


def test_add_user_by_username(client, make_user):
    group = igz_mgmt.Group.create(client, name=unique("group"))
    user = make_user()
    group.add_user(client, user.username)
    assert member_ids(igz_mgmt.Group.get(client, group.id, include=["users"])) == {user.id}


def test_user_get_include_user_groups(client, make_user):
    user = make_user()
    group = igz_mgmt.Group.create(client, name=unique("group"), users=[user])
    fetched = igz_mgmt.User.get(client, user.id, include=["user_groups"])
    linked = {g["id"] for g in fetched.relationships["user_groups"]["data"]}
    assert group.id in linked
    assert {inc.id for inc in fetched.included} == linked
    assert "primary_group" not in fetched.relationships
    assert igz_mgmt.User.get_by_username(client, user.username).id == user.id


def test_primary_group_round_trip(client, make_user):
    group = igz_mgmt.Group.create(client, name=unique("group"))
    user = make_user(primary_group=group.id)
    assert user.get_primary_group(client).id == group.id
    with pytest.raises(igz_mgmt.exceptions.UserIsInPrimaryGroupError):
        user.remove_from_group(client, group)
    user.remove_from_group(client, group, force=True)
    assert user.get_primary_group(client) is None
    assert not user.in_group(client, group)


def test_delete_with_and_without_ignore_missing(client):
    group = igz_mgmt.Group.create(client, name=unique("doomed"))
    assert group.delete(client, ignore_missing=False) is None
    with pytest.raises(igz_mgmt.exceptions.ResourceNotFoundException):
        igz_mgmt.Group.get(client, group.id)
    with pytest.raises(httpx.HTTPStatusError) as failure:
        group.delete(client, ignore_missing=False)
    assert failure.value.response.status_code == 404
    group.delete(client, ignore_missing=True)
    group.delete(client, ignore_missing=True, wait_for_job_deletion=False)


def test_delete_removes_group_from_its_users(client, make_user):
    user = make_user()
    group = igz_mgmt.Group.create(client, name=unique("doomed"), users=[user])
    group.delete(client)
    fetched = igz_mgmt.User.get(client, user.id, include=["user_groups"])
    assert group.id not in {g["id"] for g in fetched.relationships["user_groups"]["data"]}


def test_group_update_merges_attributes_and_keeps_members(client, make_user):
    user = make_user()
    group = igz_mgmt.Group.create(client, name=unique("group"), users=[user])
    group.description = "now described"
    group.update(client)
    fetched = igz_mgmt.Group.get(client, group.id, include=["users"])
    assert fetched.description == "now described"
    assert member_ids(fetched) == {user.id}


def test_user_delete_waits_for_its_job(client, make_user):
    user = make_user()
    group = igz_mgmt.Group.create(client, name=unique("group"), users=[user])
    job = user.delete(client)
    assert job.state == "completed"
    with pytest.raises(igz_mgmt.exceptions.ResourceNotFoundException):
        igz_mgmt.User.get(client, user.id)
    assert member_ids(igz_mgmt.Group.get(client, group.id, include=["users"])) == set()
