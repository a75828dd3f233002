"""Every endpoint checks the role: each role is refused what is not its own, keys are hashed and revocable."""

from __future__ import annotations

import re
import time

import pytest

from tests.api.conftest import ROLES, qingyun

# The issue's access table, written out independently of the code: path prefix -> the role that owns it.
OWNER = [
    (r"^/vehicles/\{vehicle_id\}/track$", "supervisor"),
    (r"^/sweeping/plans(/|$)", "dispatcher"),
    (r"^/sweeping/audits(/|$)", "supervisor"),
    (r"^/(alarms/stream|live|live/stream)$", "supervisor dispatcher"),  # dispatchers: their own fleet
    (r"^/(sites|vehicles|vehicle-types|depots|facilities|plans)(/|$)", "dispatcher"),
    (r"^/positions$", "device"),
    (r"^/(permits|zones|audits|violations|companies)(/|$)", "supervisor"),
    (r"^/stations/", "planner"),
    (r"^/keys(/|$)", "admin"),
    (r"^/terminals/\{phone\}/unbind$", "admin"),
    (r"^/(terminals/\{phone\}/)?commands(/|$)", "supervisor"),
    (r"^/alarms(/|$)", "supervisor"),
    (r"^/(network/roads|map/config)$", "any"),
    (r"^/health$", "public"),
]


def owner_of(path: str) -> str:
    for pattern, role in OWNER:
        if re.search(pattern, path):
            return role
    raise AssertionError(f"endpoint {path} is not in the access table of this test")


def operations(service) -> list[tuple[str, str]]:
    with service.client() as client:
        schema = client.get("/openapi.json").json()
    return [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


STREAMS = ("/alarms/stream", "/live/stream")  # server-sent events never end: only the status is read


def ask(client, method: str, path: str):
    if path not in STREAMS:
        return client.request(method, concrete(path), json={} if method in ("POST", "PUT") else None)
    with client.stream(method, path) as answer:
        if answer.status_code != 200:
            answer.read()
    return answer


def test_every_endpoint_refuses_every_other_role_and_admits_its_own(service):
    ops = operations(service)
    assert len(ops) >= 40
    clients = {role: service.client(role) for role in ROLES}
    anonymous = service.client()
    try:
        for method, path in ops:
            owner = owner_of(path)
            url = concrete(path)
            if owner == "public":
                assert anonymous.request(method, url).status_code == 200
                continue
            refused = ask(anonymous, method, path)
            assert refused.status_code == 401, (method, path, refused.text)
            for role, client in clients.items():
                answer = ask(client, method, path)
                if owner == "any" or role in owner.split():
                    assert answer.status_code not in (401, 403), (method, path, role, answer.status_code)
                else:
                    assert answer.status_code == 403, (method, path, role, answer.status_code, answer.text)
                    assert all(r in answer.json()["detail"] for r in owner.split())  # names the role(s) needed
    finally:
        for client in clients.values():
            client.close()
        anonymous.close()


def test_a_wrong_key_is_refused(service):
    with service.client() as client:
        answer = client.get("/sites", headers={"X-API-Key": service.keys["dispatcher"] + "x"})
    assert answer.status_code == 401 and "invalid" in answer.json()["detail"]


def test_keys_are_issued_listed_revoked_and_stored_only_hashed(service):
    from sqlalchemy import create_engine, text

    from api.db import normalised_url

    with service.client("admin") as admin:
        issued = admin.post("/keys", json={"roles": ["dispatcher", "supervisor"], "name": "two roles"})
        assert issued.status_code == 201
        key, key_id = issued.json()["key"], issued.json()["id"]
        listed = admin.get("/keys").json()["items"]
        assert any(k["id"] == key_id and k["roles"] == ["dispatcher", "supervisor"] for k in listed)
        assert key not in str(listed)
        assert admin.post("/keys", json={"roles": ["janitor"]}).status_code == 422
        with service.client() as holder:
            holder.headers["X-API-Key"] = key
            assert holder.get("/sites").status_code == 200 and holder.get("/violations").status_code == 200
            assert holder.get("/keys").status_code == 403
            assert admin.delete(f"/keys/{key_id}").status_code == 204
            assert admin.delete(f"/keys/{key_id}").status_code == 404
            deadline = time.monotonic() + 15  # revocation takes effect within the key cache's few seconds
            while holder.get("/sites").status_code != 401:
                assert time.monotonic() < deadline, "revoked key still admitted"
                time.sleep(0.5)
    engine = create_engine(normalised_url(service.database_url))
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT key_hash FROM api_key")).scalars().all()
    engine.dispose()
    assert key not in stored and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in stored)


@pytest.mark.parametrize("role", ["dispatcher", "supervisor", "planner", "device"])
def test_no_role_but_admin_issues_keys(service, role):
    with service.client(role) as client:
        assert client.post("/keys", json={"roles": ["admin"]}).status_code == 403


def test_keys_cli_creates_lists_and_revokes(service):
    created = qingyun(
        "keys",
        "create",
        "--role",
        "planner",
        "--role",
        "device",
        "--terminal",
        "013800138000",
        "--name",
        "cli test",
        database_url=service.database_url,
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    key_id = key.split("_")[1]
    with service.client() as client:
        client.headers["X-API-Key"] = key
        assert client.post("/positions", json={"positions": []}).json() == {"accepted": 0, "rejected": []}
    listed = qingyun("keys", "list", database_url=service.database_url)
    assert key_id in listed.stdout and "planner,device" in listed.stdout and key not in listed.stdout
    assert "13800138000" in listed.stdout  # the device key's terminal, normalised as the store keys phones
    assert qingyun("keys", "revoke", key_id, database_url=service.database_url).returncode == 0
    again = qingyun("keys", "revoke", key_id, database_url=service.database_url)
    assert again.returncode == 2 and "no active key" in again.stderr and "Traceback" not in again.stderr
    bad = qingyun("keys", "create", "--role", "janitor", database_url=service.database_url)
    assert bad.returncode == 2 and "janitor" in bad.stderr
