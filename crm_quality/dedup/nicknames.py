"""Given names and the short forms people also go by, declared once: 'Bob' and 'Robert' agree.

Each entry maps a formal name to its common short forms (lowercase, accents folded). A short form
shared by two formal names (Chris: Christopher, Christine) points at neither: it is left as written.
"""

from __future__ import annotations

NICKNAMES: dict[str, tuple[str, ...]] = {
    "abigail": ("abby", "gail"), "albert": ("al", "bert"), "alexander": ("alex", "sasha", "sandy"),
    "alexandra": ("lexi", "sandra"), "andrew": ("andy", "drew"), "anthony": ("tony",),
    "barbara": ("barb", "babs"), "benjamin": ("ben", "benny"), "catherine": ("cathy", "cat"),
    "charles": ("charlie", "chuck"), "christopher": ("kit",), "daniel": ("dan", "danny"),
    "david": ("dave", "davy"), "deborah": ("deb", "debbie"), "donald": ("don", "donnie"),
    "dorothy": ("dot", "dottie"), "edward": ("ed", "eddie", "ted", "ned"),
    "elizabeth": ("liz", "beth", "betty", "lizzie", "eliza", "libby"), "eleanor": ("ellie", "nell"),
    "frederick": ("fred", "freddie"), "gregory": ("greg",), "harold": ("harry", "hal"),
    "henry": ("hank", "hal"), "jacob": ("jake",), "james": ("jim", "jimmy", "jamie"),
    "jennifer": ("jen", "jenny"), "jessica": ("jess", "jessie"), "john": ("jack", "johnny"),
    "jonathan": ("jon",), "joseph": ("joe", "joey"), "joshua": ("josh",), "katherine": ("kate", "kathy", "katie", "kat"),
    "kenneth": ("ken", "kenny"), "lawrence": ("larry",), "leonard": ("leo", "len", "lenny"),
    "margaret": ("maggie", "peggy", "meg", "greta"), "matthew": ("matt",), "michael": ("mike", "mick", "mikey"),
    "nathaniel": ("nate", "nat"), "nicholas": ("nick", "nicky"), "patricia": ("pat", "patty", "trish"),
    "peter": ("pete",), "philip": ("phil",), "rebecca": ("becky", "becca"), "richard": ("rick", "dick", "rich", "ricky"),
    "robert": ("bob", "rob", "bobby", "robbie", "bert"), "ronald": ("ron", "ronnie"),
    "samantha": ("sam", "sammy"), "samuel": ("sam", "sammy"), "stephen": ("steve", "stevie"),
    "steven": ("steve", "stevie"), "susan": ("sue", "susie"), "theodore": ("ted", "teddy", "theo"),
    "thomas": ("tom", "tommy"), "timothy": ("tim", "timmy"), "victoria": ("vicky", "tori"),
    "walter": ("walt", "wally"), "william": ("bill", "will", "billy", "willy", "liam"),
    "zachary": ("zach", "zack"),
    "johannes": ("hans", "johann", "jo"), "josef": ("sepp", "seppi"), "wolfgang": ("wolf",),
    "friedrich": ("fritz",), "franziska": ("franzi",), "jose": ("pepe",), "francisco": ("paco", "pancho"),
    "manuel": ("manolo",), "dolores": ("lola",), "guillermo": ("memo",), "giuseppe": ("beppe", "peppe"),
    "francesco": ("franco", "checco"), "alessandro": ("sandro",), "jean baptiste": ("jb",),
}


def canonical_first_names() -> dict[str, str]:
    """Short form -> formal name, for the short forms that belong to exactly one formal name."""
    owners: dict[str, set[str]] = {}
    for formal, shorts in NICKNAMES.items():
        for short in shorts:
            owners.setdefault(short, set()).add(formal)
    return {short: next(iter(formal)) for short, formal in owners.items() if len(formal) == 1}
