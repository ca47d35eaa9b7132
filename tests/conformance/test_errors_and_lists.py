"""Error answers, paging, sorting, and the no-null attribute rule."""
import uuid

import httpx
import igz_mgmt
import pytest

from conftest import unique


def test_missing_id_raises_not_found(client):
    with pytest.raises(igz_mgmt.exceptions.ResourceNotFoundException):
        igz_mgmt.Group.get(client, str(uuid.uuid4()))
    with pytest.raises(igz_mgmt.exceptions.ResourceNotFoundException):
        igz_mgmt.User.get(client, str(uuid.uuid4()))
    with pytest.raises(igz_mgmt.exceptions.ResourceNotFoundException):
        igz_mgmt.Group.get_by_name(client, "no-such-group")


def test_duplicate_group_name_conflicts(client):
    name = unique("dup")
    igz_mgmt.Group.create(client, name=name)
    with pytest.raises(httpx.HTTPStatusError) as failure:
        igz_mgmt.Group.create(client, name=name)
    response = failure.value.response
    assert response.status_code == 409
    assert response.json()["errors"][0]["status"] == 409
    assert len(igz_mgmt.Group.list(client, filter_by={"name": name})) == 1


def test_duplicate_gid_conflicts(client):
    igz_mgmt.Group.create(client, name=unique("a"), gid=7001)
    with pytest.raises(httpx.HTTPStatusError) as failure:
        igz_mgmt.Group.create(client, name=unique("b"), gid=7001)
    assert failure.value.response.status_code == 409


def test_duplicate_username_conflicts(make_user):
    name = unique("dupuser")
    make_user(name)
    with pytest.raises(httpx.HTTPStatusError) as failure:
        make_user(name)
    assert failure.value.response.status_code == 409


def test_bad_enum_is_a_bad_request(client):
    with pytest.raises(httpx.HTTPStatusError) as failure:
        igz_mgmt.Group.create(client, name=unique("g"), assigned_policies=["Root"])
    assert failure.value.response.status_code == 400


def test_unknown_member_is_not_found(client):
    name = unique("g")
    with pytest.raises(httpx.HTTPStatusError) as failure:
        igz_mgmt.Group.create(client, name=name, users=[str(uuid.uuid4())])
    assert failure.value.response.status_code == 404
    assert igz_mgmt.Group.list(client, filter_by={"name": name}) == []


def test_paging_is_zero_based_and_sort_works(client):
    names = [f"page-{i:02d}" for i in range(7)]
    for name in reversed(names):
        igz_mgmt.Group.create(client, name=name)
    ascending = igz_mgmt.Group.list(client, sort_by=["name"])
    assert [g.name for g in ascending if g.name.startswith("page-")] == names
    descending = igz_mgmt.Group.list(client, sort_by=["-name"])
    assert [g.name for g in descending if g.name.startswith("page-")] == list(reversed(names))

    def page(number, size):
        paging = igz_mgmt.ResourceListPagingQueryParams(number=number, size=size)
        return [g.name for g in igz_mgmt.Group.list(client, sort_by=["name"], paging=paging)]

    everything = [g.name for g in ascending]
    assert page(0, 3) == everything[0:3]
    assert page(1, 3) == everything[3:6]
    assert page(2, 3) == everything[6:9]
    assert page(10, 3) == []


def test_sort_by_number_and_multiple_keys(client):
    for gid, name in [(9003, "s-a"), (9001, "s-b"), (9002, "s-c")]:
        igz_mgmt.Group.create(client, name=name, gid=gid)
    by_gid = [g.name for g in igz_mgmt.Group.list(client, sort_by=["-gid"]) if g.name.startswith("s-")]
    assert by_gid == ["s-a", "s-c", "s-b"]


def test_list_include_users_carries_members(client, make_user):
    user = make_user()
    name = unique("g")
    igz_mgmt.Group.create(client, name=name, users=[user])
    [group] = igz_mgmt.Group.list(client, filter_by={"name": name}, include=["users"])
    assert [u["id"] for u in group.relationships["users"]["data"]] == [user.id]
    assert [inc.id for inc in group.included] == [user.id]


def test_no_null_in_typed_attributes(client, make_user):
    make_user()
    igz_mgmt.Group.create(client, name=unique("g"))
    igz_mgmt.Project.create(client, name=unique("p"))
    for kind in ["user", "user_group", "project", "job"]:
        for item in client.list(kind)["data"]:
            nulls = [k for k, v in item["attributes"].items() if v is None]
            assert nulls == [], f"{kind} {item['id']} has null attributes {nulls}"
            assert uuid.UUID(item["id"]).version == 4


def test_unknown_filter_field_is_a_bad_request(client):
    with pytest.raises(httpx.HTTPStatusError) as failure:
        igz_mgmt.Group.list(client, filter_by={"colour": "blue"})
    assert failure.value.response.status_code == 400
