#!/usr/bin/env python3
"""Prints each platform group's members and project roles from the emulator's state dump
(GET /__emulator/state, JSON:API resources) read on stdin."""
import json
import sys

state = json.load(sys.stdin)
users = {u["id"]: u["attributes"].get("username", u["id"]) for u in state.get("users", [])}
projects = {p["id"]: p["attributes"].get("name", p["id"]) for p in state.get("projects", [])}


def linked(resource, name):
    data = (resource.get("relationships") or {}).get(name, {}).get("data") or []
    return [d["id"] for d in (data if isinstance(data, list) else [data])]


roles_by_group = {}
for role in state.get("project_authorization_roles", []):
    project = projects.get(next(iter(linked(role, "project")), ""), "?")
    for gid in linked(role, "principal_user_groups"):
        roles_by_group.setdefault(gid, []).append(f"{project}={role['attributes'].get('name')}")

groups = sorted(state.get("user_groups", []), key=lambda g: g["attributes"].get("name", ""))
print(f"{'GROUP':<22} {'GID':>6}  {'MEMBERS':<24} PROJECT ROLES")
for group in groups:
    attrs = group["attributes"]
    if attrs.get("name") == "all_users":
        continue
    members = ",".join(sorted(users.get(u, u) for u in linked(group, "users"))) or "-"
    roles = ",".join(sorted(roles_by_group.get(group["id"], []))) or "-"
    print(f"{attrs.get('name', ''):<22} {attrs.get('gid', ''):>6}  {members:<24} {roles}")
