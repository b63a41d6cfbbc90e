"""Each cluster's own time zone, for policies whose maintenance says ``timezone: cluster``.

A cluster's zone is, in order:

1. its label ``fleet.dev/timezone`` (an IANA name, e.g. ``Europe/Berlin``), when set. Where the cloud's label
   syntax forbids ``/`` and capitals (GKE labels), write ``/`` as ``--`` in lower case: ``europe--berlin``,
   ``america--new_york``. A label naming no zone makes the cluster's zone unknown (blocked, with the reason);
2. the IANA zone of its cloud region, from the table below (EKS, GKE, AKS, OKE regions). The region is read
   from the cluster's location: a GKE zone ``europe-west3-a`` is its region ``europe-west3``; an EKS location
   ``alias:eu-central-1`` is ``eu-central-1``; an AKS location is compared without spaces or case
   (``West Europe`` = ``westeurope``).

Otherwise it has none, and the planner blocks the cluster with the reason (a window that means "Saturday
01:00 local" is not guessed).

Sources of the table (the cloud's own list of regions and where each one is):

* EKS (AWS): "AWS Regions" https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html
  (region code and geographic location, e.g. ``eu-central-1`` Europe (Frankfurt)).
* GKE (Google Cloud): "Regions and zones" https://cloud.google.com/compute/docs/regions-zones (region name and
  location, e.g. ``europe-west3`` Frankfurt, Germany).
* AKS (Azure): "Azure regions list" https://learn.microsoft.com/azure/reliability/regions-list (programmatic
  name and physical location, e.g. ``germanywestcentral`` Frankfurt).
* OKE (Oracle Cloud): "Regions and Availability Domains"
  https://docs.oracle.com/iaas/Content/General/Concepts/regions.htm (region identifier and location, e.g.
  ``eu-frankfurt-1`` Germany Central (Frankfurt)).

How city -> zone was derived: each region's documented city (or state) was mapped by hand to the IANA zone
whose area contains it, from the tz database's ``zone1970.tab`` (the zone of the country or, in countries
with several zones, of that state or province: Virginia and Ohio -> America/New_York, Iowa and Texas ->
America/Chicago, Oregon and California -> America/Los_Angeles, Utah -> America/Denver, Arizona ->
America/Phoenix, Québec -> America/Toronto, New South Wales -> Australia/Sydney, Victoria ->
Australia/Melbourne, ...). Regions whose location is a state rather than a city take that state's zone.
DST follows the zone's rules (zoneinfo), as everywhere else. docs/rollout.md shows how to override a
cluster's zone with the label; a region missing here is a block with that advice, never a silent UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

TIMEZONE_LABEL = "fleet.dev/timezone"

# ---- EKS (AWS regions) ----------------------------------------------------------------------------------
AWS: dict[str, str] = {
    "us-east-1": "America/New_York",        # N. Virginia
    "us-east-2": "America/New_York",        # Ohio
    "us-west-1": "America/Los_Angeles",     # N. California
    "us-west-2": "America/Los_Angeles",     # Oregon
    "af-south-1": "Africa/Johannesburg",    # Cape Town
    "ap-east-1": "Asia/Hong_Kong",
    "ap-south-1": "Asia/Kolkata",           # Mumbai
    "ap-south-2": "Asia/Kolkata",           # Hyderabad
    "ap-southeast-1": "Asia/Singapore",
    "ap-southeast-2": "Australia/Sydney",
    "ap-southeast-3": "Asia/Jakarta",
    "ap-southeast-4": "Australia/Melbourne",
    "ap-southeast-5": "Asia/Kuala_Lumpur",  # Malaysia
    "ap-southeast-7": "Asia/Bangkok",       # Thailand
    "ap-northeast-1": "Asia/Tokyo",
    "ap-northeast-2": "Asia/Seoul",
    "ap-northeast-3": "Asia/Tokyo",         # Osaka
    "ca-central-1": "America/Toronto",      # Canada (Central), Montréal
    "ca-west-1": "America/Edmonton",        # Calgary
    "eu-central-1": "Europe/Berlin",        # Frankfurt
    "eu-central-2": "Europe/Zurich",
    "eu-west-1": "Europe/Dublin",           # Ireland
    "eu-west-2": "Europe/London",
    "eu-west-3": "Europe/Paris",
    "eu-south-1": "Europe/Rome",            # Milan
    "eu-south-2": "Europe/Madrid",          # Spain
    "eu-north-1": "Europe/Stockholm",
    "il-central-1": "Asia/Jerusalem",       # Tel Aviv
    "me-south-1": "Asia/Bahrain",
    "me-central-1": "Asia/Dubai",           # UAE
    "mx-central-1": "America/Mexico_City",  # Mexico (Central)
    "sa-east-1": "America/Sao_Paulo",
    "us-gov-east-1": "America/New_York",    # GovCloud (US-East), Ohio
    "us-gov-west-1": "America/Los_Angeles",  # GovCloud (US-West), Oregon
}

# ---- GKE (Google Cloud regions) --------------------------------------------------------------------------
GCP: dict[str, str] = {
    "africa-south1": "Africa/Johannesburg",
    "asia-east1": "Asia/Taipei",            # Changhua County, Taiwan
    "asia-east2": "Asia/Hong_Kong",
    "asia-northeast1": "Asia/Tokyo",
    "asia-northeast2": "Asia/Tokyo",        # Osaka
    "asia-northeast3": "Asia/Seoul",
    "asia-south1": "Asia/Kolkata",          # Mumbai
    "asia-south2": "Asia/Kolkata",          # Delhi
    "asia-southeast1": "Asia/Singapore",    # Jurong West
    "asia-southeast2": "Asia/Jakarta",
    "australia-southeast1": "Australia/Sydney",
    "australia-southeast2": "Australia/Melbourne",
    "europe-central2": "Europe/Warsaw",
    "europe-north1": "Europe/Helsinki",     # Hamina, Finland
    "europe-north2": "Europe/Stockholm",
    "europe-southwest1": "Europe/Madrid",
    "europe-west1": "Europe/Brussels",      # St. Ghislain, Belgium
    "europe-west2": "Europe/London",
    "europe-west3": "Europe/Berlin",        # Frankfurt
    "europe-west4": "Europe/Amsterdam",     # Eemshaven, Netherlands
    "europe-west6": "Europe/Zurich",
    "europe-west8": "Europe/Rome",          # Milan
    "europe-west9": "Europe/Paris",
    "europe-west10": "Europe/Berlin",
    "europe-west12": "Europe/Rome",         # Turin
    "me-central1": "Asia/Qatar",            # Doha
    "me-central2": "Asia/Riyadh",           # Dammam
    "me-west1": "Asia/Jerusalem",           # Tel Aviv
    "northamerica-northeast1": "America/Toronto",   # Montréal
    "northamerica-northeast2": "America/Toronto",
    "northamerica-south1": "America/Mexico_City",   # Querétaro
    "southamerica-east1": "America/Sao_Paulo",      # Osasco
    "southamerica-west1": "America/Santiago",
    "us-central1": "America/Chicago",       # Council Bluffs, Iowa
    "us-east1": "America/New_York",         # Moncks Corner, South Carolina
    "us-east4": "America/New_York",         # Ashburn, Virginia
    "us-east5": "America/New_York",         # Columbus, Ohio
    "us-south1": "America/Chicago",         # Dallas
    "us-west1": "America/Los_Angeles",      # The Dalles, Oregon
    "us-west2": "America/Los_Angeles",      # Los Angeles
    "us-west3": "America/Denver",           # Salt Lake City
    "us-west4": "America/Los_Angeles",      # Las Vegas, Nevada
}

# ---- AKS (Azure regions, programmatic names) ----------------------------------------------------------------
AZURE: dict[str, str] = {
    "australiacentral": "Australia/Sydney",     # Canberra
    "australiacentral2": "Australia/Sydney",
    "australiaeast": "Australia/Sydney",        # New South Wales
    "australiasoutheast": "Australia/Melbourne",  # Victoria
    "austriaeast": "Europe/Vienna",
    "belgiumcentral": "Europe/Brussels",
    "brazilsouth": "America/Sao_Paulo",
    "brazilsoutheast": "America/Sao_Paulo",     # Rio
    "canadacentral": "America/Toronto",
    "canadaeast": "America/Toronto",            # Quebec City
    "centralindia": "Asia/Kolkata",             # Pune
    "centralus": "America/Chicago",             # Iowa
    "chilecentral": "America/Santiago",
    "eastasia": "Asia/Hong_Kong",
    "eastus": "America/New_York",               # Virginia
    "eastus2": "America/New_York",              # Virginia
    "francecentral": "Europe/Paris",
    "francesouth": "Europe/Paris",              # Marseille
    "germanynorth": "Europe/Berlin",
    "germanywestcentral": "Europe/Berlin",      # Frankfurt
    "indonesiacentral": "Asia/Jakarta",
    "israelcentral": "Asia/Jerusalem",
    "italynorth": "Europe/Rome",                # Milan
    "japaneast": "Asia/Tokyo",
    "japanwest": "Asia/Tokyo",                  # Osaka
    "koreacentral": "Asia/Seoul",
    "koreasouth": "Asia/Seoul",                 # Busan
    "malaysiawest": "Asia/Kuala_Lumpur",
    "mexicocentral": "America/Mexico_City",     # Querétaro
    "newzealandnorth": "Pacific/Auckland",
    "northcentralus": "America/Chicago",        # Illinois
    "northeurope": "Europe/Dublin",             # Ireland
    "norwayeast": "Europe/Oslo",
    "norwaywest": "Europe/Oslo",                # Stavanger
    "polandcentral": "Europe/Warsaw",
    "qatarcentral": "Asia/Qatar",
    "southafricanorth": "Africa/Johannesburg",
    "southafricawest": "Africa/Johannesburg",   # Cape Town
    "southcentralus": "America/Chicago",        # Texas
    "southeastasia": "Asia/Singapore",
    "southindia": "Asia/Kolkata",               # Chennai
    "spaincentral": "Europe/Madrid",
    "swedencentral": "Europe/Stockholm",        # Gävle
    "switzerlandnorth": "Europe/Zurich",
    "switzerlandwest": "Europe/Zurich",         # Geneva
    "uaecentral": "Asia/Dubai",                 # Abu Dhabi
    "uaenorth": "Asia/Dubai",
    "uksouth": "Europe/London",
    "ukwest": "Europe/London",                  # Cardiff
    "westcentralus": "America/Denver",          # Wyoming
    "westeurope": "Europe/Amsterdam",           # Netherlands
    "westindia": "Asia/Kolkata",                # Mumbai
    "westus": "America/Los_Angeles",            # California
    "westus2": "America/Los_Angeles",           # Washington
    "westus3": "America/Phoenix",               # Arizona
}

# ---- OKE (Oracle Cloud regions, identifiers) ------------------------------------------------------------------
OCI: dict[str, str] = {
    "af-johannesburg-1": "Africa/Johannesburg",
    "ap-chuncheon-1": "Asia/Seoul",
    "ap-hyderabad-1": "Asia/Kolkata",
    "ap-melbourne-1": "Australia/Melbourne",
    "ap-mumbai-1": "Asia/Kolkata",
    "ap-osaka-1": "Asia/Tokyo",
    "ap-seoul-1": "Asia/Seoul",
    "ap-singapore-1": "Asia/Singapore",
    "ap-singapore-2": "Asia/Singapore",
    "ap-sydney-1": "Australia/Sydney",
    "ap-tokyo-1": "Asia/Tokyo",
    "ca-montreal-1": "America/Toronto",
    "ca-toronto-1": "America/Toronto",
    "eu-amsterdam-1": "Europe/Amsterdam",
    "eu-frankfurt-1": "Europe/Berlin",
    "eu-madrid-1": "Europe/Madrid",
    "eu-marseille-1": "Europe/Paris",
    "eu-milan-1": "Europe/Rome",
    "eu-paris-1": "Europe/Paris",
    "eu-stockholm-1": "Europe/Stockholm",
    "eu-zurich-1": "Europe/Zurich",
    "il-jerusalem-1": "Asia/Jerusalem",
    "me-abudhabi-1": "Asia/Dubai",
    "me-dubai-1": "Asia/Dubai",
    "me-jeddah-1": "Asia/Riyadh",
    "me-riyadh-1": "Asia/Riyadh",
    "mx-monterrey-1": "America/Monterrey",
    "mx-queretaro-1": "America/Mexico_City",
    "sa-bogota-1": "America/Bogota",
    "sa-santiago-1": "America/Santiago",
    "sa-saopaulo-1": "America/Sao_Paulo",
    "sa-valparaiso-1": "America/Santiago",
    "sa-vinhedo-1": "America/Sao_Paulo",
    "uk-cardiff-1": "Europe/London",
    "uk-london-1": "Europe/London",
    "us-ashburn-1": "America/New_York",
    "us-chicago-1": "America/Chicago",
    "us-phoenix-1": "America/Phoenix",
    "us-sanjose-1": "America/Los_Angeles",
}

# every table's region names are distinct from the others' (tests/rollout/test_zones.py checks it)
REGION_ZONES: dict[str, str] = {**AWS, **GCP, **AZURE, **OCI}
_GCP_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")


def region_of(location: str) -> str:
    """The region a cluster location names (see the module docstring)."""
    loc = location.rsplit(":", 1)[-1].strip()
    m = _GCP_ZONE.match(loc)
    if m and m.group(1) in GCP:
        return m.group(1)
    if loc.lower().replace(" ", "") in AZURE:
        return loc.lower().replace(" ", "")
    return loc


@lru_cache(maxsize=1)
def _zones_by_lower() -> dict[str, str]:
    return {z.lower(): z for z in available_timezones()}


def zone_from_label(value: str) -> str | None:
    """The IANA zone a label value names (``Europe/Berlin`` or ``europe--berlin``), None when it names none."""
    return _zones_by_lower().get(value.strip().lower().replace("--", "/"))


def cluster_zone(location: str, labels: Mapping[str, Any]) -> str | None:
    """The IANA zone of a cluster: its ``fleet.dev/timezone`` label, else its region's; None when unknown."""
    label = labels.get(TIMEZONE_LABEL)
    if label:
        return zone_from_label(str(label))
    return REGION_ZONES.get(region_of(location))
