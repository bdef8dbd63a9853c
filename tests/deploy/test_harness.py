"""The harness itself, proved with a tiny playbook of its own (no project role involved):
apply through the chroot connection, rerun without change, the root left as the playbook
left it (no policy-rc.d), a failed task named in the assertion, a boot with a unit
answering on the container's own 127.0.0.1, and the offline unit checks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy import harness
from tests.deploy.conftest import Farm, job

PLAYBOOK = """\
- name: A throw-away machine for the harness's own test
  hosts: demo
  gather_facts: true
  tasks:
    - name: A folder to serve
      ansible.builtin.file:
        path: /srv/demo
        state: directory
        owner: root
        group: root
        mode: "0755"
    - name: A page
      ansible.builtin.copy:
        dest: /srv/demo/index.html
        content: "harness says hello\\n"
        owner: root
        group: root
        mode: "0644"
    - name: A sandboxed web server on loopback
      ansible.builtin.copy:
        dest: /etc/systemd/system/demo-web.service
        owner: root
        group: root
        mode: "0644"
        content: |
          [Unit]
          Description=Harness demo web server
          [Service]
          ExecStart=/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory /srv/demo 8080
          DynamicUser=yes
          ProtectSystem=strict
          ProtectHome=yes
          PrivateTmp=yes
          PrivateDevices=yes
          NoNewPrivileges=yes
          [Install]
          WantedBy=multi-user.target
    - name: A unit that asks for a passphrase at boot, as sesim-unlock does
      ansible.builtin.copy:
        dest: /etc/systemd/system/demo-ask.service
        owner: root
        group: root
        mode: "0644"
        content: |
          [Unit]
          Description=Harness demo passphrase question
          [Service]
          Type=oneshot
          RemainAfterExit=yes
          ExecStart=/bin/sh -c 'systemd-ask-password --no-tty "Demo passphrase:" > /run/demo-answer'
          [Install]
          WantedBy=multi-user.target
    - name: Enabled, not started (a chroot)
      ansible.builtin.systemd_service:
        name: "{{ item }}"
        enabled: true
      loop: [demo-web.service, demo-ask.service]
    - name: The chroot was seen as one
      ansible.builtin.assert:
        that: ansible_facts.is_chroot
"""

FAILING = """\
- name: Fails on purpose
  hosts: demo
  gather_facts: false
  tasks:
    - name: This task fails on purpose
      ansible.builtin.command: /bin/false
      changed_when: false
"""


@dataclass
class Demo:
    root: Path
    first: harness.Applied
    second: harness.Applied
    failing: AssertionError | None


@job("demo", dist=False)
def demo_job(farm: Farm) -> Demo:
    root = farm.new_root("demo")
    playbook = farm.workdir / "demo.yml"
    playbook.write_text(PLAYBOOK)
    first = farm.apply(root, group="demo", label="demo", playbook=playbook, timeout=300)
    second = farm.apply(root, group="demo", label="demo-rerun", playbook=playbook, timeout=300)
    bad = farm.workdir / "failing.yml"
    bad.write_text(FAILING)
    failing = None
    try:
        farm.apply(root, group="demo", label="demo-failing", playbook=bad, timeout=120).check()
    except AssertionError as exc:
        failing = exc
    return Demo(root, first, second, failing)


@pytest.fixture(scope="module")
def demo(farm: Farm) -> Iterator[Demo]:
    result: Demo = farm.get("demo")
    yield result
    farm.discard(result.root)


def test_the_playbook_applies_then_changes_nothing(demo: Demo) -> None:
    demo.first.check()
    assert [r.changed for r in demo.first.recap.values()] == [5], demo.first.changed_tasks
    demo.second.check(changed=0)


def test_a_failed_task_is_named_in_the_assertion(demo: Demo) -> None:
    assert demo.failing is not None
    assert "This task fails on purpose" in str(demo.failing)


def test_the_root_is_left_as_the_playbook_left_it(demo: Demo) -> None:
    fs = harness.RootFS(demo.root)
    assert not fs.exists("/usr/sbin/policy-rc.d")
    assert not harness.mounts_under(demo.root, inside=True)
    assert str(fs.stat("/srv/demo/index.html")) == "/srv/demo/index.html file 0644 root:root"
    assert fs.stat("/etc/shadow").group == "shadow"  # names come from the root's own files
    assert fs.enabled("demo-web.service")
    # /bin is a relative link on a merged-/usr root; /etc/resolv.conf may be absolute.
    assert fs.path("/bin/sh").resolve().is_relative_to(demo.root)


def test_the_offline_unit_checks(demo: Demo) -> None:
    fs = harness.RootFS(demo.root)
    verify = fs.verify(["demo-web.service"])
    assert verify.returncode == 0, verify.stderr
    assert 1.0 < fs.exposure("demo-web.service") < 9.0


def test_it_boots_and_the_unit_answers_on_the_containers_loopback(
    demo: Demo, workdir: Path
) -> None:
    with harness.booted(demo.root, workdir / "demo-boot.log", passphrase="open sesame") as box:
        assert box.wait_active("demo-web.service") == "active", box.diagnose("demo-web.service")
        # The question asked at boot was answered through the password agent protocol.
        assert box.asked == ["Demo passphrase:"]
        assert box.run(["cat", "/run/demo-answer"]).stdout == "open sesame\n"
        page = box.run(
            [
                "python3",
                "-c",
                "import urllib.request as u;"
                "print(u.urlopen('http://127.0.0.1:8080/', timeout=5).read().decode())",
            ]
        )
        assert "harness says hello" in page.stdout, page.stderr
        assert ("127.0.0.1", 8080) in harness.listening_tcp(box)
        # The host's own network is not the container's.
        assert box.run(["cat", "/sys/class/net/lo/operstate"]).returncode == 0
        links = box.run(["ls", "/sys/class/net"]).stdout.split()
        assert links == ["lo"], links
    assert not harness.mounts_under(demo.root, inside=True)
