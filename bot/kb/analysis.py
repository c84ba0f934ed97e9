"""Word normalisation before stemming: contractions, irregular verbs, British/American spelling.

Snowball stems regular inflections ("cancelling" -> "cancel") but not irregular ones ("bought"
stays "bought", not "buy"), does not split contractions ("doesn't"), and keeps the two spellings
of one English word apart ("programme"/"program", "colour"/"color", "personalise"/"personalize").
`normalise` maps one lowercased word to the words it stands for, in the articles' (British)
spelling, so articles, questions and thesaurus phrases all meet on the same words. The tables are
general English, not written for any article or question.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Apostrophe-less contractions customers type ("dont", "wheres"); words that are also English
#: words in their own right ("ill", "wed", "id", "its", "were", "well", "shell") are left alone.
_BARE_CONTRACTIONS = {
    "dont": "do not", "doesnt": "does not", "didnt": "did not", "isnt": "is not", "arent": "are not",
    "wasnt": "was not", "werent": "were not", "wont": "will not", "cant": "can not", "cannot": "can not",
    "couldnt": "could not", "wouldnt": "would not", "shouldnt": "should not", "hasnt": "has not",
    "havent": "have not", "hadnt": "had not", "mustnt": "must not", "neednt": "need not", "aint": "is not",
    "im": "i am", "ive": "i have", "youre": "you are", "youve": "you have", "theyre": "they are",
    "theyve": "they have", "weve": "we have", "whats": "what is", "wheres": "where is", "whos": "who is",
    "hows": "how is", "thats": "that is", "theres": "there is", "heres": "here is", "whens": "when is",
}
#: Suffixes of contractions written with an apostrophe ("you'll", "i'd").
_SUFFIXES = {"n't": " not", "'re": " are", "'ve": " have", "'ll": " will", "'m": " am", "'d": " would"}
_IRREGULAR_NOT = {"won't": "will not", "can't": "can not", "shan't": "shall not", "ain't": "is not"}

#: Past tenses and participles of common irregular English verbs -> the base form.
_IRREGULAR = {
    "arose": "arise", "arisen": "arise", "ate": "eat", "eaten": "eat", "began": "begin", "begun": "begin",
    "bent": "bend", "bitten": "bite", "blew": "blow", "blown": "blow",
    "bought": "buy", "brought": "bring", "broke": "break", "broken": "break",
    "built": "build", "burnt": "burn", "caught": "catch", "chose": "choose", "chosen": "choose",
    "came": "come", "dealt": "deal", "did": "do", "does": "do", "done": "do", "drew": "draw", "drawn": "draw",
    "drank": "drink", "drunk": "drink", "drove": "drive", "driven": "drive", "fallen": "fall",
    "fed": "feed", "felt": "feel", "fought": "fight", "found": "find", "flew": "fly", "flown": "fly",
    "forgot": "forget", "forgotten": "forget", "forgave": "forgive", "forgiven": "forgive", "froze": "freeze",
    "frozen": "freeze", "gave": "give", "given": "give", "got": "get", "gotten": "get", "went": "go",
    "gone": "go", "grew": "grow", "grown": "grow", "heard": "hear", "hid": "hide", "hidden": "hide",
    "held": "hold", "kept": "keep", "knew": "know", "known": "know", "laid": "lay",
    "left": "leave", "lent": "lend", "lost": "lose", "made": "make", "meant": "mean", "met": "meet",
    "paid": "pay", "overpaid": "overpay", "prepaid": "prepay", "rang": "ring", "rung": "ring", "ran": "run",
    "rode": "ride", "ridden": "ride", "risen": "rise", "said": "say", "sat": "sit",
    "saw": "see", "seen": "see", "sought": "seek", "sold": "sell", "sent": "send", "shook": "shake",
    "shaken": "shake", "shone": "shine", "shot": "shoot", "showed": "show", "shown": "show",
    "shrank": "shrink", "shrunk": "shrink", "slept": "sleep", "spoke": "speak", "spoken": "speak",
    "spent": "spend", "spun": "spin", "stood": "stand", "stole": "steal", "stolen": "steal",
    "stuck": "stick", "struck": "strike", "swore": "swear", "sworn": "swear", "took": "take",
    "taken": "take", "taught": "teach", "tore": "tear", "torn": "tear", "told": "tell", "thought": "think",
    "threw": "throw", "thrown": "throw", "understood": "understand", "woke": "wake", "woken": "wake",
    "wore": "wear", "worn": "wear", "won": "win", "wrote": "write", "written": "write",
    "withdrew": "withdraw", "withdrawn": "withdraw", "mistook": "mistake", "mistaken": "mistake",
}

#: American spellings -> British ones (the articles' spelling). Regular -ize/-yze and -or/-our
#: families are handled by the rules below; this lists the words no rule covers.
_AMERICAN = {
    "program": "programme", "programs": "programmes", "catalog": "catalogue", "catalogs": "catalogues",
    "jewelry": "jewellery", "gray": "grey", "pajamas": "pyjamas", "mom": "mum", "moms": "mums",
    "center": "centre", "centers": "centres", "fiber": "fibre", "theater": "theatre", "liter": "litre",
    "liters": "litres", "centimeter": "centimetre", "centimeters": "centimetres", "millimeter": "millimetre",
    "millimeters": "millimetres", "kilometer": "kilometre", "kilometers": "kilometres", "meters": "metres",
    "aluminum": "aluminium", "license": "licence", "defense": "defence", "offense": "offence",
    "cozy": "cosy", "plow": "plough", "skeptical": "sceptical",
    "enrollment": "enrolment", "fulfill": "fulfil", "fulfillment": "fulfilment", "installment": "instalment",
    "installments": "instalments", "tire": "tyre", "tires": "tyres", "zipcode": "postcode",
}
#: -or words whose British form is -our ("color" -> "colour"), with their inflections.
_OUR = re.compile(r"^(col|fav|flav|hon|hum|lab|neighb|beha?vi|harb|rum|arm|vap|od|savi|val|vig|rig|clam|glam|"
                  r"endeav|parl|splend|ard|sav)or(s|ed|ing|ite|ites|ful|less|able)?$")
#: -ize/-yze/-ization (American and Oxford) -> -ise/-yse/-isation; a stem of 3+ letters, so "size",
#: "prize" and "seize" are left alone, and neither are the compounds of "size" ("oversized").
_IZE = re.compile(r"^([a-z]{3,})(i|y)z(e|es|ed|ing|ation|ations|er|ers)$")
_SIZE = re.compile(r"^(over|under|up|down|re|plus|full|life|bite|king|queen|pint|out|mid|super|cap)siz")


def _spelling(word: str) -> str:
    if word in _AMERICAN:
        return _AMERICAN[word]
    m = _OUR.match(word)
    if m:
        return f"{m.group(1)}our{m.group(2) or ''}"
    m = _IZE.match(word)
    if m and not _SIZE.match(word):
        return f"{m.group(1)}{m.group(2)}s{m.group(3)}"
    return word


def expand_contraction(word: str) -> str:
    """'doesn't' -> 'does not', 'dont' -> 'do not', "we'll" -> 'we will'; other words unchanged."""
    if word in _BARE_CONTRACTIONS:
        return _BARE_CONTRACTIONS[word]
    if word in _IRREGULAR_NOT:
        return _IRREGULAR_NOT[word]
    for suffix, full in _SUFFIXES.items():
        if word.endswith(suffix) and len(word) > len(suffix):
            return word[: -len(suffix)] + full
    return word


def normalise(word: str) -> list[str]:
    """The words a lowercased word stands for: contraction expanded, irregular verb to its base
    form, American spelling to British ("bought" -> ["buy"], "didn't" -> ["do", "not"])."""
    return list(word_forms(word))


@lru_cache(maxsize=65536)  # a language has few words and every article and question repeats them
def word_forms(word: str) -> tuple[str, ...]:
    """`normalise` as a tuple, cached: what the tokenizer calls for every word."""
    out = []
    for w in expand_contraction(word).split():
        w = w.removesuffix("'s").replace("'", "")
        if w:
            out.append(_spelling(_IRREGULAR.get(w, w)))
    return tuple(out)
