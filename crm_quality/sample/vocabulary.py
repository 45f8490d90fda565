"""Word lists the sample generator draws from: names, places, phone plans, picklist spellings.

Everything here is data. Phone plans use real area codes with subscriber numbers that
`phonenumbers` accepts as valid, so that only injected defects are invalid.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    name: str
    state: str
    state_variants: tuple[str, ...]
    postal: str  # 9 = random digit, A = random capital letter, anything else literal
    area_code: str
    subscriber_digits: int
    subscriber_first: str  # digits a subscriber number may start with
    street_pattern: str  # {n} house number, {s} street name


@dataclass(frozen=True)
class Country:
    code: str
    weight: float
    spellings: tuple[str, ...]  # how exports write the country; the first is the clean form
    calling_code: str
    phone_formats: tuple[str, ...]  # {a} area code, {b} {c} subscriber halves, {s} subscriber
    cities: tuple[City, ...]
    streets: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    legal_suffixes: tuple[str, ...]
    tld: str
    free_mail: tuple[str, ...]
    salutations: tuple[str, ...]


_US_STREETS = ("Main Street", "Oak Avenue", "Maple Drive", "Park Avenue", "Washington Street",
               "Lake Road", "Cedar Lane", "Elm Street", "Pine Street", "Sunset Boulevard",
               "Highland Avenue", "Market Street", "Broadway", "Madison Avenue", "River Road")
_EN_FIRST = ("James", "Robert", "William", "Elizabeth", "Katherine", "Margaret", "Michael",
             "Jennifer", "Richard", "Thomas", "Daniel", "Christopher", "Patricia", "Susan",
             "Jonathan", "Alexander", "Samantha", "Rebecca", "Anthony", "Joseph", "Matthew",
             "Andrew", "Nicholas", "Victoria", "Abigail", "Benjamin", "Emily", "Olivia",
             "Charlotte", "Grace", "Hannah", "Lauren", "Megan", "Rachel", "Sarah", "Laura",
             "Aisha", "Priya", "Wei", "Hiroshi", "Santiago", "Zoë", "Renée", "Siobhán", "Seán",
             "Connor", "Declan", "Fiona", "Gregory", "Harold", "Isabel", "Julian", "Keith",
             "Leonard", "Natalie", "Oscar", "Philip", "Quentin", "Rosalind", "Trevor")
_EN_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Garcia",
            "Wilson", "Anderson", "Taylor", "Moore", "Martin", "Jackson", "White", "Harris",
            "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green",
            "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter",
            "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris",
            "Murphy", "Cook", "Rogers", "O'Brien", "McDonald", "MacLeod", "O'Connor", "McKenzie",
            "Fitzgerald", "Nguyen", "Patel", "Kim", "Chen", "Okafor", "Kowalski", "Novak",
            "Rossi", "Schwartz", "Goldberg", "Hernandez", "Lopez", "Bianchi", "Fischer",
            "Sullivan", "Donovan", "Whitfield", "Ashworth", "Pemberton", "Blackwood", "Harrington",
            "Lockhart", "Marsden", "Thornton", "Yardley", "Quinlan", "Ellsworth", "Kingsley")

COUNTRIES: tuple[Country, ...] = (
    Country(
        "US", 0.45,
        ("United States", "USA", "US", "U.S.", "U.S.A.", "United States of America", "usa"),
        "1",
        ("({a}) {b}-{c}", "{a}-{b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "{a}{b}{c}",
         "1-{a}-{b}-{c}", "+1{a}{b}{c}"),
        (
            City("New York", "NY", ("NY", "New York", "N.Y."), "10099", "212", 7, "23456789", "{n} {s}"),
            City("San Francisco", "CA", ("CA", "California", "Calif."), "94199", "415", 7, "23456789", "{n} {s}"),
            City("Chicago", "IL", ("IL", "Illinois", "Ill."), "60699", "312", 7, "23456789", "{n} {s}"),
            City("Boston", "MA", ("MA", "Massachusetts", "Mass."), "02199", "617", 7, "23456789", "{n} {s}"),
            City("Seattle", "WA", ("WA", "Washington", "Wash."), "98199", "206", 7, "23456789", "{n} {s}"),
            City("Austin", "TX", ("TX", "Texas", "Tex."), "78799", "512", 7, "23456789", "{n} {s}"),
            City("Denver", "CO", ("CO", "Colorado", "Colo."), "80299", "303", 7, "23456789", "{n} {s}"),
            City("Atlanta", "GA", ("GA", "Georgia", "Ga."), "30399", "404", 7, "23456789", "{n} {s}"),
        ),
        _US_STREETS, _EN_FIRST, _EN_LAST,
        ("Inc.", "Inc", "LLC", "Corp.", "Corporation", "Co."), "com",
        ("gmail.com", "yahoo.com", "outlook.com", "aol.com", "icloud.com"),
        ("Mr.", "Ms.", "Mrs.", "Dr."),
    ),
    Country(
        "GB", 0.15,
        ("United Kingdom", "UK", "GB", "Great Britain", "England", "U.K."),
        "44",
        ("+44 {a} {b} {c}", "0{a} {b} {c}", "(0{a}) {b}{c}", "+44 (0){a} {b} {c}", "0{a}{b}{c}"),
        (
            City("London", "", ("", "Greater London"), "EC1A 9AA", "20", 8, "378", "{n} {s}"),
            City("Manchester", "", ("", "Greater Manchester"), "M9 9AA", "161", 7, "2345678", "{n} {s}"),
            City("Birmingham", "", ("", "West Midlands"), "B9 9AA", "121", 7, "234567", "{n} {s}"),
            City("Edinburgh", "", ("", "Scotland"), "EH9 9AA", "131", 7, "2345678", "{n} {s}"),
        ),
        ("High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane",
         "Manor Road", "King's Road", "Queen Street", "Mill Lane", "Park Road"),
        _EN_FIRST, _EN_LAST,
        ("Ltd", "Ltd.", "Limited", "PLC", "plc"), "co.uk",
        ("gmail.com", "hotmail.co.uk", "btinternet.com", "outlook.com"),
        ("Mr", "Ms", "Mrs", "Dr", "Prof."),
    ),
    Country(
        "DE", 0.15,
        ("Germany", "Deutschland", "DE", "germany", "GER", "Bundesrepublik Deutschland"),
        "49",
        ("+49 {a} {b}{c}", "0{a} {b}{c}", "0{a}/{b}{c}", "0049 {a} {b} {c}", "+49 ({a}) {b}-{c}"),
        (
            City("Berlin", "Berlin", ("Berlin", "BE"), "10999", "30", 8, "2345678", "{s} {n}"),
            City("München", "Bayern", ("Bayern", "Bavaria", "BY"), "80999", "89", 8, "2345678", "{s} {n}"),
            City("Hamburg", "Hamburg", ("Hamburg", "HH"), "20999", "40", 8, "2345678", "{s} {n}"),
            City("Köln", "Nordrhein-Westfalen", ("Nordrhein-Westfalen", "NRW", "NW"), "50999", "221", 7, "2345678", "{s} {n}"),
        ),
        ("Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schillerstraße", "Goethestraße",
         "Lindenallee", "Bergstraße", "Kirchweg", "Friedrichstraße", "Mühlenweg"),
        ("Lukas", "Jürgen", "Klaus", "Stefan", "Andreas", "Thomas", "Michael", "Sabine", "Ursula",
         "Katrin", "Anja", "Jörg", "Björn", "Günter", "Sören", "Lena", "Leonie", "Mia", "Hannah",
         "Felix", "Maximilian", "Sophie", "Dörte", "Heinz", "Wolfgang", "Monika", "Petra",
         "Matthias", "Tobias", "Johanna", "Friederike", "Gisela", "Uwe", "Kai", "Ines"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
         "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
         "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
         "Hartmann", "von Bülow", "von der Heide", "Groß", "Weiß", "Jäger", "Köhler",
         "Lehmann", "Schmitz", "Krause", "Maier", "Vogel", "Friedrich", "Keller", "Günther"),
        ("GmbH", "AG", "GmbH & Co. KG", "Gmbh", "e.K."), "de",
        ("web.de", "gmx.de", "t-online.de", "gmail.com"),
        ("Herr", "Frau", "Dr.", "Prof. Dr."),
    ),
    Country(
        "FR", 0.10,
        ("France", "FR", "france", "République française", "FRA"),
        "33",
        ("+33 {a} {b} {c}", "0{a} {b} {c}", "0{a}.{b}.{c}", "+33 (0){a} {b} {c}", "0{a}{b}{c}"),
        (
            City("Paris", "Île-de-France", ("Île-de-France", "Ile-de-France", "IDF"), "75099", "1", 8, "23456789", "{n} {s}"),
            City("Lyon", "Auvergne-Rhône-Alpes", ("Auvergne-Rhône-Alpes", "ARA"), "69009", "4", 8, "23456789", "{n} {s}"),
            City("Marseille", "Provence-Alpes-Côte d'Azur", ("Provence-Alpes-Côte d'Azur", "PACA"), "13099", "4", 8, "23456789", "{n} {s}"),
        ),
        ("rue de la Paix", "avenue des Champs-Élysées", "boulevard Saint-Germain", "rue Victor Hugo",
         "place de la République", "rue du Faubourg Saint-Honoré", "quai de Valmy", "rue Lafayette"),
        ("Jean", "Pierre", "Marie", "Élodie", "Amélie", "François", "Hélène", "Jérôme", "Stéphane",
         "Céline", "Noël", "Zoé", "Loïc", "Gaëlle", "Chloé", "Théo", "Léa", "Camille", "Nicolas",
         "Sébastien", "Benoît", "Renée", "Margaux", "Antoine", "Mathilde", "Thibault", "Agnès"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
         "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "David", "Bertrand", "Roux",
         "Vincent", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau",
         "Chevalier", "de la Fontaine", "Gauthier", "Mercier", "Blanc", "Guérin", "Faure"),
        ("SA", "S.A.", "SARL", "SAS", "S.A.S."), "fr",
        ("orange.fr", "free.fr", "laposte.net", "gmail.com"),
        ("M.", "Mme", "Dr"),
    ),
    Country(
        "NL", 0.08,
        ("Netherlands", "NL", "Holland", "The Netherlands", "Nederland"),
        "31",
        ("+31 {a} {b} {c}", "0{a}-{b}{c}", "0{a} {b} {c}", "+31 (0){a} {b}{c}"),
        (
            City("Amsterdam", "Noord-Holland", ("Noord-Holland", "NH"), "1099 AA", "20", 7, "2345678", "{s} {n}"),
            City("Rotterdam", "Zuid-Holland", ("Zuid-Holland", "ZH"), "3099 AA", "10", 7, "2345678", "{s} {n}"),
            City("Utrecht", "Utrecht", ("Utrecht", "UT"), "3599 AA", "30", 7, "2345678", "{s} {n}"),
        ),
        ("Prinsengracht", "Keizersgracht", "Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg"),
        ("Daan", "Sem", "Lieke", "Sanne", "Bram", "Ruben", "Fleur", "Jeroen", "Maarten", "Anouk",
         "Femke", "Joost", "Koen", "Eva", "Thijs", "Niels", "Willem", "Marloes", "Gijs"),
        ("de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
         "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
         "Hendriks", "van Leeuwen", "Dekker", "van der Berg", "van der Meer", "Brouwer"),
        ("B.V.", "BV", "N.V."), "nl",
        ("ziggo.nl", "kpnmail.nl", "gmail.com"),
        ("Dhr.", "Mevr.", "Dr."),
    ),
    Country(
        "ES", 0.07,
        ("Spain", "ES", "España", "Espana", "ESP"),
        "34",
        ("+34 {a} {b} {c}", "{a} {b} {c}", "{a}{b}{c}", "0034 {a}{b}{c}"),
        (
            City("Madrid", "Madrid", ("Madrid", "Comunidad de Madrid", "MD"), "28099", "91", 7, "2345678", "{s} {n}"),
            City("Barcelona", "Cataluña", ("Cataluña", "Catalunya", "Catalonia", "CT"), "08099", "93", 7, "2345678", "{s} {n}"),
            City("Sevilla", "Andalucía", ("Andalucía", "Andalusia", "AN"), "41099", "954", 6, "2345678", "{s} {n}"),
        ),
        ("Calle Mayor", "Gran Vía", "Calle de Alcalá", "Paseo de Gracia", "Avenida de la Constitución"),
        ("José", "María", "Antonio", "Carmen", "Manuel", "Lucía", "Javier", "Sofía", "Álvaro",
         "Iñigo", "Begoña", "Nuria", "Raúl", "Adrián", "Ángel", "Inés", "Pilar", "Sergio"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
         "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz",
         "Álvarez", "Romero", "Peña", "Núñez", "de la Cruz", "Castillo"),
        ("S.L.", "S.A.", "SL", "S.L.U."), "es",
        ("gmail.com", "hotmail.es", "telefonica.net"),
        ("Sr.", "Sra.", "Dr."),
    ),
)

NICKNAMES: dict[str, tuple[str, ...]] = {
    "James": ("Jim", "Jimmy"), "Robert": ("Bob", "Rob", "Bobby"), "William": ("Bill", "Will"),
    "Elizabeth": ("Liz", "Beth", "Betty"), "Katherine": ("Kate", "Kathy"),
    "Margaret": ("Maggie", "Peggy"), "Michael": ("Mike",), "Jennifer": ("Jen", "Jenny"),
    "Richard": ("Rick", "Dick"), "Thomas": ("Tom",), "Daniel": ("Dan", "Danny"),
    "Christopher": ("Chris",), "Patricia": ("Pat", "Trish"), "Susan": ("Sue",),
    "Jonathan": ("Jon",), "Alexander": ("Alex",), "Samantha": ("Sam",), "Rebecca": ("Becky",),
    "Anthony": ("Tony",), "Joseph": ("Joe",), "Matthew": ("Matt",), "Andrew": ("Andy", "Drew"),
    "Nicholas": ("Nick",), "Victoria": ("Vicky",), "Abigail": ("Abby",), "Benjamin": ("Ben",),
    "Gregory": ("Greg",), "Harold": ("Harry",), "Leonard": ("Leo", "Len"), "Philip": ("Phil",),
    "Isabel": ("Izzy",), "Natalie": ("Nat",), "Maximilian": ("Max",), "Friederike": ("Frieda",),
    "Johanna": ("Hanna",), "Wolfgang": ("Wolf",), "Matthias": ("Matze",), "Tobias": ("Tobi",),
    "François": ("Fanfan",), "Nicolas": ("Nico",), "Sébastien": ("Seb",), "Antoine": ("Toni",),
    "José": ("Pepe",), "Manuel": ("Manolo",), "Francisco": ("Paco",), "Antonio": ("Toño",),
    "Willem": ("Wim",), "Johannes": ("Hans",),
}
"""Formal first name -> nicknames a duplicate record may use instead."""

BRAND_HEADS = ("Ac", "Bel", "Cor", "Dyn", "Ev", "Fal", "Gen", "Hy", "Ion", "Jun", "Kel", "Lum",
               "Mer", "Nov", "Or", "Pax", "Quan", "Ro", "Syn", "Tek", "Ul", "Vor", "Wex", "Xen",
               "Yor", "Zen", "Alt", "Bri", "Cal", "Del", "Ex", "Flo", "Gra", "Hal", "Ind", "Kin")
BRAND_VOWELS = ("a", "o", "i", "e", "u", "")
BRAND_TAILS = ("tech", "nex", "gen", "via", "tron", "ly", "co", "ra", "ton", "dex", "mark",
               "well", "field", "stone", "bridge", "point", "sys", "wave", "line", "core")
SECTORS = ("Analytics", "Systems", "Logistics", "Foods", "Energy", "Robotics", "Consulting",
           "Software", "Health", "Capital", "Media", "Labs", "Industries", "Solutions",
           "Networks", "Partners", "Trading", "Pharma", "Motors", "Textiles", "Insurance",
           "Construction", "Retail", "Biotech", "Aerospace")
COMPANY_QUALIFIERS = ("", "", "", "", "Group", "Holdings", "International", "Global", "Europe",
                      "Worldwide")

TITLES = ("CEO", "CTO", "CFO", "VP Sales", "Head of Marketing", "Sales Manager",
          "Account Executive", "Procurement Manager", "Data Engineer", "Operations Director",
          "IT Manager", "Office Manager", "Chief Revenue Officer", "Product Manager", "Buyer")

PICKLIST_SPELLINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "industry": {
        "Technology": ("Technology", "Tech", "technology", "IT / Software", "Hi-Tech"),
        "Manufacturing": ("Manufacturing", "manufacturing", "Manufactoring", "Mfg"),
        "Healthcare": ("Healthcare", "Health Care", "health-care", "Helthcare"),
        "Finance": ("Finance", "Financial Services", "finance", "Banking"),
        "Retail": ("Retail", "retail", "Retial", "Retail & Consumer"),
        "Energy": ("Energy", "energy", "Utilities", "Enrgy"),
        "Education": ("Education", "education", "Edu"),
        "Logistics": ("Logistics", "Transportation", "logistics", "Logisitics"),
    },
    "lead_status": {
        "New": ("New", "new", "NEW", "Open - Not Contacted"),
        "Working": ("Working", "Working - Contacted", "working", "In Progress"),
        "Qualified": ("Qualified", "qualified", "Qualifed", "MQL"),
        "Unqualified": ("Unqualified", "Disqualified", "unqualified", "Not Qualified"),
        "Converted": ("Converted", "converted", "Closed - Converted"),
    },
    "opportunity_stage": {
        "Prospecting": ("Prospecting", "prospecting", "Prospect"),
        "Qualification": ("Qualification", "Qualify", "qualification"),
        "Proposal": ("Proposal", "Proposal/Price Quote", "proposal", "Propsal"),
        "Negotiation": ("Negotiation", "Negotiation/Review", "negotiation", "Negociation"),
        "Closed Won": ("Closed Won", "closed won", "Closed-Won", "WON", "Won"),
        "Closed Lost": ("Closed Lost", "closed lost", "Closed-Lost", "Lost", "LOST"),
    },
    "activity_type": {
        "Call": ("Call", "call", "Phone Call", "Phone", "CALL"),
        "Email": ("Email", "E-mail", "email", "eMail", "Mail"),
        "Meeting": ("Meeting", "meeting", "Mtg", "Meeting - In Person", "Video Call"),
        "Task": ("Task", "task", "To Do", "To-do"),
    },
    "lead_source": {
        "Web": ("Web", "Website", "web", "Web Form"),
        "Referral": ("Referral", "referral", "Partner Referral", "Referal"),
        "Event": ("Event", "Trade Show", "Conference", "event"),
        "Cold Call": ("Cold Call", "cold call", "Outbound"),
        "Advertisement": ("Advertisement", "Ads", "Paid Ads", "Advertisment"),
    },
    "user_role": {
        "admin": ("admin", "Administrator", "System Administrator"),
        "sales_manager": ("sales_manager", "Sales Manager"),
        "sales_rep": ("sales_rep", "Sales Rep", "Account Executive"),
        "marketing": ("marketing", "Marketing User"),
        "support": ("support", "Support Agent"),
        "read_only": ("read_only", "Read Only"),
    },
}
"""Canonical picklist value -> the spellings a neglected CRM holds for it (first = canonical)."""

STAGE_PROBABILITY = {"Prospecting": 10, "Qualification": 20, "Proposal": 50,
                     "Negotiation": 75, "Closed Won": 100, "Closed Lost": 0}

SUBJECTS = ("Intro call", "Follow-up", "Demo", "Pricing discussion", "Quarterly review",
            "Contract renewal", "Onboarding", "Support escalation", "Lunch meeting",
            "Send proposal", "Check in", "Kick-off")

INVALID_EMAILS = ("{l}@", "{f} {l}@{d}", "{f}.{l}@@{d}", "{f}.{l}.{d}", "{f}.{l}@{dn}",
                  "@{d}", "{f}.{l}@{d}.", "{f},{l}@{d}")
"""Email shapes that fail syntax validation: {f} first, {l} last, {d} domain, {dn} no TLD."""

INVALID_PHONES = ("n/a", "tbd", "123", "0000000", "ask at reception", "+1 (000) 000-0000",
                  "555", "none", "x", "12-34")
INVALID_NUMBERS = ("TBD", "n/a", "ask Bob", "?", "approx. big", "-", "see notes")
IMPOSSIBLE_DATES = ("1985-02-30", "31.04.1990", "13/45/1979", "1978-13-01", "29.02.1983",
                    "00/12/1990", "1991-06-31")
