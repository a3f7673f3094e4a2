"""What the public sees: the project library, public stand attributes, the public ledger
(issuances, retirements, certificates found by any serial) and the time the data stand at.

One module per surface's data; pages, the OGC API, tiles and open-data dumps all read through
these functions, so their counts agree. Household names, ID numbers and contacts never leave
through here (DEVELOPERS.md, privacy): a right holder is named only when it is a village
collective, a state forest farm or an enterprise."""

from registry.public.as_of import AuditHead, audit_head, data_as_of, head_key
from registry.public.geometry import (
    project_boundaries,
    projects_extent,
    projects_meeting,
    stands_extent,
)
from registry.public.ledger import (
    certificate_for_serial,
    issuances_page,
    retirements_page,
)
from registry.public.library import (
    LibraryQuery,
    ProjectCard,
    label_names,
    library_facets,
    library_page,
    project_card,
)
from registry.public.project_page import (
    ProjectPage,
    PublicEvent,
    exante_csv,
    project_page,
    stands_csv,
    withhold_household_names,
)
from registry.public.stands import PUBLIC_STAND_COLUMNS, public_owner, public_stands

__all__ = [
    "PUBLIC_STAND_COLUMNS",
    "AuditHead",
    "LibraryQuery",
    "ProjectCard",
    "ProjectPage",
    "PublicEvent",
    "audit_head",
    "certificate_for_serial",
    "data_as_of",
    "exante_csv",
    "head_key",
    "issuances_page",
    "label_names",
    "library_facets",
    "library_page",
    "project_boundaries",
    "project_card",
    "project_page",
    "projects_extent",
    "projects_meeting",
    "public_owner",
    "public_stands",
    "retirements_page",
    "stands_csv",
    "stands_extent",
    "withhold_household_names",
]
