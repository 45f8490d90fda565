"""Great Expectations Data Docs: a site per table, an index over them, and the static files the
pages load, served from beside them so that the pages work with no network.

GX's page templates load Bootstrap, jQuery, Vega and Font Awesome from CDNs and its logo from
S3: offline the pages are unstyled and their tables empty. ``fetch_assets`` downloads those files
once, at install (``crm-quality data-docs-assets``, run by ``make install``), from the npm
registry, each package checked against the hash pinned here; ``localize`` copies them into the
Data Docs folder and points every page at its copy.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
import re
import shutil
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from crm_quality.errors import CrmQualityError

FOLDER = "data_docs"
"""Data Docs' folder in the reports folder."""
SHOWN = "shown.json"
"""Beside each table's site: which run it shows, and how many of the table's checks."""
STATIC = "_static"
"""The folder, beside the tables' sites, holding the files their pages load."""
REGISTRY = "https://registry.npmjs.org"
ASSETS_FOLDER = Path(sys.prefix) / "share" / "crm-quality" / "data-docs"
"""Where ``fetch_assets`` puts the files: the environment crm-quality is installed in."""


@dataclass(frozen=True)
class Package:
    """An npm package holding files that GX's templates load from a CDN."""

    name: str
    version: str
    integrity: str
    """The registry's sha512 of the package tarball."""
    files: dict[str, str]
    """Each URL as GX's templates write it -> the file in the package that replaces it."""
    folders: tuple[str, ...] = ()
    """Folders the files load in turn (Font Awesome's fonts), copied whole."""


PACKAGES = (
    Package("jquery", "3.7.1", "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
            {"https://code.jquery.com/jquery-3.7.1.min.js": "dist/jquery.min.js"}),
    Package("popper.js", "1.12.9", "sha512-s0EEi9xiSCdqz9lV4IiVH5yIZnDX/U1t0tCjB+0jXx9jW8lrR7kOpVupiUg175ogqVoudpDXHF1p6dKATCHMeg==",
            {"https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "dist/umd/popper.min.js"}),
    Package("bootstrap", "4.3.1", "sha512-rXqOmH1VilAt2DyPzluTi2blhk17bO7ef+zLLPlWvG494pDxcM234pJ8wTc/6R40UWizAIIMgxjvxZg5kmsbag==",
            {"https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "dist/css/bootstrap.min.css",
             "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "dist/js/bootstrap.min.js"}),
    Package("bootstrap-table", "1.19.1", "sha512-WvV+l1AI/C+zThaKmfHmi/IuayVNB0qdFyEhFx1jyZhO0oLtNJNANkCR3rvJf6Dkh72dsLElxpE/bzK9seEQLA==",
            {"https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "dist/bootstrap-table.min.css",
             "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "dist/bootstrap-table.min.js",
             # GX's templates take the filter control's styles from 1.19.0: the same file in 1.19.1.
             "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
                 "dist/extensions/filter-control/bootstrap-table-filter-control.css",
             "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
                 "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
             "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
                 "dist/extensions/filter-control/bootstrap-table-filter-control.min.js"}),
    Package("bootstrap-datepicker", "1.9.0", "sha512-9rYYbaVOheGYxjOr/+bJCmRPihfy+LkLSg4fIFMT9Od8WwWB/MB50w0JO1eBgKUMbb7PFHQD5uAfI3ArAxZRXA==",
            {"https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
                 "dist/css/bootstrap-datepicker.min.css",
             "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
                 "dist/js/bootstrap-datepicker.min.js"}),
    Package("@forevolve/bootstrap-dark", "1.1.0", "sha512-A3ucpEpxPoTVO490lZZCfjPXxv832l7mm1IxX3bXyxvgwnPGXDLyh7dWrphXKO8YBAu3EswbBEu3VSW8NRMW3A==",
            {"https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
                 "dist/css/bootstrap-prefers-dark.css"}),
    Package("@fortawesome/fontawesome-free", "6.6.0", "sha512-60G28ke/sXdtS9KZCpZSHHkCbdsOGEhIUGlwq6yhY74UpTiToIh8np7A8yphhM4BWsvNFtIvLpi4co+h9Mr9Ow==",
            {"https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "css/all.min.css"},
            folders=("webfonts",)),
    # GX asks the CDN for the newest 5.x (6.x for vega-embed); these were the newest on 2026-12-03.
    Package("vega", "5.33.1", "sha512-1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw==",
            {"https://cdn.jsdelivr.net/npm/vega@5": "build/vega.min.js"}),
    Package("vega-lite", "5.23.0", "sha512-l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA==",
            {"https://cdn.jsdelivr.net/npm/vega-lite@5": "build/vega-lite.min.js"}),
    Package("vega-embed", "6.29.0", "sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q==",
            {"https://cdn.jsdelivr.net/npm/vega-embed@6": "build/vega-embed.min.js"}),
)
GX_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
"""Where GX's pages and styles take their logos from; each site has a copy in static/images."""


def fetch_assets(into: Path = ASSETS_FOLDER, packages: tuple[Package, ...] = PACKAGES,
                 registry: str = REGISTRY) -> list[Path]:
    """Download every package's files from the npm registry into ``into``, checking each tarball
    against its pinned hash; a package already there is kept. The folders written are returned."""
    written = []
    for package in packages:
        folder = into / package.name
        if (folder / ".version").is_file() and (folder / ".version").read_text() == package.version:
            continue
        tarball = _download(package, registry)
        part = folder.with_name(folder.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            wanted = set(package.files.values())
            for member in archive.getmembers():
                inner = member.name.split("/", 1)[1] if "/" in member.name else ""
                if member.isfile() and (inner in wanted or inner.startswith(tuple(f"{f}/" for f in package.folders))):
                    target = part / inner
                    if not target.resolve().is_relative_to(part.resolve()):
                        raise CrmQualityError(f"{package.name}@{package.version}: {member.name} lies outside the package")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.extractfile(member).read())
        missing = [name for name in package.files.values() if not (part / name).is_file()]
        if missing:
            raise CrmQualityError(f"{package.name}@{package.version} from {registry} lacks {', '.join(missing)}")
        (part / ".version").write_text(package.version)
        shutil.rmtree(folder, ignore_errors=True)
        part.rename(folder)
        written.append(folder)
    return written


def _download(package: Package, registry: str) -> bytes:
    url = f"{registry}/{package.name}/-/{package.name.split('/')[-1]}-{package.version}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            body = response.read()
    except OSError as error:
        raise CrmQualityError(f"cannot download {url}: {error}; Data Docs need their static files from the npm "
                              "registry once (crm-quality data-docs-assets)") from None
    digest = "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()
    if digest != package.integrity:
        raise CrmQualityError(f"{url} does not have the pinned hash {package.integrity} (got {digest}): not used")
    return body


def assets_ready(assets: Path = ASSETS_FOLDER) -> bool:
    return all((assets / package.name / ".version").is_file() for package in PACKAGES)


def localize(docs: Path, assets: Path = ASSETS_FOLDER) -> bool:
    """Copy the fetched files into ``docs``/_static and point every page under ``docs`` (and GX's
    styles) at them instead of the CDNs. False, and the pages left as GX wrote them, when the
    files were never fetched."""
    if not assets_ready(assets):
        return False
    static = docs / STATIC
    for package in PACKAGES:
        copied = static / package.name
        if not (copied / ".version").is_file() or (copied / ".version").read_text() != package.version:
            shutil.rmtree(copied, ignore_errors=True)
            shutil.copytree(assets / package.name, copied)
    for page in docs.rglob("*.html"):
        if STATIC not in page.relative_to(docs).parts:
            _point_at_copies(page, os.path.relpath(static, page.parent))
    for styles in docs.glob("*/static/styles/*.css"):
        text = styles.read_text(encoding="utf-8")
        if (local := _local_images(text, "../images")) != text:
            styles.write_text(local, encoding="utf-8")
    return True


def _point_at_copies(page: Path, static: str) -> None:
    text = original = page.read_text(encoding="utf-8")
    for package in PACKAGES:
        for url, name in package.files.items():
            local = f"{static}/{package.name}/{name}"
            # A pinned hash is the CDN file's; the copy was checked against the registry's.
            text = re.sub(rf'src="{re.escape(url)}"\s+integrity="[^"]*"\s+crossorigin="anonymous"',
                          f'src="{local}"', text)
            text = text.replace(f'"{url}"', f'"{local}"')
    images = _site_images(page)
    # GX counts the dots of a suite's name one short for the favicon of a validation page.
    text = re.sub(r'(?<=")(\.\./)*static/images/', f"{images}/", _local_images(text, images))
    if text != original:
        page.write_text(text, encoding="utf-8")


def _local_images(text: str, images: str) -> str:
    """GX's logos from S3 replaced by its own copy in the site (``images``, relative)."""
    return re.sub(re.escape(GX_IMAGES) + r"[\w.-]+(\?[^\"')\s]*)?", f"{images}/logo-long.png", text)


def _site_images(page: Path) -> str:
    """GX's own images folder of the site ``page`` belongs to, relative to the page."""
    for parent in page.parents:
        if (parent / "static" / "images").is_dir():
            return os.path.relpath(parent / "static" / "images", page.parent)
    return "static/images"


def build_site(context, folder: Path) -> None:
    """GX's site for the validations of ``context`` (an ephemeral GX context) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    context.update_data_docs_site("local_site", {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder.resolve())},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    context.build_data_docs(site_names=["local_site"])


def write_index(folder: Path) -> None:
    """A page linking each table's GX site (GX rebuilds a site's index from its own run only),
    saying for each which run it shows and how many of the table's checks are expectations."""
    items = []
    for table in sorted(p.parent.name for p in folder.glob("*/index.html") if p.parent.name != STATIC):
        shown = folder / table / SHOWN
        facts = json.loads(shown.read_text(encoding="utf-8")) if shown.is_file() else {}
        subset = (f": the {facts['expectations']} of its {facts['checks']} checks that are expectations, "
                  f"run {facts['run'] or 'outside a pipeline run'}" if facts else "")
        items.append(f'<li><a href="{html.escape(table)}/index.html">staged.{html.escape(table)}</a>'
                     f"{html.escape(subset)}</li>")
    offline = "" if (folder / STATIC).is_dir() else (
        "<p>These pages load their styles and scripts from CDNs: run <code>crm-quality data-docs-assets</code> "
        "once to have them served from here.</p>")
    page = ("<!doctype html><meta charset='utf-8'><title>crm-quality data docs</title>"
            "<h1>Great Expectations data docs</h1><p>Each table's page shows its checks that are Great "
            "Expectations expectations. Its other checks (keys, references, rules over several fields) are "
            "counted in DuckDB: every check, with the same counts, is on the staged/&lt;table&gt; asset in "
            "Dagster and in the quality report.</p>" + offline + "<ul>" + "\n".join(items) + "</ul>")
    tmp = folder / "index.html.part"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(folder / "index.html")
