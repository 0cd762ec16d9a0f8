"""Great Expectations' site builder without its copy of `static/` into every build.

GX's `SiteBuilder.build` copies its whole static folder (4.7 MB of fonts and images, of
which the pages use a favicon and a logo) into the site on every build, so each nightly
batch folder carried a copy. The pages of this site load their assets from the shared
`data_docs/_static/` instead (`data_docs.make_offline`), so the copy is skipped.

Imported by Great Expectations when it builds the site (`module_name` in the site's
config), never by the pipeline at start-up: importing GX takes seconds.
"""

from __future__ import annotations

from typing import Any

from great_expectations.render.renderer.site_builder import SiteBuilder


class OfflineSiteBuilder(SiteBuilder):
    """`SiteBuilder.build` less `target_store.copy_static_assets()`."""

    def build(self, resource_identifiers: Any = None, build_index: bool = True) -> Any:
        for section_builder in self.site_section_builders.values():
            section_builder.build(resource_identifiers=resource_identifiers)
        _, index_links_dict = self.site_index_builder.build(build_index=build_index)
        return self.get_resource_url(only_if_exists=False), index_links_dict
