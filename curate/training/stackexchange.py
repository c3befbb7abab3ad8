"""StackExchange site -> quality category (`stem`, `life`, `hum`, `pop`).

Kyutai's labels group StackExchange sites into STEM, life & arts, humanities and culture &
recreation. The map below is ours (StackExchange's own site categories, adjusted to those four
groups); classifiers/README.md shows it as a table. A meta site (`meta.history...`) takes the
category of its main site. Sites not in the map are reported and skipped unless given with
`--site-category SITE=CATEGORY`.

The site of a dump is read from its path: the first `<site>.stackexchange.com`, `<site>.com` or
`<site>.net` found in the file name or its parent folders (`coffee.stackexchange.com_Posts.xml`,
`coffee.stackexchange.com/Posts.xml`, `futon6_mathoverflow.net__x.jsonl`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from curate.training.readers import detect_format, iter_files

STEM = (
    "stackoverflow.com superuser.com serverfault.com askubuntu.com mathoverflow.net stackapps.com "
    "math stats physics chemistry biology cs cstheory datascience ai genai electronics engineering dsp "
    "softwareengineering programmers unix apple android tex gis dba security crypto codereview gamedev "
    "webapps webmasters networkengineering quant astronomy earthscience bioinformatics robotics mathematica "
    "matheducators cseducators scicomp space quantumcomputing raspberrypi arduino blender ux sqa salesforce "
    "sharepoint wordpress drupal magento ethereum bitcoin reverseengineering retrocomputing hardwarerecs "
    "softwarerecs emacs vi devops iot 3dprinting opendata or computergraphics materials proofassistants "
    "codegolf cogsci psychology medicalsciences ham"
)
LIFE = (
    "cooking coffee beer tea diy gardening pets fitness health parenting outdoors bicycles photo graphicdesign "
    "woodworking crafts sustainability lifehacks expatriates money interpersonal homebrew vegetarianism "
    "martialarts mechanics sound video avp workplace freelancing pm sewing travel"
)
HUM = (
    "history philosophy linguistics english ell literature christianity judaism islam hinduism buddhism "
    "hermeneutics law politics economics academia writing latin german french spanish japanese chinese "
    "russian italian portuguese ukrainian esperanto korean conlang mythology genealogy hsm skeptics music "
    "religion"
)
POP = "gaming arqade scifi movies anime boardgames rpg puzzling chess musicfans sports poker worldbuilding bricks lego aviation"

SITE_CATEGORIES: dict[str, str] = {
    site: category for category, sites in (("stem", STEM), ("life", LIFE), ("hum", HUM), ("pop", POP)) for site in sites.split()
}

_SITE = re.compile(r"((?:[a-z0-9-]+\.)*[a-z0-9-]+\.(?:stackexchange\.com|com|net))", re.IGNORECASE)


def site_of(path: str | Path) -> str | None:
    """The StackExchange site named in a dump's path, or None."""
    for part in reversed(Path(path).parts):
        match = _SITE.search(part)
        if match:
            return match.group(1).lower()
    return None


def site_key(site: str) -> str:
    """`meta.history.stackexchange.com` -> `history`; `mathoverflow.net` stays as it is."""
    site = site.lower().removeprefix("meta.")
    return site.removesuffix(".stackexchange.com")


def category_of_site(site: str, overrides: Mapping[str, str] | None = None) -> str | None:
    overrides = {site_key(k): v for k, v in (overrides or {}).items()}
    key = site_key(site)
    return overrides.get(key) or SITE_CATEGORIES.get(key)


def stackexchange_categories(
    root: str | Path, overrides: Mapping[str, str] | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """Sort the dumps under `root` by category: ({category: [files]}, [files of unknown sites]).
    A dump is a `Posts.xml` or a JSON-lines thread file whose path names its site."""
    found: dict[str, list[str]] = {}
    unknown: list[str] = []
    for path in iter_files(root):
        if detect_format(path) not in ("stackexchange", "jsonl", "json"):
            continue
        site = site_of(path.relative_to(root) if Path(root).is_dir() else path)
        category = category_of_site(site, overrides) if site else None
        if category is None:
            unknown.append(str(path))
        else:
            found.setdefault(category, []).append(str(path))
    return found, unknown
