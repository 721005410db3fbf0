"""The web UI in a real browser: Debian's Chromium, headless, driven by selenium.

Loads the dataset list, searches, opens a version, clicks a node of the lineage
DAG, pages the file listing, opens a comparison, and checks that a description
holding ``<script>`` is shown as text (and never runs).  Screenshots go to a
temporary folder, never into the repository.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if os.environ.get("GD_TEST_SERVERS") == "required":
            pytest.fail(
                "Chromium and chromedriver are required (apt install chromium chromium-driver)"
            )
        pytest.skip("no Chromium here (apt install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="gd-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1600",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not fetch drivers
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


def by(kind: str):
    from selenium.webdriver.common.by import By

    return {"css": By.CSS_SELECTOR, "link": By.LINK_TEXT, "name": By.NAME}[kind]


def wait_for(b, css: str) -> None:
    """Until the page that a click or submit opened shows ``css``."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(b, 30).until(ec.presence_of_element_located((by("css"), css)))


def wait_url(b, part: str) -> None:
    """Until the browser is on a URL holding ``part``."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(b, 30).until(ec.url_contains(part))


def test_walk_through_the_ui(browser, ui_url, history, shots) -> None:
    b = browser
    b.get(ui_url + "/")
    assert b.title == "gitdata: datasets"
    names = [td.text for td in b.find_elements(by("css"), "#datasets tbody tr td:nth-child(2)")]
    assert "cats" in names and "many" in names

    box = b.find_element(by("name"), "q")
    box.send_keys("merged")
    box.submit()
    wait_url(b, "q=merged")
    names = [td.text for td in b.find_elements(by("css"), "#datasets tbody tr td:nth-child(2)")]
    assert names == ["cats"], names

    b.find_element(by("css"), "#datasets a.latest").click()
    wait_url(b, history.merge)
    assert b.find_element(by("css"), "#identity").text.count(history.merge) == 1
    b.save_screenshot(str(shots / "version.png"))

    # the lineage DAG: click the node of the first version
    node = b.find_element(by("css"), f'#lineage g.node[data-id="{history.v1}"]')
    b.execute_script(
        "arguments[0].parentNode.dispatchEvent(new MouseEvent('click', {bubbles: true}))", node
    )
    wait_url(b, f"/version/{history.v1}")
    assert "first cut" in b.find_element(by("css"), "#identity").text

    # compare the first version with the merge, from the merge's page
    b.get(f"{ui_url}/version/{history.merge}")
    from selenium.webdriver.support.ui import Select

    Select(b.find_element(by("css"), "#compare-form select")).select_by_value(history.v1)
    b.find_element(by("css"), "#compare-form button").click()
    wait_for(b, "#compare-summary")
    summary = b.find_element(by("css"), "#compare-summary").text
    assert "added" in summary and "removed" in summary
    added = b.find_element(by("css"), "#added-files").text
    assert "images/c.png" in added and "extra/d.csv" in added
    b.save_screenshot(str(shots / "compare.png"))


def test_file_listing_pages_in_the_browser(browser, ui_url, history) -> None:
    b = browser
    b.get(f"{ui_url}/version/{history.many}/files")
    first = b.find_elements(by("css"), "#file-table .path")
    assert len(first) == 100 and first[0].text == "part00/f0000.txt"
    b.find_element(by("css"), "a[rel=next]").click()
    wait_url(b, "page=2")
    assert b.find_elements(by("css"), "#file-table .path")[0].text == "part01/f0100.txt"
    box = b.find_element(by("css"), "#file-search input[name=q]")
    box.send_keys("part03/*")
    box.submit()
    wait_url(b, "q=part03")
    paths = [e.text for e in b.find_elements(by("css"), "#file-table .path")]
    assert len(paths) == 100 and all(p.startswith("part03/") for p in paths)


def test_markup_in_a_description_is_text(browser, ui_url, history) -> None:
    b = browser
    b.get(f"{ui_url}/version/{history.hostile}")
    assert b.title != "owned"  # the <script> never ran
    assert b.execute_script("return document.querySelectorAll('main script, main img').length") == 0
    text = b.find_element(by("css"), "#identity").text
    assert '<script>document.title="owned"</script>' in text
    assert b.find_elements(by("css"), "b[onmouseover]") == []
