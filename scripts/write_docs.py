"""Write the docs pages that are generated from the code: docs/extension-points.md (from the registries).

Usage: python scripts/write_docs.py
"""

from pathlib import Path

from oboptim._registry import extension_points_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"

if __name__ == "__main__":
    path = DOCS / "extension-points.md"
    path.write_text(extension_points_markdown())
    print(f"wrote {path}")
