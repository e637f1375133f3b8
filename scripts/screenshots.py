"""Take the README's screenshots from a running Vastavuoro (make run) with Debian's Chromium.

.venv/bin/python scripts/screenshots.py [http://127.0.0.1:8000]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    executable = shutil.which("chromium")
    if executable is None:
        sys.exit("Chromium is not installed (apt-get install -y chromium).")
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        staff = browser.new_page(viewport={"width": 1280, "height": 760})
        staff.goto(f"{BASE}/admin/login/")
        staff.fill("#id_username", "staff@vastavuoro.local")
        staff.fill("#id_password", "vastavuoro-demo")
        staff.click("input[type=submit]")
        staff.goto(f"{BASE}/admin/customers/customer/")
        staff.screenshot(path=OUT / "admin-customers.png")
        staff.goto(f"{BASE}/admin/campaigns/campaign/?q=Autumn+thank-you")
        staff.locator("#result_list tbody th a").first.click()
        staff.locator("#effect").scroll_into_view_if_needed()
        staff.screenshot(path=OUT / "admin-campaign-effect.png", full_page=True)
        staff.goto(f"{BASE}/admin/referrals/")
        staff.screenshot(path=OUT / "admin-referrals.png")

        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="fi-FI")
        phone.goto(f"{BASE}/portal/login/")
        phone.fill("#id_username", "aino.virtanen@example.fi")
        phone.fill("#id_password", "vastavuoro-demo")
        phone.click("main button[type=submit]")
        phone.goto(f"{BASE}/portal/")
        phone.screenshot(path=OUT / "portal-home-fi.png", full_page=True)
        phone.goto(f"{BASE}/portal/vouchers/")
        first_voucher = phone.locator("main a[href*='/portal/vouchers/']").first
        if first_voucher.count():
            first_voucher.click()
            phone.screenshot(path=OUT / "portal-voucher-fi.png", full_page=True)
        phone.goto(f"{BASE}/portal/referrals/")
        phone.screenshot(path=OUT / "portal-referrals-fi.png", full_page=True)
        browser.close()
    print(f"Screenshots written to {OUT}")


if __name__ == "__main__":
    main()
