"""Fixtures for the conformance suite: the vendor SDK against a running igz-emulator.

hack/conformance.sh starts the emulator and exports IGZ_EMULATOR_URL, IGZ_EMULATOR_ACCESS_KEY and
IGZ_EMULATOR_BIN. Every test starts from a reset emulator.
"""
import os
import subprocess
import time
import uuid

import httpx
import igz_mgmt
import pytest

URL = os.environ["IGZ_EMULATOR_URL"]
ACCESS_KEY = os.environ["IGZ_EMULATOR_ACCESS_KEY"]
BIN = os.environ.get("IGZ_EMULATOR_BIN", "")


def admin(method, path, url=URL, **kwargs):
    """Calls an /__emulator admin route."""
    response = httpx.request(method, f"{url}/__emulator/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


@pytest.fixture(autouse=True)
def reset_emulator():
    admin("POST", "reset")
    yield


@pytest.fixture
def client():
    c = igz_mgmt.Client(endpoint=URL, access_key=ACCESS_KEY)
    yield c
    c.close()


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_user(client):
    def _make(username=None, **kwargs):
        username = username or unique("user")
        return igz_mgmt.User.create(
            client,
            username=username,
            email=f"{username}@example.com",
            first_name="First",
            last_name="Last",
            **kwargs,
        )

    return _make


@pytest.fixture
def project(client):
    return igz_mgmt.Project.create(client, name=unique("proj"))


@pytest.fixture
def start_emulator(tmp_path):
    """Starts an extra emulator with the given flags; stops it after the test."""
    processes = []

    def _start(*flags):
        assert BIN, "IGZ_EMULATOR_BIN is not set"
        ready = tmp_path / f"emulator-{len(processes)}.url"
        proc = subprocess.Popen(
            [BIN, "--listen", "127.0.0.1:0", "--access-key", ACCESS_KEY,
             "--ready-file", str(ready), *flags],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(proc)
        # The emulator writes its URL to the ready file once it accepts connections.
        for _ in range(200):
            if ready.exists():
                return ready.read_text().strip()
            assert proc.poll() is None, "emulator exited early"
            time.sleep(0.05)
        raise AssertionError("emulator did not become ready within 10s")

    yield _start
    for proc in processes:
        proc.terminate()
        proc.wait(timeout=10)
