"""Screenshots of what a user sees, for checking by eye: the rendered report in headless Chromium, and
explore.ipynb executed in a live JupyterLab (widgets rendered).

    python tools/screenshots.py OUT_DIR        # needs Debian's chromium + chromium-driver (selenium is in the lock)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

REPO = Path(__file__).resolve().parent.parent
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync")


def browser(width: int, height: int) -> webdriver.Chrome:
    opts = Options()
    for flag in (*CHROME_FLAGS, f"--window-size={width},{height}", f"--user-data-dir={tempfile.mkdtemp()}"):
        opts.add_argument(flag)
    opts.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def report(out: Path) -> Path:
    driver = browser(1300, 1000)
    try:
        driver.get((REPO / "results" / "reports" / "laptop.html").as_uri())
        time.sleep(2)
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1300, min(height + 100, 16000))
        time.sleep(1)
        images = driver.execute_script("return [...document.images].map(i => [i.getAttribute('src'), "
                                       "i.complete && i.naturalWidth > 0])")
        broken = [src for src, loaded in images if not loaded]
        print(f"report: {len(images)} images, {len(images) - len(broken)} loaded" +
              (f"; broken: {', '.join(broken)}" if broken else ""))
        driver.save_screenshot(str(out / "report.png"))
    finally:
        driver.quit()
    return out / "report.png"


def quiet_lab_settings() -> dict[str, str]:
    """An environment whose JupyterLab settings turn off the news prompt, which would cover part of the shot."""
    settings = Path(tempfile.mkdtemp()) / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    return {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings.parent.parent)}


def explore(out: Path) -> Path:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
                               "--ServerApp.token=", "--ServerApp.password=", "--allow-root",
                               "--LabApp.expose_app_in_browser=True", f"--ServerApp.root_dir={REPO}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=quiet_lab_settings())
    driver = browser(1400, 1300)
    try:
        time.sleep(8)
        driver.get(f"http://127.0.0.1:{port}/lab/tree/notebooks/explore.ipynb")
        time.sleep(20)
        driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        time.sleep(60)
        driver.execute_script("window.jupyterapp.commands.execute('notebook:hide-all-cell-code')")
        time.sleep(3)
        driver.save_screenshot(str(out / "explore.png"))
    finally:
        driver.quit()
        server.terminate()
    return out / "explore.png"


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "results/figures/screenshots")
    target.mkdir(parents=True, exist_ok=True)
    for shoot in (report, explore) if len(sys.argv) < 3 else [globals()[sys.argv[2]]]:
        print(shoot(target))
