#!/usr/bin/env python3
"""Make docs/img/ui-*.png: the web UI over the quickstart's data, in headless Chromium.

Runs examples/quickstart/quickstart.sh in a throwaway HOME, serves its store with the
UI, and saves the version page, the lineage DAG and the compare page. Needs Debian's
chromium and chromium-driver and selenium (what scripts/test.sh installs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="gd-shots-"))
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                "GD_STORAGE", "GD_CACHE_DIR"):
        env.pop(var, None)
    subprocess.run([str(ROOT / "examples/quickstart/quickstart.sh")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    os.environ.update({k: v for k, v in env.items() if k in ("HOME",)})
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        os.environ.pop(var, None)
    sys.path.insert(0, str(ROOT))
    from gitdata.ui.catalog import Catalog
    from gitdata.ui.server import make_server, serve_in_background

    search = subprocess.run(
        [sys.executable, "-m", "gitdata", "search", "--project", "quickstart", "--json"],
        env=env, capture_output=True, text=True, check=True, cwd=home,
    )
    rows = sorted(json.loads(search.stdout), key=lambda r: r["version"])
    v1, v2 = rows[0]["id"], rows[-1]["id"]
    server = make_server(Catalog(), "127.0.0.1", 0)
    serve_in_background(server)
    url = f"http://127.0.0.1:{server.server_address[1]}"

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--window-size=1100,1300",
                 "--hide-scrollbars"):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        OUT.mkdir(parents=True, exist_ok=True)
        driver.get(f"{url}/version/{v2}")
        driver.save_screenshot(str(OUT / "ui-version.png"))
        driver.find_element(By.CSS_SELECTOR, "#lineage").screenshot(str(OUT / "ui-dag.png"))
        driver.get(f"{url}/compare?source={v1}&target={v2}")
        driver.save_screenshot(str(OUT / "ui-compare.png"))
    finally:
        driver.quit()
        server.shutdown()
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('ui-*.png')))} into {OUT}")


if __name__ == "__main__":
    main()
