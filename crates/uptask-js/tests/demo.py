#!/usr/bin/env python3
"""The demo page as a person uses it, in headless Chromium through chromedriver: the built
package (scripts/build-js.sh) served over HTTP, a file chosen in the page's file input, Upload
clicked, the result read off the page. Usage: demo.py UPLOAD_URL (an `uptask serve`)."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, probe, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    sys.exit(f"demo page: timed out waiting for {what}")


class Browser:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        with open(os.path.join(PACKAGE, "webdriver.json")) as f:
            options = json.load(f)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", **options}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as res:
            return json.load(res)["value"]

    def do(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def element(self, css):
        found = self.do("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(found.values()))

    def script(self, source, *args):
        return self.do("POST", "/execute/sync", {"script": source, "args": list(args)})


@contextlib.contextmanager
def page_browser(directory):
    """`directory` served over HTTP on loopback and a headless Chromium session through
    chromedriver: yields (the page server's base URL, the browser); both stop afterwards."""
    web_port, driver_port = free_port(), free_port()
    procs = [
        subprocess.Popen([sys.executable, "-m", "http.server", str(web_port), "--bind", "127.0.0.1",
                          "--directory", directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([os.environ.get("CHROMEDRIVER", "chromedriver"), f"--port={driver_port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    browser = None
    try:
        def up(port):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for("the page server and chromedriver", lambda: up(web_port) and up(driver_port))
        browser = Browser(driver_port)
        yield f"http://127.0.0.1:{web_port}", browser
    finally:
        if browser is not None:
            browser.call("DELETE", f"/session/{browser.session}")
        for p in procs:
            p.terminate()


def main():
    upload_url = sys.argv[1]
    with page_browser(PACKAGE) as (base, browser):
        browser.do("POST", "/url", {"url": f"{base}/demo/index.html"})
        size = (5 << 20) + 17
        with tempfile.NamedTemporaryFile(suffix="-demo.bin", delete=False) as f:
            f.write(bytes(i % 251 for i in range(size)))
        browser.script("document.getElementById('url').value = arguments[0]", upload_url)
        file_input = browser.element("#file")
        browser.do("POST", f"/element/{file_input}/value", {"text": f.name})
        upload = browser.element("#upload")
        wait_for("the Upload button", lambda: browser.script("return !document.getElementById('upload').disabled"))
        browser.do("POST", f"/element/{upload}/click", {})
        result = wait_for("the result", lambda: browser.script("return document.getElementById('result').textContent"))
        bar = browser.script("return document.getElementById('bar').value")
        headers = browser.script("return document.getElementById('headers').textContent")
        os.unlink(f.name)
        first, _, body = result.partition("\n")
        if first != "uploadFile:ok, HTTP 200":
            sys.exit(f"demo page: the upload failed: {result}")
        stored = json.loads(body)["files"][0]
        if stored["size"] != size or stored["fileName"] != os.path.basename(f.name):
            sys.exit(f"demo page: the server stored {stored}")
        if bar != 100 or "content-type" not in json.loads(headers):
            sys.exit(f"demo page: progress bar at {bar}, headers {headers!r}")
        print(f"demo page: {size} bytes uploaded from the file input, bar at {bar}%")


if __name__ == "__main__":
    main()
