"""Datasets a London council publishes. Every council gets the reference ones; each other
template is published by a deterministic share of the councils (see ``Template.coverage``)."""

from __future__ import annotations

from citydata.demo.templates import Link, Template

L = Link

#: Built from the reference data for every borough; the files are real.
REFERENCE_TEMPLATES: tuple[Template, ...] = (
    Template(
        slug="boundary",
        title="{place} borough boundary",
        summary=(
            "The boundary of {place}, as used for statistics. It is generalised to a "
            "resolution that suits maps of the whole borough, not surveying."
        ),
        details=(
            "one GeoJSON feature in WGS84 (longitude, latitude)",
            "the ONS GSS code of the borough ({gss})",
            "source: ONS statistical boundaries via the London Datastore",
        ),
        tags=("boundaries", "borough", "geography"),
        themes=("REGI", "GOVE"),
        frequency="irregular",
        start="2011-01-01",
        end="2025-03-31",
        generated=("borough_boundary",),
    ),
    Template(
        slug="lsoas",
        title="Lower layer super output areas (LSOAs) in {place}",
        summary=(
            "The lower layer super output areas (LSOAs) from the 2011 Census in {place}. "
            "LSOAs are small areas of about 1,500 residents used to publish statistics "
            "without identifying anyone."
        ),
        details=(
            "one row per LSOA: code, name and the centre point (latitude, longitude)",
            "the LSOA boundaries as GeoJSON",
        ),
        tags=("lsoa", "census", "geography", "small areas"),
        themes=("REGI", "SOCI"),
        frequency="never",
        start="2011-03-27",
        end="2021-03-20",
        generated=("borough_lsoas_csv", "borough_lsoas_geojson"),
    ),
    Template(
        slug="postcodes-by-ward",
        title="Postcodes by ward in {place}",
        summary=(
            "How many postcodes there are in each electoral ward of {place}, with the "
            "average position of the postcodes in each ward. Built from OS Code-Point Open."
        ),
        details=(
            "one row per ward: ward GSS code, number of postcodes, mean latitude and longitude",
            "postcodes without a grid reference are left out",
            "Contains OS data © Crown copyright and database right; Royal Mail data © "
            "Royal Mail copyright and database right; National Statistics data © Crown "
            "copyright and database right",
        ),
        tags=("postcodes", "wards", "geography"),
        themes=("REGI",),
        frequency="quarterly",
        licence="OS-OpenData",
        start="2025-01-01",
        end="2025-04-22",
        generated=("borough_postcodes_by_ward",),
    ),
)

#: Service data that councils publish in their own way; linked from their web sites.
SERVICE_TEMPLATES: tuple[Template, ...] = (
    Template(
        slug="planning-applications",
        title="Planning applications in {place}",
        summary=(
            "Every planning application {council} has received, with its decision once "
            "made. Updated each week from the planning register."
        ),
        details=(
            "reference, address, description of the proposal and application type",
            "dates received, validated and decided, and the decision",
            "the location of the site (easting, northing and latitude, longitude)",
        ),
        tags=("planning", "development", "planning applications"),
        themes=("REGI", "GOVE"),
        frequency="weekly",
        start="2010-04-01",
        links=(
            L("Planning applications (CSV)", "planning-applications.csv"),
            L("Planning applications (GeoJSON)", "planning-applications.geojson"),
        ),
        coverage=0.48,
    ),
    Template(
        slug="street-trees",
        title="Street trees in {place}",
        summary=(
            "The trees {council} looks after on streets, in housing estates and in its "
            "parks, from the council's tree management system."
        ),
        details=(
            "species (common and botanical name), height band and trunk diameter",
            "the date of the last inspection",
            "location of each tree",
        ),
        tags=("trees", "green infrastructure", "urban forest"),
        themes=("ENVI", "AGRI"),
        frequency="quarterly",
        start="2016-01-01",
        links=(L("Tree inventory (CSV)", "street-trees.csv"),),
        coverage=0.36,
    ),
    Template(
        slug="parking-bays",
        title="On-street parking bays in {place}",
        summary=(
            "The parking bays {council} manages on its roads: resident permit bays, pay and "
            "display, disabled, loading and car club bays, with their controlled hours."
        ),
        details=(
            "bay type, number of spaces and controlled parking zone",
            "hours of control and maximum stay",
            "bay geometry as lines",
        ),
        tags=("parking", "kerbside", "controlled parking zones"),
        themes=("TRAN",),
        frequency="monthly",
        start="2019-01-01",
        links=(L("Parking bays (GeoJSON)", "parking-bays.geojson"),),
        coverage=0.3,
    ),
    Template(
        slug="penalty-charge-notices",
        title="Parking and traffic penalty charge notices issued in {place}",
        summary=(
            "The number of penalty charge notices (PCNs) {council} issues each month, by "
            "contravention code and street. No personal data is included."
        ),
        details=(
            "month, contravention code and description",
            "street name and ward",
            "number of PCNs issued, cancelled and paid",
        ),
        tags=("parking", "enforcement", "penalty charge notices"),
        themes=("TRAN", "JUST"),
        frequency="monthly",
        start="2017-04-01",
        links=(L("PCNs by month (CSV)", "pcns-by-month.csv"),),
        coverage=0.3,
    ),
    Template(
        slug="fly-tipping-reports",
        title="Fly-tipping reports in {place}",
        summary=(
            "Reports of fly-tipping made to {council} by residents and street cleansing "
            "crews, and how quickly each was cleared."
        ),
        details=(
            "date reported and date cleared",
            "type and size of waste",
            "location, rounded to the nearest 100 metres",
        ),
        tags=("fly-tipping", "street cleansing", "waste"),
        themes=("ENVI",),
        frequency="monthly",
        start="2018-04-01",
        links=(L("Fly-tipping reports (CSV)", "fly-tipping.csv"),),
        coverage=0.36,
    ),
    Template(
        slug="spending-over-500",
        title="{council} spending over £500",
        summary=(
            "Every payment of £500 or more made by {council}, as the Local Government "
            "Transparency Code requires. Payments to individuals are not named."
        ),
        details=(
            "date, amount and supplier",
            "service area and expense type",
            "a transaction number that is unique within the council",
        ),
        tags=("spending", "transparency", "finance"),
        themes=("GOVE", "ECON"),
        frequency="monthly",
        start="2011-04-01",
        links=(L("Payments over £500 (CSV)", "spending-over-500.csv"),),
        coverage=0.54,
    ),
    Template(
        slug="premises-licences",
        title="Premises licences in {place}",
        summary=(
            "Pubs, bars, restaurants, shops and venues licensed by {council} to sell "
            "alcohol, serve late-night food or put on regulated entertainment."
        ),
        details=(
            "premises name and address",
            "licensable activities and permitted hours",
            "licence status and date granted",
        ),
        tags=("licensing", "alcohol", "night-time economy"),
        themes=("ECON", "JUST"),
        frequency="weekly",
        start="2005-11-24",
        links=(L("Premises licences (CSV)", "premises-licences.csv"),),
        coverage=0.3,
    ),
    Template(
        slug="public-toilets",
        title="Public toilets in {place}",
        summary=(
            "Toilets open to the public in {place}, including those in the Community "
            "Toilet Scheme run with local businesses."
        ),
        details=(
            "opening hours",
            "accessible and baby changing facilities, Changing Places",
            "whether a charge is made",
            "location",
        ),
        tags=("toilets", "accessibility", "public facilities"),
        themes=("SOCI", "HEAL"),
        frequency="irregular",
        start="2020-01-01",
        links=(L("Public toilets (CSV)", "public-toilets.csv"),),
        coverage=0.24,
    ),
    Template(
        slug="air-quality-diffusion-tubes",
        title="Nitrogen dioxide diffusion tube results in {place}",
        summary=(
            "Monthly nitrogen dioxide (NO2) readings from the diffusion tubes {council} "
            "puts up on lamp posts, with annual means bias-adjusted as Defra guidance asks."
        ),
        details=(
            "site code, location and height",
            "monthly NO2 concentration (µg/m³)",
            "annual mean, bias-adjusted",
        ),
        tags=("air quality", "nitrogen dioxide", "pollution"),
        themes=("ENVI", "HEAL"),
        frequency="monthly",
        start="2015-01-01",
        links=(L("Diffusion tube results (CSV)", "no2-diffusion-tubes.csv"),),
        coverage=0.42,
    ),
    Template(
        slug="libraries",
        title="Libraries in {place}",
        summary="Public libraries run by or for {council}, with opening hours and services.",
        details=("name, address and opening hours", "services such as study space and wifi"),
        tags=("libraries", "community facilities"),
        themes=("EDUC",),
        frequency="irregular",
        start="2019-01-01",
        links=(L("Libraries (CSV)", "libraries.csv"),),
        coverage=0.24,
    ),
    Template(
        slug="ev-charge-points",
        title="On-street electric vehicle charge points in {place}",
        summary=(
            "Charge points {council} has installed, or allowed operators to install, on "
            "its streets: lamp column, bollard and rapid chargers."
        ),
        details=("operator, connector types and power (kW)", "date commissioned", "location"),
        tags=("electric vehicles", "charging", "ev"),
        themes=("TRAN", "ENER"),
        frequency="monthly",
        start="2019-04-01",
        links=(L("Charge points (CSV)", "ev-charge-points.csv"),),
        coverage=0.3,
    ),
    Template(
        slug="food-hygiene-inspections",
        title="Food hygiene inspections in {place}",
        summary=(
            "The results of food hygiene inspections that {council} carries out in "
            "restaurants, cafes, takeaways, shops and schools."
        ),
        details=("business name, type and address", "inspection date and rating (0 to 5)"),
        tags=("food hygiene", "inspections", "environmental health"),
        themes=("HEAL",),
        frequency="weekly",
        start="2012-01-01",
        links=(L("Inspections (CSV)", "food-hygiene.csv"),),
        coverage=0.24,
    ),
    Template(
        slug="noise-complaints",
        title="Noise complaints in {place}",
        summary=(
            "Noise complaints made to {council}'s out-of-hours noise service, by ward and type."
        ),
        details=(
            "month, ward and noise type (music, building works, alarms, animals)",
            "number of complaints and of visits made",
        ),
        tags=("noise", "environmental health", "anti-social behaviour"),
        themes=("ENVI", "HEAL"),
        frequency="monthly",
        start="2016-04-01",
        links=(L("Noise complaints (CSV)", "noise-complaints.csv"),),
        coverage=0.24,
    ),
    Template(
        slug="business-rates",
        title="Business rates accounts in {place}",
        summary=(
            "Non-domestic properties that pay business rates to {council}, with rateable "
            "value and reliefs. Sole traders' names are withheld."
        ),
        details=(
            "property reference, address and description",
            "rateable value",
            "reliefs and exemptions",
        ),
        tags=("business rates", "non-domestic rates", "finance"),
        themes=("ECON", "GOVE"),
        frequency="monthly",
        start="2017-04-01",
        links=(L("Business rates (CSV)", "business-rates.csv"),),
        coverage=0.3,
    ),
    Template(
        slug="contracts-register",
        title="{council} contracts register",
        summary="Contracts {council} has let worth more than £5,000.",
        details=("title, supplier and value", "start and end dates and procurement route"),
        tags=("procurement", "contracts", "transparency"),
        themes=("GOVE", "ECON"),
        frequency="quarterly",
        start="2014-04-01",
        links=(L("Contracts register (CSV)", "contracts-register.csv"),),
        coverage=0.3,
    ),
    Template(
        slug="polling-stations",
        title="Polling stations in {place}",
        summary="Polling districts and polling stations used at elections in {place}.",
        details=("polling district code and ward", "polling station name, address and location"),
        tags=("elections", "polling stations", "democracy"),
        themes=("GOVE",),
        frequency="irregular",
        start="2022-05-05",
        links=(L("Polling stations (CSV)", "polling-stations.csv"),),
        coverage=0.18,
    ),
    Template(
        slug="allotments",
        title="Allotment sites in {place}",
        summary="Allotment sites in {place}, the number of plots and the waiting list.",
        details=("site name and location", "number of plots and waiting list length"),
        tags=("allotments", "food growing", "green spaces"),
        themes=("AGRI", "ENVI"),
        frequency="annual",
        start="2018-01-01",
        links=(L("Allotment sites (CSV)", "allotments.csv"),),
        coverage=0.18,
    ),
    Template(
        slug="energy-use-council-buildings",
        title="Energy use in {council} buildings",
        summary=(
            "Gas and electricity used in the council's offices, schools and leisure "
            "centres, with display energy certificate ratings."
        ),
        details=(
            "building, meter type and annual consumption (kWh)",
            "carbon emissions (tonnes CO2e)",
            "display energy certificate rating",
        ),
        tags=("energy", "carbon", "net zero"),
        themes=("ENER", "ENVI"),
        frequency="annual",
        start="2015-04-01",
        links=(L("Energy use (CSV)", "energy-use.csv"),),
        coverage=0.24,
    ),
    Template(
        slug="cycle-hangars",
        title="Cycle hangars in {place}",
        summary="Secure on-street cycle hangars in {place} and their waiting lists.",
        details=("hangar location and number of spaces", "waiting list length by hangar"),
        tags=("cycling", "cycle parking", "active travel"),
        themes=("TRAN",),
        frequency="monthly",
        access="registered",
        licence="OGL-UK-3.0",
        start="2019-01-01",
        links=(L("Cycle hangars (CSV)", "cycle-hangars.csv"),),
        coverage=0.24,
        access_note="Sign-in keeps the waiting list figures from being scraped in bulk.",
    ),
    Template(
        slug="housing-repairs",
        title="Housing repairs requests in {place}",
        summary=(
            "Repairs reported by council tenants and leaseholders to {council}, with "
            "the trade, priority and time taken to complete."
        ),
        details=("date reported and completed", "trade and priority", "estate and ward"),
        tags=("housing", "repairs", "council homes"),
        themes=("SOCI",),
        frequency="weekly",
        access="registered",
        start="2018-04-01",
        links=(L("Repairs (CSV)", "housing-repairs.csv"),),
        coverage=0.24,
    ),
    Template(
        slug="homelessness-assessments",
        title="Homelessness assessments in {place}",
        summary=(
            "Households assessed by {council} under the Homelessness Reduction Act, by "
            "ward, reason and outcome. Counts under 5 are suppressed."
        ),
        details=(
            "quarter, ward and main reason for homelessness",
            "duty owed (prevention or relief) and outcome",
        ),
        tags=("homelessness", "housing", "social care"),
        themes=("SOCI",),
        frequency="quarterly",
        access="shared",
        start="2018-04-01",
        links=(L("Assessments (CSV)", "homelessness-assessments.csv"),),
        coverage=0.24,
        access_note="It is shared with the GLA and the local NHS integrated care board.",
    ),
    Template(
        slug="adult-social-care-packages",
        title="Adult social care packages in {place}",
        summary=(
            "Care packages arranged by {council} for adults, by type of support and "
            "provider, for service planning."
        ),
        details=("package type, weekly hours and cost band", "provider and ward of residence"),
        tags=("social care", "adults", "care"),
        themes=("HEAL", "SOCI"),
        frequency="monthly",
        access="restricted",
        start="2019-04-01",
        links=(L("Care packages (CSV)", "care-packages.csv"),),
        generated=("care_packages",),
        coverage=0.18,
        access_note="It contains special category data; a DPIA is needed before any use.",
    ),
    Template(
        slug="cctv-cameras",
        title="Public space CCTV cameras in {place}",
        summary="The locations and fields of view of {council}'s public space CCTV cameras.",
        details=("camera identifier and location", "field of view and monitoring hours"),
        tags=("cctv", "community safety"),
        themes=("JUST",),
        frequency="irregular",
        access="restricted",
        start="2020-01-01",
        links=(L("Cameras (GeoJSON)", "cctv-cameras.geojson"),),
        coverage=0.18,
        access_note="Exact positions are shared with the police and emergency services only.",
    ),
    Template(
        slug="local-plan-evidence-draft",
        title="Draft local plan site allocations in {place}",
        summary=(
            "Sites {council} is assessing for its next local plan. The data is a working "
            "draft and will be published with the consultation."
        ),
        details=("site reference, boundary and current use", "indicative capacity"),
        tags=("local plan", "planning policy", "housing supply"),
        themes=("REGI",),
        frequency="irregular",
        access="private",
        start="2024-01-01",
        links=(L("Draft site allocations (GeoJSON)", "draft-site-allocations.geojson"),),
        coverage=0.12,
    ),
)
