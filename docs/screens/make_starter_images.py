"""Draw the sample images of the starter templates (web/static/builder/*.jpg).

Abstract, brand-neutral pictures a marketer replaces with their own; drawn with CSS
in Debian's chromium so they need no image tools:

    .venv/bin/python docs/screens/make_starter_images.py
"""

from __future__ import annotations

from pathlib import Path

from instance import CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[2] / "src" / "tidings" / "web" / "static" / "builder"

SHAPES = """
<div class="blob a"></div><div class="blob b"></div><div class="blob c"></div>
<div class="ring"></div><div class="grid"></div>"""

STYLE = """
html, body { margin: 0; width: %(w)spx; height: %(h)spx; overflow: hidden; }
body { background: linear-gradient(135deg, %(c1)s 0%%, %(c2)s 55%%, %(c3)s 100%%);
       position: relative; font-family: Helvetica, Arial, sans-serif; }
.blob { position: absolute; border-radius: 50%%; filter: blur(2px); opacity: .55; }
.a { width: 62%%; height: 120%%; left: -14%%; top: 30%%; background: %(c3)s; }
.b { width: 45%%; height: 90%%; right: -8%%; top: -38%%; background: %(c1)s; opacity: .5; }
.c { width: 22%%; height: 46%%; right: 18%%; bottom: 10%%; background: #ffffff; opacity: .18; }
.ring { position: absolute; width: 30%%; height: 64%%; left: 54%%; top: 14%%;
        border: 6px solid rgba(255,255,255,.35); border-radius: 50%%; }
.grid { position: absolute; inset: 0;
        background-image: radial-gradient(rgba(255,255,255,.28) 2px, transparent 2.5px);
        background-size: 34px 34px; mask-image: linear-gradient(90deg, transparent, #000 70%%); }
"""

IMAGES = {
    "newsletter-hero": (1200, 560, "#1e3a8a", "#2563eb", "#60a5fa"),
    "newsletter-story-1": (600, 400, "#0f766e", "#14b8a6", "#99f6e4"),
    "newsletter-story-2": (600, 400, "#9a3412", "#f97316", "#fed7aa"),
    "announcement-hero": (1200, 560, "#4c1d95", "#7c3aed", "#c4b5fd"),
    "offer-hero": (1200, 600, "#9f1239", "#e11d48", "#fda4af"),
    "offer-product-1": (600, 600, "#1e293b", "#475569", "#cbd5e1"),
    "offer-product-2": (600, 600, "#78350f", "#d97706", "#fde68a"),
    "event-hero": (1200, 560, "#134e4a", "#0f766e", "#5eead4"),
    "placeholder": (1200, 600, "#94a3b8", "#cbd5e1", "#f1f5f9"),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, (width, height, c1, c2, c3) in IMAGES.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            css = STYLE % {"w": width, "h": height, "c1": c1, "c2": c2, "c3": c3}
            page.set_content(f"<html><head><style>{css}</style></head><body>{SHAPES}</body></html>")
            page.screenshot(path=str(OUT / f"{name}.jpg"), type="jpeg", quality=80)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
