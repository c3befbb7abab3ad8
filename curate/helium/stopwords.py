"""Per-language stop words for the Gopher stop-word rule ("at least 2 of these words").

English is Gopher's own list (Rae et al. 2021: the, be, to, of, and, that, have, with). For the
other languages (the 24 official EU languages of Helium-1, plus a few large web languages) the list
is the same idea: a handful of the most frequent function words (articles, copulas, the commonest
prepositions and conjunctions), which any running text of a few dozen words contains and menus,
tables and lists of names do not. FineWeb-2 derives its lists from corpus frequencies; these are
hand-picked from the top of such frequency lists and can be replaced per language in the YAML
(`gopher_stop_words: {xx: [...]}`).

Languages without an entry (and languages counted in characters: zh, ja, th, ...) skip the rule.
"""

from __future__ import annotations

from collections.abc import Mapping

STOP_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("the", "be", "to", "of", "and", "that", "have", "with"),
    "bg": ("и", "на", "в", "за", "да", "се", "от", "е", "с", "не"),
    "cs": ("a", "se", "na", "je", "v", "že", "to", "s", "z", "do"),
    "da": ("og", "i", "at", "er", "det", "en", "til", "på", "som", "de"),
    "de": ("der", "die", "und", "in", "den", "von", "zu", "das", "mit", "ist"),
    "el": ("και", "το", "να", "του", "της", "η", "τα", "με", "σε", "για"),
    "es": ("de", "la", "que", "el", "en", "y", "los", "se", "del", "las"),
    "et": ("ja", "on", "ei", "et", "see", "ka", "oli", "kui", "mis", "ta"),
    "fi": ("ja", "on", "ei", "että", "se", "oli", "myös", "kun", "joka", "ovat"),
    "fr": ("de", "la", "le", "et", "les", "des", "en", "un", "du", "une"),
    "ga": ("an", "agus", "ar", "na", "is", "a", "le", "sé", "go", "i"),
    "hr": ("i", "je", "u", "na", "da", "se", "za", "su", "od", "s"),
    "hu": ("a", "az", "és", "hogy", "nem", "is", "egy", "van", "de", "meg"),
    "it": ("di", "e", "il", "la", "che", "in", "per", "un", "del", "è"),
    "lt": ("ir", "kad", "į", "yra", "su", "iš", "bet", "tai", "kaip", "buvo"),
    "lv": ("un", "ir", "ar", "uz", "par", "no", "kas", "ka", "bet", "tas"),
    "mt": ("il", "li", "ta", "u", "fil", "tal", "għal", "minn", "ma", "huwa"),
    "nl": ("de", "van", "het", "een", "en", "in", "is", "dat", "op", "te"),
    "pl": ("w", "i", "na", "z", "się", "do", "nie", "to", "że", "jest"),
    "pt": ("de", "a", "o", "que", "e", "do", "da", "em", "um", "para"),
    "ro": ("de", "și", "în", "la", "a", "cu", "că", "pe", "nu", "este"),
    "sk": ("a", "v", "sa", "na", "je", "že", "to", "s", "z", "do"),
    "sl": ("in", "je", "v", "na", "se", "da", "za", "so", "z", "pa"),
    "sv": ("och", "i", "att", "det", "som", "en", "på", "är", "av", "för"),
    # beyond the EU 24
    "ru": ("и", "в", "не", "на", "что", "с", "по", "это", "как", "для"),
    "uk": ("і", "в", "на", "що", "з", "не", "до", "та", "у", "для"),
    "tr": ("ve", "bir", "bu", "da", "de", "için", "ile", "çok", "olarak", "daha"),
    "ca": ("de", "la", "i", "el", "que", "a", "les", "en", "del", "per"),
    "no": ("og", "i", "er", "det", "som", "på", "en", "til", "av", "at"),
}


def stop_words(language: str, overrides: Mapping[str, list[str]] | None = None) -> frozenset[str]:
    """The stop words of a language (empty: the rule is skipped for it)."""
    if overrides and language in overrides:
        return frozenset(w.lower() for w in overrides[language])
    return frozenset(STOP_WORDS.get(language, ()))
