"""The book's CJK font: a subset of Noto Sans CJK SC with only the characters the book uses.

Some chapters quote their Chinese-language sources. A reader whose machine has no CJK font
would see empty boxes, and the site must work offline, so it carries its own font: the
glyphs of every CJK character in ``notebooks/*.md`` cut out of Noto Sans CJK SC (SIL Open
Font License 1.1, see ``course/ui/assets/cjk-LICENSE.txt``) into a small WOFF file,
``course/ui/assets/cjk.woff``. The book build serves it with an ``@font-face`` rule as the
last family of the page's font stack, so it is used only for characters the reader's own
fonts lack.

``python -m tools.font`` rewrites the subset; it needs Debian's ``fonts-noto-cjk``
(``tools/browser.py`` installs it for the browser tests). A test fails when a notebook uses
a CJK character the subset lacks, and says to run this.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSET = ROOT / "course" / "ui" / "assets" / "cjk.woff"
NOTO = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FAMILY = "Noto Sans CJK SC"
# CJK punctuation, unified ideographs and full-width forms: what the subset serves
RANGES = ((0x3000, 0x303F), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF))
CJK = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in RANGES) + "]")
UNICODE_RANGE = ", ".join(f"U+{lo:04X}-{hi:04X}" for lo, hi in RANGES)  # as CSS writes it


def characters(paths: list[Path] | None = None) -> set[str]:
    """Every CJK character in the given files (default: the notebooks' MyST sources)."""
    paths = sorted((ROOT / "notebooks").glob("*.md")) if paths is None else paths
    return {c for p in paths for c in CJK.findall(p.read_text(encoding="utf-8"))}


def covered(font: Path = ASSET) -> set[str]:
    """The characters a font file has glyphs for."""
    from fontTools.ttLib import TTFont

    with TTFont(font) as f:
        return {chr(code) for code in f.getBestCmap()}


def write_subset(chars: set[str], out: Path = ASSET, source: Path = NOTO) -> int:
    """Cut ``chars`` out of Noto Sans CJK SC into a WOFF file; return its size in bytes."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    collection = TTCollection(source)
    font = next(f for f in collection.fonts if f["name"].getDebugName(1) == FAMILY)
    options = subset.Options()
    options.flavor = "woff"
    options.name_IDs = ["*"]  # keep the copyright and licence strings
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in sorted(chars)])
    subsetter.subset(font)
    font.flavor = "woff"
    font.save(out)
    return out.stat().st_size


def main() -> int:
    if not NOTO.exists():
        print(f"error: {NOTO} is missing; install Debian's fonts-noto-cjk", file=sys.stderr)
        return 2
    chars = characters()
    size = write_subset(chars)
    print(f"{ASSET.relative_to(ROOT)}: {len(chars)} characters, {size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
