"""Assembles the English prose corpus from documentation installed on a Debian system.

Every source is local and freely redistributable; README.md lists each one with its licence.
The filter keeps paragraphs that read as sentences and drops code, tables and changelogs, so
the model learns English rather than roff or C. Output order is deterministic (sorted paths).
"""

import argparse
import ast
import glob
import gzip
import hashlib
import html
import os
import re
import sys

_MAN_ESCAPES = re.compile(r"\\f[BIRP]|\\f\(..|\\f\[[^\]]*\]|\\[,/&]|\\\*\(..|\\\*.|\\s[+-]?\d")
_HTML_TAG = re.compile(r"<[^>]+>")
_WS = re.compile(r"\s+")
_REST_MARKUP = re.compile(r":[a-z:]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`|``([^`]*)``|`([^`<]*?)(?:\s*<[^>]*>)?`_*")


def _read(path: str) -> str:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except (OSError, EOFError):
        return ""


def _is_prose(paragraph: str) -> bool:
    words = paragraph.split()
    if len(words) < 8 or len(paragraph) > 3000:
        return False
    letters = sum(ch.isalpha() or ch == " " for ch in paragraph)
    if letters / len(paragraph) < 0.86:
        return False
    if paragraph.count("  ") > 2 or "\t" in paragraph:
        return False
    # Sentences end in punctuation and mostly use short common words.
    if not re.search(r"[.!?:]\s*$", paragraph):
        return False
    long_words = sum(len(w) > 18 for w in words)
    return long_words <= len(words) // 10 and not paragraph.isupper()


def _paragraphs(text: str):
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.splitlines()]
        if any(line.startswith(("$ ", "# ", ">>>", "...", "* ", "- ", "|", "+-")) for line in lines):
            # Lists and shell sessions: keep bullet text as separate short sentences only.
            continue
        joined = _WS.sub(" ", " ".join(lines)).strip()
        if joined:
            yield joined


def _man_to_text(source: str) -> str:
    out = []
    for line in source.splitlines():
        if line.startswith((".\\\"", "'\\\"")):
            continue
        if line.startswith("."):
            macro = line[1:3]
            if macro in ("PP", "LP", "P", "SH", "SS", "TP", "IP", "br", "sp", "RS", "RE", "nf", "fi"):
                out.append("")
            elif macro in ("B ", "I ", "BR", "IR", "RB", "BI", "IB", "RI"):
                words = re.findall(r'"[^"]*"|\S+', line[3:])
                out.append(" ".join(w.strip('"') for w in words))
            continue
        out.append(line)
    text = "\n".join(out)
    text = _MAN_ESCAPES.sub("", text)
    return text.replace("\\-", "-").replace("\\(em", "-").replace("\\(en", "-").replace("\\e", "\\")


def _rest_to_text(source: str) -> str:
    kept = []
    skip_indented = False
    for line in source.splitlines():
        if line.startswith(".. ") or line.rstrip().endswith("::"):
            skip_indented = True
            if line.rstrip().endswith("::") and not line.startswith(".."):
                kept.append(line.rstrip()[:-1])
            continue
        if skip_indented and (line.startswith(" ") or not line.strip()):
            if not line.strip():
                kept.append("")
            continue
        skip_indented = False
        if re.fullmatch(r"[=\-~^*#\"]{3,}", line.strip()):
            continue
        kept.append(line)
    text = "\n".join(kept)
    return _REST_MARKUP.sub(lambda m: m.group(1) or m.group(2) or m.group(3) or "", text)


def _docstrings(path: str):
    try:
        tree = ast.parse(_read(path))
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                yield doc


def _sources():
    """Yields (source name, text) pairs in a fixed order."""
    for path in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(path):
            yield "common-licenses", _read(path)
    for path in sorted(glob.glob("/usr/share/doc/python3.11/html/_sources/**/*.txt", recursive=True)):
        yield "python-doc", _rest_to_text(_read(path))
    for path in sorted(glob.glob("/usr/share/debian-reference/*.en.txt*")):
        yield "debian-reference", _read(path)
    visited = set()
    for path in sorted(glob.glob("/usr/share/doc/**/*", recursive=True)):
        name = os.path.basename(path).lower()
        real = os.path.realpath(path)
        if not os.path.isfile(path) or "changelog" in name or name == "copyright":
            continue
        if real in visited or "python3.11/html" in real or "debian-reference" in real:
            continue
        visited.add(real)
        if re.search(r"(readme|\.txt|\.md|\.rst|news|faq|manual|howto|guide)(\.gz)?$", name):
            text = _read(path)
            if name.endswith((".rst", ".rst.gz")):
                text = _rest_to_text(text)
            yield "package-doc", text
        elif name.endswith((".html", ".html.gz", ".htm")):
            text = _read(path)
            text = re.sub(r"(?is)<(script|style|pre)[^>]*>.*?</\1>", "", text)
            text = re.sub(r"(?i)</?(p|div|h\d|li|br|tr|dd|dt)[^>]*>", "\n\n", text)
            yield "package-doc", html.unescape(_HTML_TAG.sub("", text))
    for path in sorted(glob.glob("/usr/share/man/man[1-8]/*")):
        yield "man", _man_to_text(_read(path))
    for path in sorted(glob.glob("/usr/lib/python3.11/**/*.py", recursive=True)):
        if "/test" in path or "site-packages" in path or "dist-packages" in path:
            continue
        for doc in _docstrings(path):
            yield "python-docstring", doc
    for path in sorted(glob.glob("/usr/share/games/fortunes/*")):
        if os.path.isfile(path) and not path.endswith((".dat", ".u8")) and "/off/" not in path:
            yield "fortunes", _read(path).replace("\n%\n", "\n\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-mb-per-source", type=float, default=8.0)
    args = parser.parse_args()
    seen = set()
    totals: dict[str, int] = {}
    budget = int(args.max_mb_per_source * 1e6)
    with open(args.out, "w", encoding="utf-8") as out:
        for source, text in _sources():
            if totals.get(source, 0) >= budget:
                continue
            for paragraph in _paragraphs(text):
                if not _is_prose(paragraph):
                    continue
                digest = hashlib.blake2b(paragraph.lower().encode(), digest_size=8).digest()
                if digest in seen:
                    continue
                seen.add(digest)
                out.write(paragraph + "\n\n")
                totals[source] = totals.get(source, 0) + len(paragraph)
    for source, size in totals.items():
        print(f"corpus: {source}: {size / 1e6:.2f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
