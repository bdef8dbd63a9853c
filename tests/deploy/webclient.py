"""What a woman does in the source interface, from inside a booted container's network.

Run by the deploy tests as ``nsenter -t PID -n python -m tests.deploy.webclient ACTION …``:
the host's Python (with requests) in the container's network namespace, so it reaches
the server on the container's 127.0.0.1 and nothing else. Prints one JSON object.

  report BASE HOST TEXT    file a report; {"codename": …, "case": <case page>}
  login BASE HOST CODENAME log in; {"status": <POST status>, "location": …, "case": …}
  get BASE HOST PATH       {"status": …, "headers": {…}, "body": …}
"""

from __future__ import annotations

import json
import re
import sys

import requests

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CODENAME_RE = re.compile(r'class="codename" lang="en">([^<]+)<')
TIMEOUT = 30


class Browser:
    def __init__(self, base: str, host: str) -> None:
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Host"] = host
        self.session.trust_env = False  # no proxy from the environment, ever

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.base + path, timeout=TIMEOUT, allow_redirects=False)

    def token(self, path: str) -> str:
        page = self.get(path)
        match = CSRF_RE.search(page.text)
        if not match:
            raise SystemExit(f"no CSRF token on {path}: {page.status_code} {page.text[:500]}")
        return match.group(1)

    def report(self, text: str) -> dict[str, object]:
        self.get("/lang/en")
        data = {"csrf_token": self.token("/report"), "what_happened": text}
        # multipart/form-data, as the browser sends it (the form takes files).
        response = self.session.post(
            self.base + "/report",
            data=data,
            files={"files": ("", b"", "application/octet-stream")},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        match = CODENAME_RE.search(response.text)
        if response.status_code != 200 or not match:
            raise SystemExit(f"report refused: {response.status_code} {response.text[:2000]}")
        return {"codename": match.group(1), "case": self.get("/case").text}

    def login(self, codename: str) -> dict[str, object]:
        self.get("/lang/en")
        response = self.session.post(
            self.base + "/login",
            data={"csrf_token": self.token("/login"), "codename": codename},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        case = self.get("/case")
        return {
            "status": response.status_code,
            "location": response.headers.get("Location", ""),
            "case_status": case.status_code,
            "case": case.text,
        }


def main(argv: list[str]) -> int:
    action, base, host, arg = argv
    browser = Browser(base, host)
    if action == "report":
        result = browser.report(arg)
    elif action == "login":
        result = browser.login(arg)
    elif action == "get":
        response = browser.get(arg)
        result = {
            "status": response.status_code,
            "headers": dict(response.headers),
            "body": response.text,
        }
    else:
        raise SystemExit(f"unknown action {action}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
