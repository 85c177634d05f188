"""The sample company's vocabulary: names, regions, product families and lines, content, page paths."""

from __future__ import annotations

import numpy as np

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

COUNTRIES = ("RO", "IT", "DE", "FR", "ES", "NL", "PL", "AT", "GB")
COUNTRY_P = (0.20, 0.15, 0.15, 0.10, 0.10, 0.08, 0.08, 0.06, 0.08)
LEGAL = ("SRL", "S.r.l.", "GmbH", "SAS", "S.L.", "B.V.", "Sp. z o.o.", "GmbH", "Ltd")
TLD = ("ro", "it", "de", "fr", "es", "nl", "pl", "at", "co.uk")
STEMS = (
    "Nordwell", "Carpathia", "Danubia", "Brightmoor", "Silverline", "Helixa", "Meridian", "Vitalis",
    "Orion", "Altura", "Bellmed", "Corvia", "Lumen", "Stellar", "Ardent", "Bluegate", "Cedar", "Everest",
    "Fjordline", "Granite", "Harbor", "Ionic", "Juniper", "Keystone", "Larch", "Mistral", "Novara",
    "Oakridge", "Pinnacle", "Quarry", "Redwood", "Solace", "Terra", "Valora", "Westbrook", "Yarrow",
    "Zenith", "Aurora", "Borealis", "Castellan", "Driftwood", "Emberly", "Falcon", "Greystone",
    "Ironbridge", "Jasper", "Kestrel", "Lindenhof", "Montclair", "Northgate", "Oberon", "Pavia",
    "Riverton", "Sorin", "Verdant", "Wexford", "Sanitas", "Medora", "Clarion", "Astera",
)
KINDS = (
    ("Medical", "Clinics", "Hospital Group", "Health Supplies"),
    ("Industries", "Manufacturing", "Precision Works", "Components"),
    ("Logistics", "Freight", "Supply Chain", "Distribution"),
    ("Pharmacies", "Retail", "Stores", "Drugstores"),
    ("Consulting", "Advisory", "Partners", "Services"),
    ("Software", "Systems", "Digital", "Labs"),
)
REGIONS = (
    "North", "South", "East", "West", "Central", "Adriatic", "Alpine", "Baltic", "Danube", "Rhine",
    "Coastal", "Valley", "Highlands", "Metro", "Lakeside", "Riverside", "Capital", "Border", "Delta", "Plains",
)
FIRST = (
    "Elena", "Andrei", "Maria", "Luca", "Sofia", "Jonas", "Claire", "Pablo", "Anna", "Tomasz", "Sarah",
    "Mihai", "Giulia", "Felix", "Lea", "Diego", "Eva", "Piotr", "Emma", "Stefan", "Ioana", "Marco", "Laura",
    "Jan", "Camille", "Javier", "Katarzyna", "Oliver", "Ana", "Matteo", "Hannah", "Radu", "Chiara", "Lukas",
    "Ines", "Marta", "Victor", "Nora", "Bogdan", "Alice",
)
LAST = (
    "Popescu", "Rossi", "Muller", "Martin", "Garcia", "de Vries", "Kowalski", "Huber", "Smith", "Ionescu",
    "Bianchi", "Schmidt", "Bernard", "Lopez", "Jansen", "Nowak", "Gruber", "Jones", "Constantin", "Romano",
    "Fischer", "Dubois", "Sanchez", "Bakker", "Wisniewski", "Wagner", "Taylor", "Stan", "Ricci", "Weber",
    "Moreau", "Fernandez", "Visser", "Lewandowski", "Bauer", "Brown", "Dumitru", "Greco", "Becker", "Laurent",
)
ROLE_TITLES = (
    ("Head of Operations", "Purchasing Manager", "Supply Chain Manager", "Head of Biomedical Engineering",
     "Operations Director"),
    ("CFO", "VP Finance", "Head of Procurement", "Managing Director", "Chief Operating Officer"),
    ("IT Director", "Head of IT", "CTO", "IT Architect", "Biomedical Engineering Lead"),
    ("Warehouse Supervisor", "Nurse Manager", "Buyer", "Inventory Planner", "Lab Technician"),
    ("Quality Manager", "Legal Counsel", "Executive Assistant", "Office Manager", "Compliance Officer"),
)
LEAD_TITLES = (  # rows: C-level, VP, Director, Manager, Analyst
    ("CEO", "CFO", "CIO", "COO"),
    ("VP Operations", "VP Supply Chain", "VP Information Technology", "VP Procurement"),
    ("IT Director", "Director of Procurement", "Director of Nursing", "Logistics Director"),
    ("Purchasing Manager", "Warehouse Manager", "IT Manager", "Pharmacy Manager"),
    ("Supply Chain Analyst", "Procurement Analyst", "Business Analyst", "Data Analyst"),
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")

# Product families: equipment, its main consumable, a companion consumable
# (compatible with the main one: the natural cross-sell), a spare part.
FAMILIES = (
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
ECONOMY = 6  # families 0..5 also sell an economy variant of the main consumable (its substitute)
SERVICES = ("Installation & Commissioning", "Preventive Maintenance Plan (annual)",
             "Stepwise Inventory Cloud (annual licence)", "ERP Integration Package", "Staff Training Day",
             "Cloud Migration Service")
ENTERPRISE_ONLY = ("Ultrasound Scanner US-30", "Lab Analyzer LA-9", "LA-9 Pipetting Needle",
                    "ERP Integration Package", "Cloud Migration Service")
FAMILY_P = (0.16, 0.16) + (0.068,) * 10  # the two families the named situations rely on are common
ALFA_FAMILY, STOCKOUT_FAMILY = 0, 1
# Where the named families sell most (index into INDUSTRIES): medical ones to healthcare, scanning and
# labelling to logistics and retail.
FAMILY_INDUSTRY = (0, 0, 0, 0, 0, 0, 0, 2, 3, 4, 0, 0)
# The long tail: product lines of 12 products each (4 variants x 3 pack sizes), with the industry that
# buys each line most.  They carry no compatibility links; what ties them together is that accounts buy
# a line's products together and an industry favours its own lines.
LINES = (
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
LINE_VARIANTS = {
    "consumables": (("Standard", "Sterile", "Premium", "Eco"), ("(pack of 10)", "(pack of 50)", "(box of 200)")),
    "spare_parts": (("Type A", "Type B", "Type C", "Universal"), ("S", "M", "L")),
    "equipment": (("Basic", "Standard", "Pro", "Compact"), ("Grey", "White", "Blue")),
}

# Activity text.  Each template holds at most one {slot}; topics 0-14 are deal
# conversation, 15-17 fixed per type, 18-21 account-level (ERP side).
TOPICS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
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
QUOTE, DEMO, TASK, COMPLAINT, REPLENISH, PORTFOLIO, DATASHEET = 15, 16, 17, 18, 19, 20, 21
COMPETITOR_TOPIC = 1
# Relative topic weights for conversational activities (topics 0-14) by deal phase.
TOPIC_W = np.array([
    [10, 6, 8, 5, 1, 5, 8, 7, 5, 1, 2, 7, 12, 5, 18],   # prospecting, discovery
    [8, 7, 7, 8, 8, 7, 5, 5, 5, 10, 9, 7, 3, 3, 8],     # proposal, negotiation
    [9, 7, 7, 7, 5, 6, 6, 6, 5, 6, 6, 7, 7, 4, 12],     # closed history
], dtype=float)
# Type weights (email, call, meeting, note, quote_sent, demo, task) by the same phases.
TYPE_W = np.array([
    [0.38, 0.22, 0.12, 0.12, 0.01, 0.05, 0.10],
    [0.36, 0.20, 0.14, 0.10, 0.07, 0.03, 0.10],
    [0.37, 0.21, 0.13, 0.11, 0.04, 0.04, 0.10],
])
TYPE_PREFIX = ("", "Call: ", "Meeting: ", "Note: ", "", "", "", "")

# (topic, path, page title); a lead's interest topic biases which pages it reads.
PAGES = (
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
PAGE_PATHS = tuple(p[1] for p in PAGES)
INTERESTS = ("cloud-migration", "security", "integration", "pricing", "roi", "case-studies", "general")

_ALL_INDUSTRIES = ";".join(INDUSTRIES)
CONTENT = (  # title, type, topics, industries, competitor, slug
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
