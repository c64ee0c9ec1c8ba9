"""Sphinx configuration of the course website (``make site``; see ``build_site.py``).

The sources Sphinx reads are the staged copies in ``build/site-work/src``; this folder
(``site/``) is only the configuration, the landing page template and static files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from docutils import nodes

project = "Semantic segmentation with U-Nets"
author = "the course authors"
copyright = "the course authors. Code: Apache-2.0; text and figures: CC BY-SA 4.0"

extensions = ["myst_nb"]
exclude_patterns = ["_ipynb/**", "_static/**", "_mathjax_static/**", "**.ipynb_checkpoints"]
nb_execution_mode = "off"  # the notebooks were executed by `make run`; never here
nb_merge_streams = True
myst_enable_extensions = ["dollarmath"]  # the notebooks' $...$ as in Jupyter
suppress_warnings = ["mystnb.unknown_mime_type"]

html_theme = "sphinx_book_theme"
html_title = "U-Nets on Oxford-IIIT Pet"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = True  # the theme's download button offers the executed .ipynb
html_context = {"default_mode": "light"}  # no "invalid theme mode" on a first visit
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "extra_footer": (
        '<p class="course-licence">Code: '
        '<a href="https://www.apache.org/licenses/LICENSE-2.0">Apache License 2.0</a>. '
        "Text and figures: "
        '<a href="https://creativecommons.org/licenses/by-sa/4.0/">CC BY-SA 4.0</a>. '
        "Photos and trimaps in the figures: the Oxford-IIIT Pet dataset, O. M. Parkhi, "
        "A. Vedaldi, A. Zisserman and C. V. Jawahar, &ldquo;Cats and Dogs&rdquo;, "
        "IEEE CVPR 2012, "
        '<a href="https://www.robots.ox.ac.uk/~vgg/data/pets/">released under CC BY-SA 4.0</a>.'
        "</p>"
    ),
}

# MathJax 2 from the pinned jupyter-server-mathjax package: no CDN, the site works offline.
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processRefs": False,
        "processEnvironments": False,
    },
    # jupyter-server-mathjax ships the STIX-Web fonts only (as Jupyter configures them)
    "HTML-CSS": {
        "availableFonts": [],
        "webFont": "STIX-Web",
        "imageFont": None,
        "preferredFont": None,
    },
    "SVG": {"font": "STIX-Web"},
    "showMathMenu": False,
    "messageStyle": "none",
}


def _add_mathjax(app) -> None:
    import jupyter_server_mathjax

    folder = Path(app.srcdir) / "_mathjax_static"
    if not (folder / "mathjax").is_dir():
        shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", folder / "mathjax")
    app.config.html_static_path.append(str(folder))


def _image_alt(app, doctree) -> None:
    """Give every notebook figure the alt text seglib generated with it.

    ``build_site.py`` collects ``{sha256 of the image bytes: alt}`` from the notebooks'
    output metadata into ``alt_texts.json``; MyST-NB writes each output image to a file,
    so the image node's file is hashed and looked up. An image already given an alt text
    (Markdown ``![alt](...)``) keeps it.
    """
    table_path = Path(app.srcdir) / "alt_texts.json"
    if not table_path.is_file():
        return
    table = json.loads(table_path.read_text(encoding="utf-8"))
    for image in doctree.findall(nodes.image):
        if image.get("alt"):
            continue
        uri = image.get("uri", "")
        for path in (Path(uri), Path(app.srcdir) / uri.lstrip("/")):
            if path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if digest in table:
                    image["alt"] = table[digest]
                break


def setup(app):
    app.connect("builder-inited", _add_mathjax)
    app.connect("doctree-read", _image_alt)
    return {"parallel_read_safe": True}
