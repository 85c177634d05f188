"""A believable sample company for demos, tests and benchmarks.

"Example Medtech" distributes medical and industrial equipment, consumables and
spare parts, and sells inventory software and services next to them.  Its ERP
knows orders, invoices, products, stock and framework contracts; its CRM knows
accounts, contacts, a pipeline of deals, leads, the activity log and a content
library.  `generate_company` returns all twelve canonical tables (see
`stepwise.engine.records.TABLES`) as string frames, exactly as a CSV export
would hold them, and `write_company` writes them as one `<table>.csv` each.

The data is random but deliberately holds the situations the engine must act
on, each computable from the tables alone relative to the as-of day:

- recurring order cadences: most accounts on rhythm, some due now, some whose
  rhythm broke (churn risk); "Alfa Distribution SRL" (ACC-0001) orders every
  35-45 days, last 38 days ago, pays on time, has a contract with a 5% discount
  cap and no extended terms, and has never bought a product compatible with
  its main one (seed 002);
- an order history as hard as real B2B wholesale data (see
  bench/sample_realism.py): days between orders as noisy as a real
  distributor's (per-account coefficient of variation around 0.65: a
  moderately regular rhythm of main orders plus top-up orders a few days
  after some of them), about fifteen products per order from a
  catalogue of some 560 (the named families plus product lines of variants and
  pack sizes), and only about 31% of lines re-buying a product the account
  bought before.  It is learnable, not noise: each account re-buys a core
  basket with its own propensities and works through the rest of the
  catalogue in the order of its industry's favourite lines, a line's products
  together, the products everyone buys most first;
- overdue invoices (over and under 30 days), stock-outs with in-stock
  substitutes, low-margin products, enterprise-only products, contracts up for
  renewal within 60 days;
- open deals that are stuck in stage, slipped past their close date, have an
  unanswered quote, a demo without follow-up, declining engagement, no touch
  in over a week, or only a champion engaged; activity text mentioning budget,
  competitors, timelines, pricing, discounts, security, integration, pilots,
  legal review, executive sign-off, objections and pain, sometimes negated
  (seed 001);
- leads with web visits, among them one with six visits to cloud-migration
  pages in the last week and several with pricing visits and a demo request
  (seed 000);
- deal outcomes a win model can learn, but not read off: each deal has a
  hidden health (part the account relationship, part the deal) that shows,
  with noise, in its activity before the close — more of the buyer's side
  writing in, the economic buyer reached rather than the champion alone,
  demos held, fewer concerns left open — and a closed deal is won with a
  probability rising with that health, falling with a competitor in play and a
  deal large for its segment, higher for ordering customers; lost deals drag on
  longer.  About 45% of closed deals are won.

Everything is drawn from `numpy.random.default_rng(seed)` (and, for deal
health and its traces and for the catalogue's long tail, two more streams from
the same seed) in a fixed order, so
the same (as_of, accounts, seed) gives byte-identical CSVs.  Rows are built as
whole columns (no Python loop per deal, activity or order line) so 20,000
accounts, about two million activities and four million order lines, take
seconds rather than hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from stepwise.engine.records import TABLES, as_utc

__all__ = ["generate_company", "write_company"]

DAY = 86_400
SITE = "https://example-medtech.com"
ALFA_NAME = "Alfa Distribution SRL"
COMPETITORS = ("Vantor", "Medisys", "Quantrix")
INDUSTRIES = ("healthcare", "manufacturing", "logistics", "retail", "professional_services", "software")
SEGMENTS = ("enterprise", "mid_market", "smb")
STAGES = ("prospecting", "discovery", "proposal", "negotiation", "closed_won", "closed_lost")
ACTIVITY_TYPES = ("email", "call", "meeting", "note", "quote_sent", "demo", "task", "web_visit")
ROLES = ("champion", "economic_buyer", "technical_buyer", "user", "other")
REPS = 12
ERPS = ("SAP S/4HANA", "Microsoft Dynamics 365", "Oracle NetSuite", "Odoo", "Sage X3")

_COUNTRIES = ("RO", "IT", "DE", "FR", "ES", "NL", "PL", "AT", "GB")
_COUNTRY_P = (0.20, 0.15, 0.15, 0.10, 0.10, 0.08, 0.08, 0.06, 0.08)
_LEGAL = ("SRL", "S.r.l.", "GmbH", "SAS", "S.L.", "B.V.", "Sp. z o.o.", "GmbH", "Ltd")
_TLD = ("ro", "it", "de", "fr", "es", "nl", "pl", "at", "co.uk")
_STEMS = (
    "Nordwell", "Carpathia", "Danubia", "Brightmoor", "Silverline", "Helixa", "Meridian", "Vitalis",
    "Orion", "Altura", "Bellmed", "Corvia", "Lumen", "Stellar", "Ardent", "Bluegate", "Cedar", "Everest",
    "Fjordline", "Granite", "Harbor", "Ionic", "Juniper", "Keystone", "Larch", "Mistral", "Novara",
    "Oakridge", "Pinnacle", "Quarry", "Redwood", "Solace", "Terra", "Valora", "Westbrook", "Yarrow",
    "Zenith", "Aurora", "Borealis", "Castellan", "Driftwood", "Emberly", "Falcon", "Greystone",
    "Ironbridge", "Jasper", "Kestrel", "Lindenhof", "Montclair", "Northgate", "Oberon", "Pavia",
    "Riverton", "Sorin", "Verdant", "Wexford", "Sanitas", "Medora", "Clarion", "Astera",
)
_KINDS = (
    ("Medical", "Clinics", "Hospital Group", "Health Supplies"),
    ("Industries", "Manufacturing", "Precision Works", "Components"),
    ("Logistics", "Freight", "Supply Chain", "Distribution"),
    ("Pharmacies", "Retail", "Stores", "Drugstores"),
    ("Consulting", "Advisory", "Partners", "Services"),
    ("Software", "Systems", "Digital", "Labs"),
)
_REGIONS = (
    "North", "South", "East", "West", "Central", "Adriatic", "Alpine", "Baltic", "Danube", "Rhine",
    "Coastal", "Valley", "Highlands", "Metro", "Lakeside", "Riverside", "Capital", "Border", "Delta", "Plains",
)
_FIRST = (
    "Elena", "Andrei", "Maria", "Luca", "Sofia", "Jonas", "Claire", "Pablo", "Anna", "Tomasz", "Sarah",
    "Mihai", "Giulia", "Felix", "Lea", "Diego", "Eva", "Piotr", "Emma", "Stefan", "Ioana", "Marco", "Laura",
    "Jan", "Camille", "Javier", "Katarzyna", "Oliver", "Ana", "Matteo", "Hannah", "Radu", "Chiara", "Lukas",
    "Ines", "Marta", "Victor", "Nora", "Bogdan", "Alice",
)
_LAST = (
    "Popescu", "Rossi", "Muller", "Martin", "Garcia", "de Vries", "Kowalski", "Huber", "Smith", "Ionescu",
    "Bianchi", "Schmidt", "Bernard", "Lopez", "Jansen", "Nowak", "Gruber", "Jones", "Constantin", "Romano",
    "Fischer", "Dubois", "Sanchez", "Bakker", "Wisniewski", "Wagner", "Taylor", "Stan", "Ricci", "Weber",
    "Moreau", "Fernandez", "Visser", "Lewandowski", "Bauer", "Brown", "Dumitru", "Greco", "Becker", "Laurent",
)
_ROLE_TITLES = (
    ("Head of Operations", "Purchasing Manager", "Supply Chain Manager", "Head of Biomedical Engineering",
     "Operations Director"),
    ("CFO", "VP Finance", "Head of Procurement", "Managing Director", "Chief Operating Officer"),
    ("IT Director", "Head of IT", "CTO", "IT Architect", "Biomedical Engineering Lead"),
    ("Warehouse Supervisor", "Nurse Manager", "Buyer", "Inventory Planner", "Lab Technician"),
    ("Quality Manager", "Legal Counsel", "Executive Assistant", "Office Manager", "Compliance Officer"),
)
_LEAD_TITLES = (  # rows: C-level, VP, Director, Manager, Analyst
    ("CEO", "CFO", "CIO", "COO"),
    ("VP Operations", "VP Supply Chain", "VP Information Technology", "VP Procurement"),
    ("IT Director", "Director of Procurement", "Director of Nursing", "Logistics Director"),
    ("Purchasing Manager", "Warehouse Manager", "IT Manager", "Pharmacy Manager"),
    ("Supply Chain Analyst", "Procurement Analyst", "Business Analyst", "Data Analyst"),
)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")

# Product families: equipment, its main consumable, a companion consumable
# (compatible with the main one: the natural cross-sell), a spare part.
_FAMILIES = (
    ("Infusion Pump IP-200", "Sterile Infusion Set IS-200", "Extension Line EL-200", "IP-200 Battery Pack"),
    ("Patient Monitor PM-5", "ECG Electrodes (pack of 50)", "SpO2 Sensor Disposable", "PM-5 Display Module"),
    ("Autoclave AC-60", "Sterilization Pouches 200x300", "Indicator Strips Class 5", "AC-60 Door Gasket"),
    ("Ultrasound Scanner US-30", "Ultrasound Gel 5L", "Probe Covers (box of 100)", "US-30 Linear Probe"),
    ("Syringe Pump SP-10", "Syringe 50ml Luer Lock (box of 60)", "Pressure Line 150cm", "SP-10 Drive Motor"),
    ("Suction Unit SU-40", "Suction Liner 2L", "Yankauer Suction Tube", "SU-40 Vacuum Regulator"),
    ("Lab Analyzer LA-9", "Reagent Kit LA-9 (200 tests)", "Sample Cups 2ml (bag of 1000)", "LA-9 Pipetting Needle"),
    ("Barcode Scanner BS-7", "Thermal Labels 50x30 (roll)", "Patient Wristband Labels", "BS-7 Charging Cradle"),
    ("Label Printer LP-400", "Wax-Resin Ribbon 110mm", "Polyester Labels 100x50", "LP-400 Printhead"),
    ("Defibrillator AED-3", "AED-3 Electrode Pads Adult", "AED-3 Pediatric Pads", "AED-3 Battery"),
    ("Nebulizer NB-2", "Nebulizer Mask Kit", "Medication Cup 10ml", "NB-2 Compressor Filter"),
    ("Hospital Bed HB-90", "Disposable Mattress Cover", "Single-use Bed Sheet", "HB-90 Actuator"),
)
_ECONOMY = 6  # families 0..5 also sell an economy variant of the main consumable (its substitute)
_SERVICES = ("Installation & Commissioning", "Preventive Maintenance Plan (annual)",
             "Stepwise Inventory Cloud (annual licence)", "ERP Integration Package", "Staff Training Day",
             "Cloud Migration Service")
_ENTERPRISE_ONLY = ("Ultrasound Scanner US-30", "Lab Analyzer LA-9", "LA-9 Pipetting Needle",
                    "ERP Integration Package", "Cloud Migration Service")
_FAMILY_P = (0.16, 0.16) + (0.068,) * 10  # the two families the named situations rely on are common
_ALFA_FAMILY, _STOCKOUT_FAMILY = 0, 1
# Where the named families sell most (index into INDUSTRIES): medical ones to healthcare, scanning and
# labelling to logistics and retail.
_FAMILY_INDUSTRY = (0, 0, 0, 0, 0, 0, 0, 2, 3, 4, 0, 0)
# The long tail: product lines of 12 products each (4 variants x 3 pack sizes), with the industry that
# buys each line most.  They carry no compatibility links; what ties them together is that accounts buy
# a line's products together and an industry favours its own lines.
_LINES = (
    ("Nitrile Examination Gloves", "consumables", 0), ("Surgical Face Masks", "consumables", 0),
    ("Gauze Swabs", "consumables", 0), ("Wound Dressings", "consumables", 0), ("IV Cannulas", "consumables", 0),
    ("Urinary Catheters", "consumables", 0), ("Blood Collection Tubes", "consumables", 0),
    ("Specimen Containers", "consumables", 0), ("Suture Kits", "consumables", 0),
    ("Alcohol Prep Pads", "consumables", 3), ("Elastic Bandages", "consumables", 3),
    ("Disinfectant Wipes", "consumables", 4), ("Hand Sanitizer", "consumables", 4),
    ("Sharps Containers", "consumables", 0), ("Oxygen Masks", "consumables", 0),
    ("Glucose Test Strips", "consumables", 3), ("Isolation Gowns", "consumables", 0),
    ("Examination Couch Rolls", "consumables", 4), ("Cleaning Concentrate", "consumables", 4),
    ("Waste Bags", "consumables", 2), ("Shipping Cartons", "consumables", 2), ("Stretch Film", "consumables", 2),
    ("Packing Tape", "consumables", 2), ("Cable Ties", "consumables", 1), ("Safety Glasses", "consumables", 1),
    ("Ear Plugs", "consumables", 1), ("Work Gloves", "consumables", 1), ("Thermal Paper Rolls", "consumables", 3),
    ("Shelf Labels", "consumables", 3), ("Printer Toner", "consumables", 5), ("Cleanroom Wipes", "consumables", 5),
    ("Lubricant Spray", "consumables", 1),
    ("Replacement Filters", "spare_parts", 1), ("Power Adapters", "spare_parts", 5),
    ("Sensor Cables", "spare_parts", 0), ("Trolley Castors", "spare_parts", 2), ("Fuse Kits", "spare_parts", 1),
    ("Drive Belts", "spare_parts", 1),
    ("Storage Racks", "equipment", 2), ("Medical Trolleys", "equipment", 0),
    ("Digital Thermometers", "equipment", 0), ("Handheld Terminals", "equipment", 5),
)
_LINE_VARIANTS = {
    "consumables": (("Standard", "Sterile", "Premium", "Eco"), ("(pack of 10)", "(pack of 50)", "(box of 200)")),
    "spare_parts": (("Type A", "Type B", "Type C", "Universal"), ("S", "M", "L")),
    "equipment": (("Basic", "Standard", "Pro", "Compact"), ("Grey", "White", "Blue")),
}

# Activity text.  Each template holds at most one {slot}; topics 0-14 are deal
# conversation, 15-17 fixed per type, 18-21 account-level (ERP side).
_TOPICS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("ROI and budget", (
        "{contact} asked about ROI and budget for next year.",
        "Budget is approved in principle; finance wants to see the ROI case before committing.",
        "The finance team needs a clear return on investment before they release the budget.",
        "{contact} asked what payback period we usually see; budget planning starts next month.",
    ), (
        "{contact} confirmed there are no budget concerns on their side.",
        "Budget is not an issue for this project, the funds are already allocated.",
    )),
    ("Competitive evaluation", (
        "They are also evaluating {competitor} and asked how we compare.",
        "{competitor} offered them a lower price last week; we need to show our value.",
        "Procurement shortlisted us and {competitor} for the final round.",
        "Their current supplier is {competitor}; they are unhappy with the service levels.",
    ), (
        "They are not evaluating other vendors at this point.",
        "No competitor involved, we are the only vendor in this process.",
    )),
    ("Timeline and go-live", (
        "They need to go live by {date}, so the timeline is tight.",
        "Target go-live date is {date}; we agreed to work back from it.",
        "{contact} asked for an implementation timeline with milestones before they decide.",
    ), (
        "No fixed deadline yet, there is no rush on the go-live date.",
    )),
    ("Pricing", (
        "Requested the updated price list for {product}.",
        "Discussed pricing tiers and volume pricing for next year.",
        "{contact} wants a pricing breakdown per site before the next meeting.",
    ), ()),
    ("Discount request", (
        "Asked for a {pct}% discount if they sign this quarter.",
        "Procurement is pushing for a {pct}% discount on the consumables.",
        "{contact} hinted they expect a better discount than last year.",
    ), (
        "They did not ask for any discount, list price is accepted.",
    )),
    ("Security review", (
        "Their IT team started a security review; they need our GDPR documentation.",
        "Compliance asked for our ISO 27001 certificate and the data processing agreement.",
        "Security questionnaire received, due back by {date}.",
    ), (
        "No security review needed, the solution is already approved by their IT.",
        "{contact} confirmed GDPR compliance is not a blocker for them.",
    )),
    ("Technical validation", (
        "Technical validation session with {contact}: they reviewed the architecture and the API.",
        "Their engineers want to validate the API limits and the data model before signing.",
        "{contact} asked for the technical architecture diagram and hosting details.",
    ), ()),
    ("ERP integration", (
        "They asked how we integrate with their ERP ({erp}).",
        "Integration with {erp} is a must-have for the warehouse team.",
        "{contact} wants the ERP integration scoped before the proposal.",
    ), (
        "No integration needed, they will use the standalone version for now.",
    )),
    ("Pilot proposal", (
        "{contact} proposed a pilot on one site before the full rollout.",
        "They want a 30-day trial on two wards first, as a proof of concept.",
        "Agreed to scope a POC with success criteria for the pilot.",
    ), (
        "They do not need a pilot, they know the product from a previous project.",
    )),
    ("Contract review", (
        "Contract sent to their legal team for review; expecting redlines next week.",
        "Legal came back with redlines on liability and payment terms.",
        "Master agreement is under legal review, {contact} is coordinating.",
    ), ()),
    ("Executive approval", (
        "Final decision needs CFO approval; {contact} will present it to the board.",
        "Executive sign-off is planned for {date}.",
        "The CEO has to sign off on anything above 50k, so we need an executive sponsor.",
    ), ()),
    ("Concerns raised", (
        "{contact} is concerned about implementation effort and staff training.",
        "They worry the rollout will disrupt the warehouse during peak season.",
        "Objection: the price is too high compared to what they pay today.",
    ), ()),
    ("Current challenges", (
        "Main pain point: stock-outs in the operating rooms almost every month.",
        "They struggle with manual reordering and expired consumables.",
        "Pain point: no visibility of inventory across their sites, {contact} spends hours on spreadsheets.",
    ), ()),
    ("Cloud migration plans", (
        "They plan to move their on-premise inventory system to the cloud next year.",
        "{contact} asked how a cloud migration would work with their current ERP.",
    ), ()),
    ("Check-in", (
        "Quick check-in, {contact} will get back to us next week.",
        "Sent the meeting notes and the agreed next steps.",
        "Followed up on the open questions from the last call.",
        "{contact} was out of office, rescheduled for next week.",
    ), ()),
    ("Quote sent", (
        "Sent the quote for {product}, valid for 30 days.",
        "Quote with volume pricing sent to {contact}, waiting for feedback.",
    ), ()),
    ("Product demo", (
        "Demo of the replenishment dashboard for {contact} and team.",
        "Product demo done: showed the {product} ordering workflow and reporting.",
    ), ()),
    ("Follow-up task", (
        "Send the meeting summary to {contact}.",
        "Update the opportunity and the contact roles.",
        "Prepare the next call with {contact}.",
    ), ()),
    ("Complaint", (
        "Complaint about late delivery of the last order of {product}.",
        "{contact} complained that the last shipment was incomplete.",
        "Complaint: damaged packaging on two pallets of {product}.",
    ), (
        "No open complaints, the last deliveries arrived on time.",
    )),
    ("Replenishment", (
        "Called about the next order of {product}; they will confirm quantities.",
        "They checked our stock of {product} before ordering.",
        "Discussed the order forecast for next quarter.",
    ), ()),
    ("Portfolio", (
        "Discussed expanding the portfolio with the purchasing team.",
    ), ()),
    ("Datasheet request", (
        "Requested the technical datasheet for {product}.",
    ), ()),
)
_QUOTE, _DEMO, _TASK, _COMPLAINT, _REPLENISH, _PORTFOLIO, _DATASHEET = 15, 16, 17, 18, 19, 20, 21
_COMPETITOR_TOPIC = 1
# Relative topic weights for conversational activities (topics 0-14) by deal phase.
_TOPIC_W = np.array([
    [10, 6, 8, 5, 1, 5, 8, 7, 5, 1, 2, 7, 12, 5, 18],   # prospecting, discovery
    [8, 7, 7, 8, 8, 7, 5, 5, 5, 10, 9, 7, 3, 3, 8],     # proposal, negotiation
    [9, 7, 7, 7, 5, 6, 6, 6, 5, 6, 6, 7, 7, 4, 12],     # closed history
], dtype=float)
# Type weights (email, call, meeting, note, quote_sent, demo, task) by the same phases.
_TYPE_W = np.array([
    [0.38, 0.22, 0.12, 0.12, 0.01, 0.05, 0.10],
    [0.36, 0.20, 0.14, 0.10, 0.07, 0.03, 0.10],
    [0.37, 0.21, 0.13, 0.11, 0.04, 0.04, 0.10],
])
_TYPE_PREFIX = ("", "Call: ", "Meeting: ", "Note: ", "", "", "", "")

# (topic, path, page title); a lead's interest topic biases which pages it reads.
_PAGES = (
    ("cloud-migration", "/resources/cloud-migration/guide", "Cloud Migration Guide for Inventory Systems"),
    ("cloud-migration", "/resources/cloud-migration/checklist", "Cloud Migration Checklist"),
    ("cloud-migration", "/blog/cloud-migration/moving-your-erp-to-the-cloud", "Moving Your ERP Data to the Cloud"),
    ("cloud-migration", "/resources/cloud-migration/whitepaper", "Cloud Migration Whitepaper"),
    ("security", "/resources/security/gdpr-medical-data", "GDPR and Medical Supply Data"),
    ("security", "/trust/security/iso-27001", "Security and ISO 27001"),
    ("integration", "/resources/integration/erp-connectors", "ERP Connectors: SAP, Dynamics, NetSuite"),
    ("integration", "/resources/integration/api", "API Overview"),
    ("pricing", "/pricing", "Pricing"),
    ("pricing", "/pricing/enterprise", "Enterprise Pricing"),
    ("roi", "/resources/roi/calculator", "ROI Calculator"),
    ("roi", "/resources/roi/inventory-cost-savings", "How Much Do Stock-outs Cost You?"),
    ("case-studies", "/case-studies/hospital-network-cuts-stock-outs", "Case Study: Hospital Network Cuts Stock-outs"),
    ("case-studies", "/case-studies/manufacturer-automates-replenishment",
     "Case Study: Manufacturer Automates Replenishment"),
    ("case-studies", "/case-studies/pharmacy-chain-moves-inventory-online", "Case Study: Pharmacy Chain Goes Online"),
    ("general", "/", "Example Medtech: Medical Supplies and Inventory Software"),
    ("general", "/products/infusion-pumps", "Infusion Pumps"),
    ("general", "/products/patient-monitors", "Patient Monitors"),
    ("general", "/blog/reducing-expired-consumables", "Reducing Expired Consumables"),
    ("general", "/about", "About Example Medtech"),
    ("demo", "/demo-request", "Request a Demo"),
)
_PAGE_PATHS = tuple(p[1] for p in _PAGES)
_INTERESTS = ("cloud-migration", "security", "integration", "pricing", "roi", "case-studies", "general")

_ALL_INDUSTRIES = ";".join(INDUSTRIES)
_CONTENT = (  # title, type, topics, industries, competitor, slug
    ("Cloud Migration Whitepaper", "whitepaper", "cloud-migration;implementation", _ALL_INDUSTRIES, "",
     "cloud-migration-whitepaper"),
    ("Inventory ROI Calculator", "roi_calculator", "roi;pricing;budget", _ALL_INDUSTRIES, "", "roi-calculator"),
    ("Executive ROI Deck for CFOs", "roi_calculator", "roi;budget;executive", _ALL_INDUSTRIES, "", "roi-deck"),
    ("Security and GDPR Compliance Pack", "security_doc", "security;compliance", _ALL_INDUSTRIES, "",
     "security-gdpr-pack"),
    ("ISO 27001 Statement and Data Processing Agreement", "security_doc", "security;compliance;contract",
     _ALL_INDUSTRIES, "", "iso-27001-dpa"),
    *((f"Battle Card: Example Medtech vs {c}", "battle_card", "competition;pricing", _ALL_INDUSTRIES, c,
       f"battle-card-{c.lower()}") for c in COMPETITORS),
    *((f"Comparison Matrix: Example Medtech vs {c}", "comparison_matrix", "competition", _ALL_INDUSTRIES, c,
       f"comparison-{c.lower()}") for c in COMPETITORS),
    ("Case Study: Regional Hospital Network Cuts Stock-outs by 40%", "case_study", "replenishment;roi",
     "healthcare", "", "case-hospital-network"),
    ("Case Study: Precision Manufacturer Automates Spare-Parts Replenishment", "case_study",
     "replenishment;integration", "manufacturing", "", "case-precision-manufacturer"),
    ("Case Study: 3PL Connects Warehouse Scanning to Its ERP", "case_study", "integration;implementation",
     "logistics", "", "case-3pl-erp"),
    ("Case Study: Pharmacy Chain Moves Inventory to the Cloud", "case_study", "cloud-migration;roi", "retail", "",
     "case-pharmacy-chain"),
    ("Case Study: Consulting Group Standardises Procurement", "case_study", "pricing;implementation",
     "professional_services", "", "case-consulting-group"),
    ("Case Study: Software Vendor Passes a Hospital Security Review", "case_study", "security;integration",
     "software", "", "case-software-vendor"),
    ("Product Catalog {year}", "catalog", "replenishment;pricing", _ALL_INDUSTRIES, "", "catalog-{year}"),
    ("Consumables and Spare Parts Catalog", "catalog", "replenishment", "healthcare;manufacturing;logistics", "",
     "consumables-catalog"),
    ("Datasheet: Infusion Pump IP-200", "datasheet", "technical;equipment", "healthcare", "", "datasheet-ip-200"),
    ("Datasheet: Patient Monitor PM-5", "datasheet", "technical;equipment", "healthcare", "", "datasheet-pm-5"),
    ("Datasheet: Autoclave AC-60", "datasheet", "technical;equipment", "healthcare;manufacturing", "",
     "datasheet-ac-60"),
    ("Datasheet: Sterile Infusion Set IS-200", "datasheet", "technical;replenishment", "healthcare", "",
     "datasheet-is-200"),
    ("Datasheet: Label Printer LP-400", "datasheet", "technical;equipment", "manufacturing;logistics;retail", "",
     "datasheet-lp-400"),
    ("ERP Integration Guide (SAP, Dynamics, NetSuite, Odoo)", "implementation_guide",
     "integration;implementation;technical", _ALL_INDUSTRIES, "", "erp-integration-guide"),
    ("API Reference Overview", "implementation_guide", "integration;technical;api", "software;logistics", "",
     "api-overview"),
    ("Implementation Timeline Template", "implementation_guide", "implementation;timeline", _ALL_INDUSTRIES, "",
     "implementation-timeline"),
    ("Pricing Guide {year}", "pricing_guide", "pricing;discount", _ALL_INDUSTRIES, "", "pricing-guide-{year}"),
    ("Video: How St. Elisabeth Clinic Ended Stock-outs", "video_testimonial", "replenishment;roi", "healthcare", "",
     "video-st-elisabeth"),
    ("Video: A Logistics Customer on ERP Integration", "video_testimonial", "integration", "logistics", "",
     "video-logistics-erp"),
    ("Healthcare Supply Chain Benchmark {year}", "benchmark_report", "replenishment;roi", "healthcare", "",
     "benchmark-healthcare-{year}"),
    ("Manufacturing MRO Benchmark {year}", "benchmark_report", "replenishment;pricing", "manufacturing", "",
     "benchmark-manufacturing-{year}"),
    ("Pilot Programme Playbook", "whitepaper", "pilot;implementation", _ALL_INDUSTRIES, "", "pilot-playbook"),
)


@dataclass
class _World:
    """Shared state: the as-of clock and the arrays later tables draw on."""

    rng: np.random.Generator
    now: int  # as-of day at 00:00 UTC, epoch seconds; every event is before it
    today: int  # the as-of day, days since epoch
    n: int
    year: int
    acc: dict[str, np.ndarray] = field(default_factory=dict)
    prod: dict[str, np.ndarray] = field(default_factory=dict)
    con: dict[str, np.ndarray] = field(default_factory=dict)
    deal: dict[str, np.ndarray] = field(default_factory=dict)
    lead: dict[str, np.ndarray] = field(default_factory=dict)
    inv: dict[str, np.ndarray] = field(default_factory=dict)
    # A second stream for what makes deal outcomes predictable (deal health and its traces), so adding
    # it left every other table's draws where they were.
    signal: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    # A third for the catalogue's long tail (its prices, margins, stock), drawn after the named products.
    tail: np.random.Generator = field(default_factory=lambda: np.random.default_rng(1))


# ---------------------------------------------------------------- formatting

def _obj(values: np.ndarray | list | tuple) -> np.ndarray:
    return np.asarray(values, dtype=object)


def _ids(prefix: str, count: int, width: int) -> np.ndarray:
    digits = np.char.zfill(np.arange(1, count + 1).astype(str), width)
    return np.char.add(prefix, digits).astype(object)


def _ref(ids: np.ndarray, index: np.ndarray) -> np.ndarray:
    """ids[index], with -1 meaning 'none' (an empty CSV cell)."""
    if len(ids) == 0:
        return np.full(len(index), "", dtype=object)
    return np.where(index >= 0, ids[np.maximum(index, 0)], "").astype(object)


def _times(seconds: np.ndarray) -> np.ndarray:
    text = np.datetime_as_string(np.asarray(seconds, dtype="int64").astype("datetime64[s]"), unit="s",
                                 timezone="UTC")
    return text.astype(object)


def _dates(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(np.asarray(days, dtype="int64").astype("datetime64[D]")).astype(object)


def _num(values: np.ndarray, decimals: int = 2) -> np.ndarray:
    return np.char.mod(f"%.{decimals}f", np.asarray(values, dtype=float)).astype(object)


def _bool(values: np.ndarray) -> np.ndarray:
    return np.where(values, "true", "false").astype(object)


def _blank_where(text: np.ndarray, missing: np.ndarray) -> np.ndarray:
    out = text.copy()
    out[missing] = ""
    return out


def _frame(name: str, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    names = TABLES[name].names
    assert set(columns) == set(names), (name, set(columns) ^ set(names))
    return pd.DataFrame({c: columns[c] for c in names})


def _within(counts: np.ndarray) -> np.ndarray:
    """Position of each repeated row inside its group (0, 1, 2, 0, 1, ...)."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum())) - np.repeat(starts, counts)


def _pick(rng: np.random.Generator, candidates: np.ndarray, share: float, size: int) -> np.ndarray:
    """A boolean mask choosing round(share * len) of candidates, at least one when any exist.

    Situations the tests and demos rely on must exist even at tiny scales, so
    they are sampled by count rather than by independent coin flips.
    """
    mask = np.zeros(size, dtype=bool)
    if len(candidates):
        k = min(len(candidates), max(1, round(share * len(candidates))))
        mask[rng.choice(candidates, k, replace=False)] = True
    return mask


def _split_templates(texts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split 'a {slot} b' into ('a ', 'slot', ' b') so rows can be filled by array concatenation."""
    pre, slot, post = [], [], []
    for text in texts:
        head, brace, rest = text.partition("{")
        name, _, tail = rest.partition("}")
        assert "{" not in tail, f"one slot per template: {text}"
        pre.append(head)
        slot.append(name if brace else "")
        post.append(tail if brace else "")
    return _obj(pre), np.asarray(slot), _obj(post)


def _company_names(rng: np.random.Generator, industry: np.ndarray, country: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(industry)
    stem = _obj(_STEMS)[rng.integers(0, len(_STEMS), n)]
    kind = _obj([k for row in _KINDS for k in row])[industry * 4 + rng.integers(0, 4, n)]
    base = stem + " " + kind
    # Repeat names get a region so a 20,000-account book still reads as distinct companies.
    repeat = pd.Series(base).groupby(base, sort=False).cumcount().to_numpy()
    region = np.where(repeat > 0, _obj(_REGIONS)[(repeat - 1) % len(_REGIONS)], "").astype(object)
    spaced = np.where(repeat > 0, " " + region, "").astype(object)
    name = base + spaced + " " + _obj(_LEGAL)[country]
    slug = pd.Series(base + spaced).str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True).to_numpy(dtype=object)
    domain = slug + "." + _obj(_TLD)[country]
    return name, domain


def _people(rng: np.random.Generator, n: int, domain: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    first_i = rng.integers(0, len(_FIRST), n)
    last_i = rng.integers(0, len(_LAST), n)
    first, last = _obj(_FIRST)[first_i], _obj(_LAST)[last_i]
    handle = _obj([f.lower() for f in _FIRST])[first_i] + "." + _obj([x.lower().replace(" ", "") for x in _LAST])[last_i]
    return first + " " + last, first, handle + "@" + domain


# ---------------------------------------------------------------- ERP side

def _products(w: _World) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = w.rng
    names, category, family, role = [], [], [], []
    for f, (equipment, main, companion, spare) in enumerate(_FAMILIES):
        names += [equipment, main, companion, spare]
        category += ["equipment", "consumables", "consumables", "spare_parts"]
        family += [f] * 4
        role += ["equipment", "main", "companion", "spare"]
    for f in range(_ECONOMY):
        names.append(_FAMILIES[f][1] + " Economy")
        category.append("consumables")
        family.append(f)
        role.append("economy")
    names += list(_SERVICES)
    category += ["services"] * len(_SERVICES)
    family += [-1] * len(_SERVICES)
    role += ["service"] * len(_SERVICES)
    services = np.arange(len(names) - len(_SERVICES), len(names))
    # The long tail of a wholesale catalogue: product lines of variants and pack sizes, after the named ones
    # (whose ids stay PRD-001..PRD-060).
    for g, (line, kind, _) in enumerate(_LINES):
        variants, sizes = _LINE_VARIANTS[kind]
        for variant in variants:
            for size in sizes:
                names.append(f"{line} {variant} {size}".strip())
                category.append(kind)
                family.append(len(_FAMILIES) + g)
                role.append("line")
    p = len(names)
    ids = _ids("PRD-", p, 3)
    eq = {f: 4 * f for f in range(len(_FAMILIES))}
    main = {f: 4 * f + 1 for f in range(len(_FAMILIES))}
    comp = {f: 4 * f + 2 for f in range(len(_FAMILIES))}
    economy = {f: 4 * len(_FAMILIES) + f for f in range(_ECONOMY)}

    compatible: list[list[int]] = []
    substitutes: list[list[int]] = []
    for f, r in zip(family, role, strict=True):
        if r in ("service", "line"):
            compatible.append([])
            substitutes.append([])
            continue
        with_economy = [economy[f]] if f in economy else []
        compatible.append({
            "equipment": [main[f], comp[f], 4 * f + 3, *with_economy],
            "main": [eq[f], comp[f]],
            "companion": [eq[f], main[f]],
            "spare": [eq[f]],
            "economy": [eq[f], comp[f]],
        }[r])
        substitutes.append(with_economy if r == "main" else [main[f]] if r == "economy" else [])

    # Prices, margins and stock of the named products come first from the main stream, as they always
    # have; the long tail's from a stream of their own, so the accounts and contracts drawn after them
    # stay what they were.
    named = 4 * len(_FAMILIES) + _ECONOMY + len(_SERVICES)
    cat = np.array(category)
    keep = [main[_ALFA_FAMILY], comp[_ALFA_FAMILY], main[_STOCKOUT_FAMILY], *economy.values(), *services]
    list_price, margin, available = (np.concatenate(parts) for parts in zip(
        _product_terms(rng, cat[:named], [main[_ALFA_FAMILY], comp[_ALFA_FAMILY]], keep, main[_STOCKOUT_FAMILY]),
        _product_terms(w.tail, cat[named:], [], [], None), strict=True))
    economy_idx = np.array(list(economy.values()))
    list_price[economy_idx] = np.round(list_price[[main[f] for f in economy]] * 0.8, 2)
    unit_cost = np.round(list_price * (1 - margin), 2)

    segments = np.where(np.isin(_obj(names), _ENTERPRISE_ONLY), "enterprise", ";".join(SEGMENTS)).astype(object)

    w.prod = {"ids": ids, "names": _obj(names), "list_price": list_price, "main": np.array(list(main.values())),
              "companion": np.array(list(comp.values())), "equipment": np.array(list(eq.values())),
              "spare": np.array([4 * f + 3 for f in range(len(_FAMILIES))]), "services": services,
              "family": np.array(family), "category": cat,
              "enterprise_only": np.isin(_obj(names), _ENTERPRISE_ONLY)}
    products = _frame("products", {
        "product_id": ids, "name": _obj(names), "category": _obj(category), "list_price": _num(list_price),
        "unit_cost": _num(unit_cost),
        "compatible_with": _obj([";".join(ids[j] for j in c) for c in compatible]),
        "substitutes": _obj([";".join(ids[j] for j in s) for s in substitutes]),
        "approved_segments": segments,
    })
    stock = _frame("stock", {"product_id": ids, "available": available.astype(str).astype(object),
                             "warehouse": np.full(p, "main", dtype=object)})
    return products, stock


def _product_terms(rng: np.random.Generator, cat: np.ndarray, never_low: list[int], never_out: list[int],
                   always_out: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """List price, margin and available stock per product of one part of the catalogue."""
    p = len(cat)
    price_range = {"equipment": (1500, 30000), "consumables": (8, 250), "spare_parts": (40, 900),
                   "services": (800, 15000)}
    lo = np.array([price_range[c][0] for c in cat], dtype=float)
    hi = np.array([price_range[c][1] for c in cat], dtype=float)
    list_price = np.round(np.exp(rng.uniform(np.log(lo), np.log(hi))), 2)
    margin = rng.uniform(0.16, 0.60, p)
    # Low-margin items exist so the minimum-margin rule has something to remove.
    low_margin = _pick(rng, np.setdiff1d(np.arange(p), never_low), 0.15, p)
    margin[low_margin] = rng.uniform(0.05, 0.14, int(low_margin.sum()))
    # Stock-outs: about a tenth of the products (among the named ones, always the one given).
    extra = rng.choice(np.setdiff1d(np.arange(p), never_out), max(0, round(0.1 * p) - (always_out is not None)),
                       replace=False)
    out = np.zeros(p, dtype=bool)
    out[extra] = True
    if always_out is not None:
        out[always_out] = True
    available = np.select(
        [cat == "equipment", cat == "consumables", cat == "spare_parts"],
        [rng.integers(3, 40, p), rng.integers(200, 5000, p), rng.integers(10, 300, p)],
        default=999,
    )
    available[out] = 0
    return list_price, margin, available


def _accounts(w: _World) -> pd.DataFrame:
    rng, n = w.rng, w.n
    industry = rng.choice(len(INDUSTRIES), n, p=[0.3, 0.2, 0.15, 0.12, 0.11, 0.12])
    segment = rng.choice(3, n, p=[0.2, 0.4, 0.4])
    country = rng.choice(len(_COUNTRIES), n, p=_COUNTRY_P)
    owner = rng.integers(0, REPS, n)
    strategic = rng.random(n) < np.where(segment == 0, 0.25, 0.035)
    revenue = np.round(np.exp(rng.uniform(*np.log([[3e8, 2e7, 1e6], [5e9, 3e8, 2e7]])[:, segment])), -3)
    credit = np.round(np.exp(rng.uniform(*np.log([[2.5e5, 5e4, 1e4], [2e6, 2.5e5, 5e4]])[:, segment])), -3)
    name, domain = _company_names(rng, industry, country)
    family = rng.choice(len(_FAMILIES), n, p=_FAMILY_P)
    erp = rng.integers(0, len(ERPS), n)
    if n > 1:
        family[1] = _STOCKOUT_FAMILY  # someone always buys the stocked-out product regularly
    # ACC-0001 is the distributor from seed 002.
    industry[0], segment[0], country[0], strategic[0], family[0] = 0, 1, 0, False, _ALFA_FAMILY
    revenue[0], credit[0] = 48_000_000.0, 150_000.0
    name[0], domain[0] = ALFA_NAME, "alfa-distribution.ro"

    ids = _ids("ACC-", n, max(4, len(str(n))))
    w.acc = {"ids": ids, "names": name, "industry": industry, "segment": segment, "owner": owner,
             "domain": domain, "family": family, "erp": erp, "strategic": strategic}
    return _frame("accounts", {
        "account_id": ids, "name": name, "industry": _obj(INDUSTRIES)[industry], "segment": _obj(SEGMENTS)[segment],
        "country": _obj(_COUNTRIES)[country], "owner_id": _rep_ids(owner), "is_strategic": _bool(strategic),
        "credit_limit": _num(credit), "annual_revenue": _num(revenue),
    })


def _rep_ids(owner: np.ndarray) -> np.ndarray:
    return _obj([f"rep_{i + 1:02d}" for i in range(REPS)])[owner]


def _contracts(w: _World) -> pd.DataFrame:
    rng, n = w.rng, w.n
    ordering = np.zeros(n, dtype=bool)
    ordering[rng.random(n) < 0.75] = True
    ordering[:2] = True
    w.acc["ordering"] = ordering
    candidates = np.flatnonzero(ordering[1:]) + 1
    has = _pick(rng, candidates, 0.4, n)
    has[0] = True
    holders = np.flatnonzero(has)
    k = len(holders)
    renewing = _pick(rng, np.arange(1, k), 0.15, k)  # holders[0] is Alfa
    end = w.today + np.where(renewing, rng.integers(1, 61, k), rng.integers(61, 720, k))
    years = np.maximum(rng.integers(1, 4, k), np.ceil((end - w.today + 30) / 365).astype(int))
    start = end - 365 * years
    max_discount = rng.choice([3, 5, 7, 10, 12, 15], k)
    terms = rng.choice([30, 45, 60], k)
    extended = rng.random(k) < 0.35
    end[0], start[0], max_discount[0], terms[0], extended[0] = w.today + 190, w.today - 540, 5, 30, False

    w.acc["contract_max"] = np.full(n, np.inf)
    w.acc["contract_max"][holders] = max_discount
    w.acc["terms"] = rng.choice([30, 30, 45, 60], n)
    w.acc["terms"][holders] = terms
    return _frame("contracts", {
        "contract_id": _ids("CTR-", k, 5), "account_id": w.acc["ids"][holders], "end_at": _dates(end),
        "start_at": _dates(start), "max_discount_pct": _num(max_discount, 0),
        "payment_terms_days": terms.astype(str).astype(object), "extended_terms_allowed": _bool(extended),
    })


def _orders(w: _World) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng, n, acc, prod = w.rng, w.n, w.acc, w.prod
    buyers = np.flatnonzero(acc["ordering"])
    b = len(buyers)
    day_ago, bi, seq, count = _order_clock(w, b)
    o = len(bi)
    account = buyers[bi]

    # What each buyer buys: a core basket it re-buys (its family's main consumable, often the companion,
    # a few favourite consumables), and a long tail it works through, newest discoveries first.
    segment, family = acc["segment"][buyers], acc["family"][buyers]
    companion_rate = np.where(rng.random(n) < 0.4, 0.0, rng.uniform(0.3, 0.9, n))
    companion_rate[0] = 0.0  # Alfa has never bought the compatible companion: the cross-sell
    explore, core_items, core_p, valid = _baskets(w, buyers, companion_rate[buyers] > 0)
    core_count = core_items.shape[1]

    # Lines per order: the core items that come up (each with its own propensity), then the rest of the
    # order's size split between products bought before (drawn from what the account has discovered,
    # its earlier discoveries more often) and products new to the account.
    size = np.exp(rng.normal(np.log(np.array([19.0, 16.0, 13.5]))[segment], 0.3))
    wanted = np.maximum(1, np.rint(size[bi] * np.exp(rng.normal(0, 0.45, o)))).astype(int)
    core_hit = rng.random((o, core_count)) < core_p[bi]
    rest = np.maximum(0, wanted - core_hit.sum(axis=1))
    rebuy_share = rng.uniform(0.1, 0.32, b)
    first_order = seq == 0
    repeat = np.where(first_order, 0, rng.binomial(rest, rebuy_share[bi]))
    new = rest - repeat
    # Exclusive running count of discoveries before each order (orders are grouped by buyer, oldest first).
    seen = np.cumsum(new) - new
    seen -= np.repeat(seen[np.cumsum(count) - count], count)

    core_order, core_slot = np.nonzero(core_hit)
    core_prod = core_items[bi[core_order], core_slot]
    new_order = np.repeat(np.arange(o), new)
    new_pos = seen[new_order] + _within(new)
    new_ok = new_pos < valid[bi[new_order]]
    new_order, new_pos = new_order[new_ok], new_pos[new_ok]
    rep_order = np.repeat(np.arange(o), repeat)
    rep_pos = (seen[rep_order] * rng.random(len(rep_order)) ** 2).astype(int)
    rep_pos = np.minimum(rep_pos, valid[bi[rep_order]] - 1)
    kept = seen[rep_order] > 0  # nothing to re-buy before the first discovery
    rep_order, rep_pos = rep_order[kept], rep_pos[kept]
    fam = family[bi]
    extras = [
        (rng.random(o) < 0.08, prod["spare"][fam]),
        (rng.random(o) < 0.015, prod["equipment"][fam]),
        (rng.random(o) < 0.02, rng.choice(prod["services"], o)),
    ]
    line_order = np.concatenate([core_order, new_order, rep_order, *(np.flatnonzero(m) for m, _ in extras)])
    line_prod = np.concatenate([core_prod, explore[bi[new_order], new_pos], explore[bi[rep_order], rep_pos],
                                *(p[m] for m, p in extras)])
    # Back to the ERP's order (by day, then account), one line per product and order.
    day = w.today - day_ago
    order = np.lexsort((account, day))
    rank = np.empty(o, dtype=np.int64)
    rank[order] = np.arange(o)
    day, account, bi = day[order], account[order], bi[order]
    p_count = len(prod["ids"])
    pair = np.sort(rank[line_order] * p_count + line_prod)
    pair = pair[np.r_[True, pair[1:] != pair[:-1]]]
    line_order, line_prod = pair // p_count, pair % p_count
    order_ids = _ids("ORD-", o, max(6, len(str(o))))

    # Quantities: the main consumable in the account's volume, the companion at 40% of it, other
    # consumables in pack counts scaled by segment, parts and machines by the piece.
    base_qty = np.exp(rng.uniform(*np.log([[80, 20, 5], [400, 120, 30]])[:, acc["segment"]]))
    base_qty[0] = 150.0  # Alfa buys its main product by the case: its biggest line, the one a rep calls about
    pack_qty = np.exp(rng.uniform(np.log(2), np.log(40), p_count))
    line_account = account[line_order]
    cat = prod["category"][line_prod]
    is_main = line_prod == prod["main"][acc["family"][line_account]]
    is_companion = line_prod == prod["companion"][acc["family"][line_account]]
    volume = np.array([3.0, 1.5, 0.6])[acc["segment"][line_account]]
    line_base = np.select(
        [is_main, is_companion, cat == "consumables", cat == "spare_parts", cat == "equipment"],
        [base_qty[line_account], 0.4 * base_qty[line_account], pack_qty[line_prod] * volume,
         1 + 3 * rng.random(len(line_prod)), 1 + rng.random(len(line_prod))],
        1.0,
    )
    is_service = cat == "services"
    quantity = np.maximum(1, np.rint(line_base * rng.uniform(0.75, 1.25, len(line_order))))
    quantity[is_service] = 1
    discount = np.minimum(rng.choice([0, 0, 2, 3, 5, 7, 10], n), acc["contract_max"])
    discount[0] = 3
    line_discount = np.where(is_service, 0, discount[line_account])
    # Millions of lines: prices and numbers are computed and formatted once per distinct value.
    levels = np.unique(line_discount)
    level = np.searchsorted(levels, line_discount)
    prices = np.round(prod["list_price"][:, None] * (1 - levels[None, :] / 100), 2)
    unit_price = prices[line_prod, level]
    total = np.round(np.bincount(line_order, weights=quantity * unit_price, minlength=o), 2)

    w.inv = {"order_day": day, "order_account": account, "total": total}
    orders = _frame("orders", {
        "order_id": order_ids, "account_id": acc["ids"][account], "ordered_at": _dates(day), "total": _num(total),
        "status": np.where(day >= w.today - 3, "shipped", "delivered").astype(object),
    })
    quantity = quantity.astype(np.int64)
    lines = _frame("order_lines", {
        "order_id": order_ids[line_order], "product_id": prod["ids"][line_prod],
        "quantity": _num(np.arange(int(quantity.max(initial=0)) + 1), 0)[quantity],
        "unit_price": _num(prices).reshape(prices.shape)[line_prod, level], "discount_pct": _num(levels, 0)[level],
    })
    return orders, lines


def _order_clock(w: _World, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """When each buyer ordered: (days ago, buyer, chronological index, orders per buyer), grouped by buyer.

    The buyer's main orders come on a gamma-distributed rhythm around its mean (coefficient of variation
    around 0.35), and most buyers add top-up orders one to seven days after a main one (a few rarely,
    some often): the days between orders are as irregular as real wholesale data's (per-account CV
    around 0.65), yet when the next main order is due stays learnable.  Most buyers are on rhythm,
    some are due now, some broke their rhythm (churn risk).
    Alfa (buyer 0) orders every 35-45 days, last 38 days ago.
    """
    rng = w.rng
    mean = rng.uniform(35, 95, b)
    cv = np.clip(np.exp(rng.normal(np.log(0.35), 0.35, b)), 0.1, 1.0)
    # Top-up orders a few days after a main one: most buyers place some, a few place many.
    follow_up = np.where(rng.random(b) < 0.85, rng.uniform(0.05, 0.5, b), 0.0)
    due = _pick(rng, np.arange(1, b), 0.15, b)
    broken = _pick(rng, np.flatnonzero(~due[1:]) + 1, 0.10, b)
    where = rng.random(b)
    history = np.where(rng.random(b) < 0.25, rng.uniform(150, 730, b), 730.0)
    nominal_last = np.select([due, broken], [mean, 3.8 * mean], 0.45 * mean)
    span = np.maximum(history - nominal_last, 5 * mean)  # enough history for a cadence to be visible

    slots = np.ceil(2 * span / mean + 4).astype(int)
    row = np.repeat(np.arange(b), slots)
    k = _within(slots)
    gap = rng.gamma((1 / cv**2)[row], (mean * cv**2)[row])
    gap = np.where(rng.random(len(row)) < follow_up[row], rng.uniform(1, 8, len(row)), gap)
    gap = np.maximum(1, np.rint(gap))
    alfa = row == 0
    gap[alfa] = rng.integers(35, 46, int(alfa.sum()))
    span[0] = 730 - 38
    within_sum = np.cumsum(gap)
    within_sum -= np.repeat(within_sum[np.cumsum(slots) - slots] - gap[np.cumsum(slots) - slots], slots)
    keep = (within_sum <= span[row]) | (k < 3)
    row, gap = row[keep], gap[keep]
    gaps = np.bincount(row, minlength=b)
    mean_gap = np.bincount(row, weights=gap, minlength=b) / gaps
    # Days since the last order, against the buyer's actual mean gap.
    last = np.select([due, broken], [mean_gap * (0.93 + 0.14 * where), mean_gap * (2.6 + 2.4 * where)],
                     1 + where * np.maximum(0, 0.85 * mean_gap - 1))
    last[0] = 38
    count = gaps + 1
    # Newest first within each buyer: the last order, then one gap back at a time.
    step = np.zeros(int(count.sum()))
    step[_within(count) > 0] = gap
    back = np.cumsum(step)
    back -= np.repeat(back[np.cumsum(count) - count], count)
    buyer = np.repeat(np.arange(b), count)
    days_ago = (np.rint(last)[buyer] + back).astype(int)
    chrono = np.repeat(count, count) - 1 - _within(count)
    order = np.lexsort((chrono, buyer))
    w.acc["broken"] = np.zeros(w.n, dtype=bool)
    w.acc["broken"][np.flatnonzero(w.acc["ordering"])[broken]] = True
    return days_ago[order], buyer[order], chrono[order], count


def _baskets(w: _World, buyers: np.ndarray, with_companion: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per buyer: the order it discovers products in, its core basket and each core item's propensity.

    Discovery follows the buyer's taste for product lines (its industry's lines first, its own family
    and a personal taste on top) and, within a line, the products everyone buys most: a line's products
    are discovered, and so bought, together; an industry's popular products are popular across it.
    Returns (discovery order (buyers x products, valid prefix per row), core items, core propensities,
    valid discoveries per buyer).
    """
    rng, acc, prod = w.rng, w.acc, w.prod
    b, p = len(buyers), len(prod["ids"])
    lines = len(_FAMILIES) + len(_LINES)
    home = np.array(_FAMILY_INDUSTRY + tuple(g[2] for g in _LINES))
    line_kind = np.array(["consumables"] * len(_FAMILIES) + [g[1] for g in _LINES])
    line_weight = np.select([line_kind == "equipment", line_kind == "spare_parts"], [0.15, 0.5], 1.0)
    affinity = np.exp(0.6 * rng.standard_normal((len(INDUSTRIES), lines))) * line_weight
    affinity *= np.where(np.arange(len(INDUSTRIES))[:, None] == home[None, :], 5.0, 1.0)
    # Within a line, a few products sell most (the same everywhere).
    item = np.exp(-1.0 * np.log1p(rng.permutation(p) % 12))
    role_weight = np.ones(p)
    role_weight[prod["equipment"]] = 0.1
    role_weight[prod["spare"]] = 0.3
    item *= role_weight

    industry, segment, family = acc["industry"][buyers], acc["segment"][buyers], acc["family"][buyers]
    taste = affinity[industry] * np.exp(0.8 * rng.standard_normal((b, lines)))
    taste[np.arange(b), family] *= 4.0
    line_key = np.log(taste) + rng.gumbel(size=(b, lines))
    fam = prod["family"]
    key = 1.5 * line_key[:, np.maximum(fam, 0)] + np.log(item) + rng.gumbel(size=(b, p))
    key[:, fam < 0] = -np.inf  # services come as occasional extras, not discoveries
    key[np.ix_(segment != 0, np.flatnonzero(prod["enterprise_only"]))] = -np.inf
    own_main, own_companion = prod["main"][family], prod["companion"][family]
    key[np.arange(b), own_main] = -np.inf
    key[with_companion, own_companion[with_companion]] = -np.inf
    if len(buyers) and buyers[0] == 0:
        key[0, prod["companion"][_ALFA_FAMILY]] = -np.inf  # the cross-sell Alfa never bought
    ranking = np.argsort(-key, axis=1, kind="stable")
    finite = np.isfinite(np.take_along_axis(key, ranking, axis=1))

    # Core favourites: the buyer's first few consumables.
    favourites = rng.integers(2, 6, b)
    consumable = (prod["category"][ranking] == "consumables") & finite
    core_fav = consumable & (np.cumsum(consumable, axis=1) <= favourites[:, None])
    explore = np.take_along_axis(ranking, np.argsort(core_fav, axis=1, kind="stable"), axis=1)
    valid = finite.sum(axis=1) - core_fav.sum(axis=1)

    slots = 2 + 5
    core_items = np.zeros((b, slots), dtype=int)
    core_p = np.zeros((b, slots))
    core_items[:, 0], core_p[:, 0] = own_main, rng.uniform(0.85, 1.0, b)
    core_items[:, 1] = own_companion
    core_p[:, 1] = np.where(with_companion, rng.uniform(0.3, 0.9, b), 0.0)
    fav_row, fav_col = np.nonzero(core_fav)
    slot = 2 + _within(core_fav.sum(axis=1))
    core_items[fav_row, slot] = ranking[fav_row, fav_col]
    core_p[fav_row, slot] = rng.uniform(0.25, 0.8, len(fav_row))
    if len(buyers) and buyers[0] == 0:
        core_p[0, 0] = 1.0  # Alfa's main product is in every order, more often than anything else
        core_p[0, 2:] = np.minimum(core_p[0, 2:], 0.7)
    return explore, core_items, core_p, valid


def _invoices(w: _World) -> pd.DataFrame:
    rng, acc, n = w.rng, w.acc, w.n
    day, account, total = w.inv["order_day"], w.inv["order_account"], w.inv["total"]
    m = len(day)
    issued = np.minimum(day + rng.integers(0, 3, m), w.today)
    issued[account == 0] = day[account == 0]
    due = issued + acc["terms"][account]
    lag = rng.integers(-10, 6, m)
    lag[account == 0] = rng.integers(-10, -1, int((account == 0).sum()))  # Alfa always pays early

    # Payment behaviour is per account: most pay around the due date, some let
    # recent invoices slip a few weeks, some carry invoices overdue over 30 days.
    long_overdue = due < w.today - 30
    buyers = np.flatnonzero(acc["ordering"])
    eligible = np.intersect1d(np.unique(account[long_overdue]), buyers[1:])
    late = _pick(rng, eligible, 0.10 * len(buyers) / max(1, len(eligible)), n)
    slipping = _pick(rng, np.setdiff1d(np.unique(account[(due < w.today) & ~long_overdue]), [0, *np.flatnonzero(late)]),
                     0.12, n)
    lag = np.where(late[account], rng.integers(0, 25, m), lag)
    paid = np.maximum(issued + 1, due + lag)
    unpaid = paid > w.today
    # Late payers leave their latest one to three long-overdue invoices open.
    newest_first = np.lexsort((-due, account))
    rank = np.empty(m, dtype=int)
    rank[newest_first] = _overdue_rank(account[newest_first], long_overdue[newest_first])
    open_count = rng.integers(1, 4, n)
    unpaid |= late[account] & long_overdue & (rank < open_count[account])
    unpaid |= slipping[account] & (due < w.today) & ~long_overdue
    return _frame("invoices", {
        "invoice_id": _ids("INV-", m, max(6, len(str(m)))), "account_id": acc["ids"][account],
        "due_at": _dates(due), "amount": _num(total), "issued_at": _dates(issued),
        "paid_at": _blank_where(_dates(paid), unpaid),
    })


def _overdue_rank(account: np.ndarray, long_overdue: np.ndarray) -> np.ndarray:
    """Rows sorted by account, newest first: how many newer long-overdue invoices the account has."""
    flag = long_overdue.astype(int)
    running = np.cumsum(flag) - flag
    group_start = np.r_[True, account[1:] != account[:-1]]
    base = np.maximum.accumulate(np.where(group_start, running, 0))
    return running - base


# ---------------------------------------------------------------- CRM side

_DEAL_THEMES = ("Infusion pump fleet renewal", "Consumables framework agreement", "Patient monitoring upgrade",
                "Inventory software rollout", "Cloud migration of inventory system", "ERP integration project",
                "Sterilization department refit", "Labeling and traceability", "Annual maintenance contract",
                "Lab automation")
_NEXT_STEPS = (
    ("Book a discovery call", "Qualify budget and timeline", "Send the intro deck"),
    ("Confirm requirements with the technical buyer", "Map the buying committee", "Schedule a demo"),
    ("Follow up on the quote", "Send the revised proposal", "Present the ROI case to the economic buyer"),
    ("Agree on the legal redlines", "Get CFO sign-off", "Finalise discount and payment terms"),
)
_PROBABILITY = np.array([0.1, 0.2, 0.5, 0.75, 1.0, 0.0])
_NORMAL, _STALE, _DECLINING, _QUOTE_SILENT, _DEMO_SILENT = range(5)


def _contact_people(w: _World) -> None:
    """Contacts exist before activities (which name them); last_engaged_at comes after."""
    rng, n = w.rng, w.n
    count = rng.integers(3, 7, n)
    account = np.repeat(np.arange(n), count)
    k = _within(count)
    c = len(account)
    # Every account has a champion, an economic and a technical buyer; the rest are users and others.
    role = np.where(k < 3, k, rng.choice([3, 4, 2, 3], c))
    title = _obj([t for row in _ROLE_TITLES for t in row])[role * 5 + rng.integers(0, 5, c)]
    name, first, email = _people(rng, c, w.acc["domain"][account])
    w.con = {"ids": _ids("CON-", c, max(6, len(str(c)))), "account": account, "offset": np.cumsum(count) - count,
             "count": count, "first": first, "name": name, "title": title, "email": email, "role": role}


def _contacts(w: _World, last_engaged: np.ndarray) -> pd.DataFrame:
    rng, con = w.rng, w.con
    c = len(con["ids"])
    # Contacts never touched in the CRM's activity log still carry an older engagement date, as migrated CRMs do.
    never = last_engaged < 0
    fallback = w.now - (rng.uniform(60, 400, c) * DAY).astype(np.int64) // 60 * 60
    unknown = never & (rng.random(c) < 0.3)
    last = np.where(never, fallback, last_engaged)
    return _frame("contacts", {
        "contact_id": con["ids"], "account_id": w.acc["ids"][con["account"]], "name": con["name"],
        "title": con["title"], "role": _obj(ROLES)[con["role"]], "email": con["email"],
        "last_engaged_at": _blank_where(_times(last), unknown),
    })


def _deals(w: _World) -> pd.DataFrame:
    rng, acc = w.rng, w.acc
    per = rng.poisson(np.array([7.0, 5.0, 4.0])[acc["segment"]])
    account = np.repeat(np.arange(w.n), per)
    d = len(account)
    seg = acc["segment"][account]
    closed = rng.random(d) < 0.4
    won_draw = rng.random(d)
    open_stage = rng.choice(4, d, p=[0.25, 0.3, 0.25, 0.2])
    cycle = np.array([240.0, 150.0, 90.0])[seg]
    size = rng.normal(0, 0.6, d)  # log of the amount against the segment's typical deal
    amount = np.maximum(500, np.round(np.array([150_000, 40_000, 9_000])[seg] * np.exp(size), -2))

    close_day = w.today - rng.integers(1, 731, d)
    closed_at = close_day * DAY + rng.integers(8 * 3600, 18 * 3600, d)
    duration = rng.uniform(14, cycle)

    open_ = np.flatnonzero(~closed)
    age = rng.uniform(7, cycle + 60)
    stuck = _pick(rng, open_, 0.15, d)
    stuck_days = rng.uniform(46, 120, d)
    slipped = _pick(rng, open_, 0.12, d)
    slip_days = rng.integers(1, 31, d)
    age = np.where(stuck, np.maximum(age, stuck_days + rng.uniform(5, 60, d)), age)
    age = np.where(slipped, np.maximum(age, slip_days + rng.uniform(10, 60, d)), age)
    in_stage = rng.uniform(0.2, np.minimum(44.0, age))
    close_date = np.where(closed, close_day, w.today + np.where(slipped, -slip_days, rng.integers(5, 121, d)))
    competitor = np.where(rng.random(d) < 0.3, rng.integers(0, len(COMPETITORS), d), -1)
    # The outcome follows the deal's health (visible in its activity, see _deal_rows and _activities),
    # its size against the segment's usual deal and a competitor in play, with noise: a win model can
    # learn it from what was known before the close, and no single trace gives it away.
    health = _deal_health(w, account, competitor)
    won = closed & (won_draw < _win_chance(health, size, competitor, w.acc["ordering"][account]))
    stage = np.where(closed, np.where(won, 4, 5), open_stage)
    # Lost deals drag on before they are given up; won ones close a little faster.
    closed_created = closed_at - np.where(won, 0.85, 1.2) * duration * DAY
    created = np.where(closed, closed_created, w.now - age * DAY)
    changed = np.where(closed, closed_at, np.where(stuck, w.now - stuck_days * DAY, w.now - in_stage * DAY))
    created, changed = (np.asarray(x, dtype=np.int64) // 60 * 60 for x in (created, changed))
    theme = _obj(_DEAL_THEMES)[rng.integers(0, len(_DEAL_THEMES), d)]
    next_step = np.where(closed, "", _obj([s for row in _NEXT_STEPS for s in row])[
        np.minimum(stage, 3) * 3 + rng.integers(0, 3, d)]).astype(object)

    order = np.argsort(created, kind="stable")
    account, stage, closed, won, amount, created, changed, close_date, competitor, theme, next_step, health = (
        x[order] for x in (account, stage, closed, won, amount, created, changed, close_date, competitor, theme,
                           next_step, health))
    ids = _ids("DEAL-", d, max(6, len(str(d))))
    w.deal = {"ids": ids, "account": account, "stage": stage, "closed": closed, "created": created,
              "changed": changed, "competitor": competitor, "health": health,
              "pattern": _deal_patterns(w, stage, closed, created)}
    return _frame("deals", {
        "deal_id": ids, "account_id": acc["ids"][account], "stage": _obj(STAGES)[stage],
        "name": acc["names"][account] + " - " + theme, "amount": _num(amount),
        "currency": np.full(d, "EUR", dtype=object), "created_at": _times(created), "close_date": _dates(close_date),
        "stage_changed_at": _times(changed), "owner_id": _rep_ids(acc["owner"][account]),
        "probability": _num(_PROBABILITY[stage]), "competitor": _ref(_obj(COMPETITORS), competitor),
        "is_closed": _bool(closed), "is_won": _bool(won), "next_step": next_step,
    })


def _deal_health(w: _World, account: np.ndarray, competitor: np.ndarray) -> np.ndarray:
    """A deal's hidden health (≈ standard normal): part the account relationship, part the deal itself.

    It never appears in a table; it shows only through the deal's activity (who is engaged, who
    writes in, demos, objections) and the outcome.
    """
    relationship = w.signal.standard_normal(w.n)
    own = w.signal.standard_normal(len(account))
    # A competitor in play makes the buyer harder to engage, a little.
    return 0.5 * relationship[account] + 0.85 * own - 0.15 * (competitor >= 0)


def _win_chance(health: np.ndarray, size: np.ndarray, competitor: np.ndarray, ordering: np.ndarray) -> np.ndarray:
    """P(won | closed): about 0.45 overall; higher for healthy deals, existing customers, usual-sized deals."""
    logit = -0.3 + 1.35 * health - 0.45 * (competitor >= 0) - 0.6 * size + 0.35 * ordering
    return 1 / (1 + np.exp(-logit))


def _deal_patterns(w: _World, stage: np.ndarray, closed: np.ndarray, created: np.ndarray) -> np.ndarray:
    """How each open deal's activity unfolds: the engagement situations of seed 001."""
    rng, d = w.rng, len(stage)
    age = (w.now - created) / DAY
    open_ = ~closed
    quote = _pick(rng, np.flatnonzero(open_ & np.isin(stage, [2, 3]) & (age > 25)), 0.25, d)
    demo = _pick(rng, np.flatnonzero(open_ & np.isin(stage, [1, 2]) & (age > 20) & ~quote), 0.2, d)
    declining = _pick(rng, np.flatnonzero(open_ & (age > 35) & ~quote & ~demo), 0.15, d)
    stale = _pick(rng, np.flatnonzero(open_ & (age > 15) & ~quote & ~demo & ~declining), 0.2, d)
    return np.select([stale, declining, quote, demo], [_STALE, _DECLINING, _QUOTE_SILENT, _DEMO_SILENT], _NORMAL)


def _leads(w: _World) -> pd.DataFrame:
    rng, n = w.rng, max(3, w.n)
    status = rng.choice(6, n, p=[0.2, 0.25, 0.2, 0.12, 0.1, 0.13])
    source = _obj(("web", "event", "referral", "outbound", "partner"))[
        rng.choice(5, n, p=[0.35, 0.2, 0.15, 0.2, 0.1])]
    seniority = rng.choice(5, n, p=[0.1, 0.15, 0.25, 0.3, 0.2])
    title = _obj([t for row in _LEAD_TITLES for t in row])[seniority * 4 + rng.integers(0, 4, n)]
    industry = rng.choice(len(INDUSTRIES), n, p=[0.3, 0.2, 0.15, 0.12, 0.11, 0.12])
    industry[:3] = 0  # the seed 000 leads below are hospitals and clinics
    company, domain = _company_names(rng, industry, rng.choice(len(_COUNTRIES), n, p=_COUNTRY_P))
    size = np.clip(np.rint(np.exp(rng.normal(5, 1.3, n))), 5, 50_000)
    value = np.maximum(1000, np.round(np.exp(rng.normal(np.log(30_000), 0.9, n)), -2))
    owner = rng.integers(0, REPS, n)
    created = w.now - rng.uniform(1, 365, n) * DAY
    # Seed 000: a lead reading about cloud migration, two showing strong buying
    # signals (pricing + demo request), one of them high value.
    status[:3] = [1, 0, 1]
    source[:3] = "web"
    title[:3] = ["IT Director", "VP Operations", "CFO"]
    value[:3] = [85_000, 60_000, 250_000]
    created[:3] = w.now - np.array([21.3, 15.6, 40.2]) * DAY
    converted = status == 4
    target = rng.integers(0, w.n, n)
    company = np.where(converted, w.acc["names"][target], company).astype(object)
    domain = np.where(converted, w.acc["domain"][target], domain).astype(object)
    name, _, email = _people(rng, n, domain)
    created = np.asarray(created, dtype=np.int64) // 60 * 60
    w.lead = {"ids": _ids("LEAD-", n, max(6, len(str(n)))), "status": status, "created": created}
    return _frame("leads", {
        "lead_id": w.lead["ids"], "created_at": _times(created), "name": name, "company": company, "title": title,
        "email": email, "source": source, "status": _obj(("new", "working", "nurturing", "qualified", "converted",
                                                            "disqualified"))[status],
        "industry": _obj(INDUSTRIES)[industry], "company_size": _num(size, 0), "estimated_value": _num(value),
        "owner_id": _rep_ids(owner), "converted_account_id": _ref(w.acc["ids"], np.where(converted, target, -1)),
    })


@dataclass
class _Rows:
    """Activity rows under construction, one array per attribute."""

    t: np.ndarray
    type: np.ndarray
    deal: np.ndarray
    account: np.ndarray
    topic: np.ndarray
    negated: np.ndarray

    @staticmethod
    def concat(parts: list[_Rows]) -> _Rows:
        return _Rows(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Rows)))


def _deal_rows(w: _World) -> _Rows:
    rng, deal = w.rng, w.deal
    d = len(deal["ids"])
    pattern, closed, created = deal["pattern"], deal["closed"], deal["created"].astype(float)
    age = (w.now - created) / DAY
    quote_at = w.now - rng.uniform(8, 20, d) * DAY
    demo_at = w.now - rng.uniform(5, 14, d) * DAY
    end = np.select(
        [closed, pattern == _STALE, pattern == _QUOTE_SILENT, pattern == _DEMO_SILENT],
        [deal["changed"] - DAY, w.now - rng.uniform(8, np.maximum(10, np.minimum(40, age - 5))) * DAY,
         quote_at - DAY, demo_at - DAY],
        w.now - rng.uniform(0.05, 4, d) * DAY,
    )
    # A day's margin on both sides keeps every touch inside the deal's life after _office_hours moves it.
    start = created + DAY
    end = np.maximum(end, start + 2 * 3600)

    health = deal["health"]
    count = 2 + rng.poisson(16 * np.exp(0.15 * health))
    row_deal = np.repeat(np.arange(d), count)
    r = len(row_deal)
    t = start[row_deal] + rng.random(r) * (end - start)[row_deal]
    # Declining engagement: most touches 15-28 days ago, a trickle in the last two weeks.
    declining = pattern[row_deal] == _DECLINING
    recent = rng.random(r) < 0.18
    t = np.where(declining, w.now - np.where(recent, rng.uniform(0.1, 13.9, r), rng.uniform(15.2, 27.8, r)) * DAY, t)

    phase = np.where(closed, 2, np.where(deal["stage"] >= 2, 1, 0))[row_deal]
    kind = np.empty(r, dtype=int)
    topic = np.empty(r, dtype=int)
    u_kind, u_topic = rng.random(r), rng.random(r)
    for p in range(3):
        rows = phase == p
        kind[rows] = np.searchsorted(np.cumsum(_TYPE_W[p]) / _TYPE_W[p].sum(), u_kind[rows], side="right")
        topic[rows] = np.searchsorted(np.cumsum(_TOPIC_W[p]) / _TOPIC_W[p].sum(), u_topic[rows], side="right")
    kind = np.minimum(kind, 6)
    # Healthy deals get demos (a meeting becomes one), weak ones rarely see one through.
    h, sig = health[row_deal], w.signal.random((2, r))
    kind = np.where((kind == 2) & (sig[0] < 0.35 * _sigmoid(2 * h - 1)), 5, kind)
    kind = np.where((kind == 5) & (sig[0] < 0.7 * _sigmoid(-2 * h)), 2, kind)
    topic = np.select([kind == 4, kind == 5, kind == 6], [_QUOTE, _DEMO, _TASK], np.minimum(topic, 14))
    # Weak deals raise concerns that stay open; in healthy ones they are rare (talk moves on).
    talk = topic <= 14
    topic = np.where(talk & (topic != 11) & (sig[1] < 0.22 * _sigmoid(-2 * h - 0.5)), 11, topic)
    topic = np.where(talk & (topic == 11) & (sig[1] > 1 - 0.7 * _sigmoid(2 * h)), 14, topic)
    # Only deals with a competitor talk about one; elsewhere the topic is mostly a plain check-in,
    # sometimes an explicit "no other vendors" (a negation the detector must not count).
    no_competitor = (topic == _COMPETITOR_TOPIC) & (deal["competitor"][row_deal] < 0)
    topic = np.where(no_competitor & (rng.random(r) < 0.7), 14, topic)
    negated = np.where(topic == _COMPETITOR_TOPIC, no_competitor, rng.random(r) < 0.15)

    quote, demo = np.flatnonzero(pattern == _QUOTE_SILENT), np.flatnonzero(pattern == _DEMO_SILENT)
    extra_deal = np.concatenate([quote, demo])
    extra_t = np.concatenate([quote_at[quote], demo_at[demo]])
    extra_kind = np.r_[np.full(len(quote), 4), np.full(len(demo), 5)]
    rows = _Rows(t, kind, row_deal, deal["account"][row_deal], topic, negated)
    extra = _Rows(extra_t, extra_kind, extra_deal, deal["account"][extra_deal],
                  np.where(extra_kind == 4, _QUOTE, _DEMO), np.zeros(len(extra_deal), dtype=bool))
    return _Rows.concat([rows, extra])


def _account_rows(w: _World) -> _Rows:
    """ERP-side conversations without a deal: replenishment calls and complaints."""
    rng, acc = w.rng, w.acc
    buyers = np.flatnonzero(acc["ordering"] & (np.arange(w.n) > 0))
    count = rng.poisson(1.5, len(buyers)) + acc["broken"][buyers]
    account = np.repeat(buyers, count)
    r = len(account)
    t = w.now - rng.uniform(0.5, 180, r) * DAY
    kind = rng.choice([0, 1, 3], r, p=[0.35, 0.45, 0.2])
    complaint_share = np.where(acc["broken"][account], 0.6, 0.3)
    topic = np.where(rng.random(r) < complaint_share, _COMPLAINT, _REPLENISH)
    negated = (topic == _COMPLAINT) & (rng.random(r) < 0.2)
    # Seed 002's recent CRM interactions with Alfa: portfolio talk, a datasheet request, no complaints.
    alfa_t = w.now - np.array([12.4, 8.6, 20.2]) * DAY
    return _Rows(np.r_[t, alfa_t], np.r_[kind, 1, 0, 3], np.full(r + 3, -1), np.r_[account, 0, 0, 0],
                 np.r_[topic, _PORTFOLIO, _DATASHEET, _COMPLAINT], np.r_[negated, False, False, True])


def _lead_visits(w: _World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Web visits of leads: (time, lead, page index)."""
    rng, lead = w.rng, w.lead
    n = len(lead["ids"])
    count = rng.poisson(np.array([4.0, 8.0, 6.0, 9.0, 7.0, 3.0])[lead["status"]])
    row_lead = np.repeat(np.arange(n), count)
    r = len(row_lead)
    created = lead["created"].astype(float)
    t = created[row_lead] + rng.random(r) * (w.now - created)[row_lead]
    topics = np.array([p[0] for p in _PAGES])
    first = np.array([np.flatnonzero(topics == i)[0] for i in _INTERESTS])
    size = np.array([int((topics == i).sum()) for i in _INTERESTS])
    interest = rng.integers(0, len(_INTERESTS), n)
    interest[0] = _INTERESTS.index("cloud-migration")
    interest = interest[row_lead]
    focused = first[interest] + (rng.random(r) * size[interest]).astype(int)
    page = np.where(rng.random(r) < 0.55, focused, rng.integers(0, len(_PAGES), r))
    cloud = np.flatnonzero(topics == "cloud-migration")
    pricing, enterprise, roi, demo = (_PAGE_PATHS.index(path) for path in (
        "/pricing", "/pricing/enterprise", "/resources/roi/calculator", "/demo-request"))
    special_lead = np.r_[np.zeros(6, dtype=int), 1, 1, 1, 2, 2, 2]
    special_page = np.r_[cloud[np.arange(6) % len(cloud)], pricing, enterprise, demo, roi, pricing, demo]
    special_days = np.r_[6.6, 5.2, 4.1, 3.3, 1.8, 0.7, 9.0, 6.0, 2.0, 12.0, 5.0, 3.0]
    return (np.r_[t, w.now - special_days * DAY], np.r_[row_lead, special_lead], np.r_[page, special_page])


def _activities(w: _World) -> tuple[pd.DataFrame, np.ndarray]:
    rng, acc, con = w.rng, w.acc, w.con
    talk = _Rows.concat([_deal_rows(w), _account_rows(w)])
    r = len(talk.t)
    t = _office_hours(np.asarray(talk.t, dtype=np.int64))
    account = talk.account
    health = np.where(talk.deal >= 0, w.deal["health"][np.maximum(talk.deal, 0)], 0.0)

    # Who was on the other side; champion-only accounts talk to nobody else lately (multi-threading gap).
    with_contact = np.isin(talk.type, [0, 1, 2, 4, 5])
    offset, count = con["offset"][account], con["count"][account]
    contact = np.where(with_contact, offset + (rng.random(r) * count).astype(int), -1)
    open_accounts = np.unique(w.deal["account"][~w.deal["closed"]])
    champion_only = _pick(rng, open_accounts, 0.25, w.n)
    # Weak deals stay single-threaded on the champion; healthy ones reach the economic buyer.
    on_deal, pick = with_contact & (talk.deal >= 0), w.signal.random(r)
    contact = np.where(on_deal & (pick < 0.6 * _sigmoid(-1.5 * health - 0.5)), offset, contact)
    contact = np.where(on_deal & (pick > 1 - 0.3 * _sigmoid(1.5 * health - 0.5)), offset + 1, contact)
    contact = np.where(with_contact & champion_only[account] & (t > w.now - 30 * DAY), offset, contact)

    # The buyer's side writes and calls in more on healthy deals; weak ones are rep-driven.
    inbound_share = np.array([0.45, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0])[talk.type] * np.where(
        talk.deal >= 0, 2 * _sigmoid(0.9 * health), 1.0)
    direction = np.where(np.isin(talk.type, [3, 6]), -1, (rng.random(r) >= inbound_share).astype(int))
    direction[(talk.deal < 0) & (talk.topic == _DATASHEET)] = 0

    subject, body = _talk_text(w, talk, contact, direction)
    last_engaged = np.full(len(con["ids"]), -1, dtype=np.int64)
    engaged = contact >= 0
    np.maximum.at(last_engaged, contact[engaged], t[engaged])

    visit_t, visit_lead, page = _lead_visits(w)
    visit_t = np.minimum(np.asarray(visit_t, dtype=np.int64) // 60 * 60, w.now - 60)
    v = len(visit_t)
    all_t = np.r_[t, visit_t]
    order = np.argsort(all_t, kind="stable")
    none_r, none_v = np.full(r, -1), np.full(v, -1)
    columns = {
        "activity_id": _ids("ACT-", r + v, max(7, len(str(r + v)))),
        "occurred_at": _times(all_t[order]),
        "type": _obj(ACTIVITY_TYPES)[np.r_[talk.type, np.full(v, 7)][order]],
        "deal_id": _ref(w.deal["ids"], np.r_[talk.deal, none_v][order]),
        "account_id": _ref(acc["ids"], np.r_[account, none_v][order]),
        "lead_id": _ref(w.lead["ids"], np.r_[none_r, visit_lead][order]),
        "contact_id": _ref(con["ids"], np.r_[contact, none_v][order]),
        "direction": _ref(_obj(("inbound", "outbound")), np.r_[direction, np.zeros(v, dtype=int)][order]),
        "subject": np.r_[subject, _obj([p[2] for p in _PAGES])[page]][order],
        "body": np.r_[body, _obj([SITE + p[1] for p in _PAGES])[page]][order],
    }
    return _frame("activities", columns), last_engaged


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _office_hours(t: np.ndarray) -> np.ndarray:
    """Squeeze each time into 07:00-19:00 of its own day, to the minute: reps do not call at 4 am."""
    day = t // DAY * DAY
    return day + (7 * 3600 + (t - day) // 2) // 60 * 60


def _talk_text(w: _World, talk: _Rows, contact: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Subject and body from the topic templates, slots filled column-wise."""
    rng, r = w.rng, len(talk.t)
    texts, topic_of, neg_of = [], [], []
    for i, (_, positive, negative) in enumerate(_TOPICS):
        for neg, group in ((False, positive), (True, negative)):
            texts += group
            topic_of += [i] * len(group)
            neg_of += [neg] * len(group)
    pre, slot, post = _split_templates(tuple(texts))
    key = np.array(topic_of) * 2 + np.array(neg_of)
    first = np.searchsorted(key, np.arange(2 * len(_TOPICS)))
    size = np.bincount(key, minlength=2 * len(_TOPICS))
    negated = talk.negated & (size[talk.topic * 2 + 1] > 0)
    cell = talk.topic * 2 + negated
    template = first[cell] + (rng.random(r) * size[cell]).astype(int)

    slot_of = slot[template]
    value = np.full(r, "", dtype=object)
    account = talk.account
    fill = {
        "contact": lambda m: w.con["first"][np.where(contact[m] >= 0, contact[m], w.con["offset"][account[m]])],
        "competitor": lambda m: _obj(COMPETITORS)[np.where(talk.deal[m] >= 0, w.deal["competitor"][
            np.maximum(talk.deal[m], 0)], -1) % len(COMPETITORS)],
        "date": lambda m: _day_month(w.today + rng.integers(14, 181, int(m.sum()))),
        "pct": lambda m: _obj(("5", "8", "10", "12", "15", "20"))[rng.integers(0, 6, int(m.sum()))],
        "erp": lambda m: _obj(ERPS)[w.acc["erp"][account[m]]],
        "product": lambda m: w.prod["names"][w.prod["main"][w.acc["family"][account[m]]]],
    }
    for name, source in fill.items():
        rows = slot_of == name
        if rows.any():
            value[rows] = source(rows)
    body = pre[template] + value + post[template]
    subjects = _obj([s for s, _, _ in _TOPICS])
    prefix = np.where((talk.type == 0) & (direction == 0), "Re: ", _obj(_TYPE_PREFIX)[talk.type]).astype(object)
    return prefix + subjects[talk.topic], body


def _day_month(days: np.ndarray) -> np.ndarray:
    stamp = np.asarray(days).astype("datetime64[D]")
    month = stamp.astype("datetime64[M]")
    day_of_month = (stamp - month).astype(int) + 1
    return day_of_month.astype(str).astype(object) + " " + _obj(_MONTHS)[month.astype(int) % 12]


def _content(w: _World) -> pd.DataFrame:
    rows = [tuple(str(v).replace("{year}", str(w.year)) for v in item) for item in _CONTENT]
    k = len(rows)
    return _frame("content", {
        "content_id": _ids("CNT-", k, 3), "title": _obj([r[0] for r in rows]), "type": _obj([r[1] for r in rows]),
        "topics": _obj([r[2] for r in rows]), "industries": _obj([r[3] for r in rows]),
        "competitor": _obj([r[4] for r in rows]), "url": _obj([f"{SITE}/resources/{r[5]}" for r in rows]),
    })


# ---------------------------------------------------------------- public API

def generate_company(as_of: date | str | pd.Timestamp, accounts: int = 300, seed: int = 7) -> dict[str, pd.DataFrame]:
    """All twelve canonical tables of the sample company as of a day, as CSV-ready string frames.

    Every event lies before the as-of day (00:00 UTC); only open deals' close
    dates, contract ends and invoice due dates may lie after it.
    """
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    day = as_utc(pd.Timestamp(as_of)).normalize()
    now = int(day.value // 10**9)
    w = _World(rng=np.random.default_rng(seed), now=now, today=now // DAY, n=int(accounts), year=day.year,
               signal=np.random.default_rng([seed, 1]), tail=np.random.default_rng([seed, 2]))
    tables: dict[str, pd.DataFrame] = {}
    tables["products"], tables["stock"] = _products(w)
    tables["accounts"] = _accounts(w)
    tables["contracts"] = _contracts(w)
    tables["orders"], tables["order_lines"] = _orders(w)
    tables["invoices"] = _invoices(w)
    _contact_people(w)
    tables["deals"] = _deals(w)
    tables["leads"] = _leads(w)
    tables["activities"], last_engaged = _activities(w)
    tables["contacts"] = _contacts(w, last_engaged)
    tables["content"] = _content(w)
    return {name: tables[name] for name in TABLES}


def write_company(directory: Path | str, as_of: date | str | pd.Timestamp, accounts: int = 300,
                  seed: int = 7) -> dict[str, int]:
    """Write one `<table>.csv` per canonical table into `directory`; return the row counts."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, frame in generate_company(as_of, accounts, seed).items():
        frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
        counts[name] = len(frame)
    return counts
