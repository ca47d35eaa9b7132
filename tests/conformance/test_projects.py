"""Project membership of groups and users through the SDK's transaction flow."""
import httpx
import igz_mgmt
import pytest
from igz_mgmt.constants import ProjectAuthorizationRoles as Roles

from conftest import ACCESS_KEY, URL, admin, unique

ROLE_GROUP_GETTERS = {
    Roles.admin: "get_admin_groups",
    Roles.editor: "get_editor_groups",
    Roles.viewer: "get_viewer_groups",
}


def group_roles(client, project_name, group_id):
    """The roles of `project_name` that list the group, read fresh from the emulator."""
    project = igz_mgmt.Project.get_by_name(client, project_name)
    return [
        role
        for role, getter in ROLE_GROUP_GETTERS.items()
        if group_id in {g.id for g in getattr(project, getter)()}
    ]


def test_project_create_has_three_roles_and_completes(client):
    project = igz_mgmt.Project.create(client, name=unique("proj"), description="demo")
    fetched = igz_mgmt.Project.get_by_name(client, project.name)
    assert fetched.id == project.id
    assert fetched.description == "demo"
    assert fetched.operational_status == "online"
    roles = fetched._authorization_roles.roles
    assert set(roles) == {"Admin", "Editor", "Viewer"}
    assert all(r.users == [] and r.groups == [] for r in roles.values())


def test_duplicate_project_name_conflicts(client, project):
    with pytest.raises(httpx.HTTPStatusError) as failure:
        igz_mgmt.Project.create(client, name=project.name)
    assert failure.value.response.status_code == 409


@pytest.mark.parametrize("role", [Roles.admin, Roles.editor, Roles.viewer])
def test_ensure_project_membership_with_each_role(client, project, role):
    group = igz_mgmt.Group.create(client, name=unique("group"))
    group.ensure_project_membership(client, project_name=project.name, role=role)
    assert group_roles(client, project.name, group.id) == [role]


def test_role_change_moves_the_group_and_keeps_others(client, project, make_user):
    group = igz_mgmt.Group.create(client, name=unique("group"))
    bystander = igz_mgmt.Group.create(client, name=unique("bystander"))
    user = make_user()
    bystander.ensure_project_membership(client, project_name=project.name, role=Roles.viewer)
    user.ensure_project_membership(client, project_name=project.name, role=Roles.editor)

    group.ensure_project_membership(client, project_name=project.name, role=Roles.admin)
    group.ensure_project_membership(client, project_name=project.name, role=Roles.editor)
    assert group_roles(client, project.name, group.id) == [Roles.editor]
    assert group_roles(client, project.name, bystander.id) == [Roles.viewer]
    fetched = igz_mgmt.Project.get_by_name(client, project.name)
    assert [u.id for u in fetched.get_editor_users()] == [user.id]


def test_remove_from_project(client, project):
    group = igz_mgmt.Group.create(client, name=unique("group"))
    group.ensure_project_membership(client, project_name=project.name, role=Roles.admin)
    group.remove_from_project(client, project_name=project.name)
    assert group_roles(client, project.name, group.id) == []
    # removing again is a no-op, not an error
    group.remove_from_project(client, project_name=project.name)


def test_user_membership_next_to_group_membership(client, project, make_user):
    user = make_user()
    group = igz_mgmt.Group.create(client, name=unique("group"), users=[user])
    group.ensure_project_membership(client, project_name=project.name, role=Roles.admin)
    user.ensure_project_membership(client, project_name=project.name, role=Roles.viewer)

    fetched = igz_mgmt.Project.get_by_name(client, project.name)
    assert [u.id for u in fetched.get_viewer_users()] == [user.id]
    assert [g.id for g in fetched.get_admin_groups()] == [group.id]
    assert fetched.resolve_member_role(user).name == Roles.viewer
    assert user.get_project_effective_role(client, project.name) == Roles.admin

    user.remove_from_project(client, project_name=project.name)
    fetched = igz_mgmt.Project.get_by_name(client, project.name)
    assert fetched.get_viewer_users() == []
    assert [g.id for g in fetched.get_admin_groups()] == [group.id]


def test_deleting_a_group_removes_it_from_project_roles(client, project):
    group = igz_mgmt.Group.create(client, name=unique("group"))
    group.ensure_project_membership(client, project_name=project.name, role=Roles.editor)
    group.delete(client)
    fetched = igz_mgmt.Project.get_by_name(client, project.name)
    assert fetched.get_editor_groups() == []


def test_project_include_lists_roles_and_principals(client, project, make_user):
    user = make_user()
    group = igz_mgmt.Group.create(client, name=unique("group"))
    user.ensure_project_membership(client, project_name=project.name, role=Roles.admin)
    group.ensure_project_membership(client, project_name=project.name, role=Roles.viewer)
    raw = client.detail(
        "project",
        project.id,
        params={
            "include": "project_authorization_roles.principal_users,"
            "project_authorization_roles.principal_user_groups"
        },
    )
    by_type = {}
    for item in raw["included"]:
        by_type.setdefault(item["type"], set()).add(item["id"])
    assert len(by_type["project_authorization_role"]) == 3
    assert by_type["user"] == {user.id}
    assert by_type["user_group"] == {group.id}


def test_jobs_are_polled_until_completed(client, start_emulator):
    url = start_emulator("--job-delay", "1500")
    slow = igz_mgmt.Client(endpoint=url, access_key=ACCESS_KEY)
    try:
        project_id = slow.create(
            "project", {"name": "slow", "description": ""}, headers={"x-projects-role": "igz-mgmt-sdk"}
        )["data"]["id"]
        group = igz_mgmt.Group.create(slow, name="slow-group")
        project = igz_mgmt.Project.get(slow, project_id)
        assert project.operational_status == "creating"
        project.set_membership(slow, group, Roles.editor)
        stats = admin("GET", "stats", url=url)
        assert stats["routes"]["GET /api/jobs/{id}"] >= 2
        jobs = slow.list("job")["data"]
        assert {j["attributes"]["state"] for j in jobs} == {"completed"}
        assert group_roles(slow, "slow", group.id) == [Roles.editor]
    finally:
        slow.close()


def test_project_delete_by_name(client):
    project = igz_mgmt.Project.create(client, name=unique("proj"))
    job = project.delete(client)
    assert job.state == "completed"
    with pytest.raises(igz_mgmt.exceptions.ResourceNotFoundException):
        igz_mgmt.Project.get_by_name(client, project.name)
    project.delete(client, ignore_missing=True)
