"""Who the demo users are: names as people of each language write them in Telegram, agreeing with their
gender (Иванов, Иванова), and usernames made from them."""

import random
from dataclasses import dataclass

from apps.users.models import Gender

# language_code → how many in a hundred demo users: mostly Russian-speaking, a share English.
LANGUAGE_SHARES = {"ru": 58, "uk": 9, "kk": 6, "be": 4, "en": 23}

# (name, the short form a username is made of)
FIRST_NAMES: dict[str, dict[str, list[tuple[str, str]]]] = {
    "ru": {
        Gender.FEMALE: [
            ("Анна", "anya"), ("Мария", "masha"), ("Екатерина", "katya"), ("Ольга", "olya"), ("Елена", "lena"),
            ("Наталья", "natasha"), ("Татьяна", "tanya"), ("Ирина", "ira"), ("Дарья", "dasha"),
            ("Анастасия", "nastya"), ("Юлия", "yulia"), ("Светлана", "sveta"), ("Ксения", "ksusha"),
            ("Полина", "polina"), ("Алина", "alina"), ("Виктория", "vika"), ("Марина", "marina"),
            ("Софья", "sonya"), ("Вера", "vera"), ("Евгения", "zhenya"),
        ],
        Gender.MALE: [
            ("Александр", "sasha"), ("Дмитрий", "dima"), ("Сергей", "sergey"), ("Андрей", "andrey"),
            ("Алексей", "lesha"), ("Максим", "max"), ("Иван", "vanya"), ("Михаил", "misha"), ("Никита", "nikita"),
            ("Артём", "artem"), ("Евгений", "zhenya"), ("Павел", "pasha"), ("Денис", "denis"), ("Илья", "ilya"),
            ("Роман", "roma"), ("Кирилл", "kirill"), ("Владимир", "vova"), ("Антон", "anton"), ("Егор", "egor"),
            ("Константин", "kostya"),
        ],
    },
    "uk": {
        Gender.FEMALE: [
            ("Олена", "olena"), ("Наталія", "natalia"), ("Оксана", "oksana"), ("Ірина", "iryna"),
            ("Тетяна", "tetiana"), ("Юлія", "yulia"), ("Катерина", "katia"), ("Софія", "sofia"),
            ("Вікторія", "vika"), ("Дарина", "daryna"), ("Христина", "khrystia"), ("Ольга", "olha"),
        ],
        Gender.MALE: [
            ("Олександр", "sasha"), ("Андрій", "andrii"), ("Дмитро", "dmytro"), ("Сергій", "serhii"),
            ("Максим", "maks"), ("Іван", "ivan"), ("Тарас", "taras"), ("Богдан", "bohdan"), ("Юрій", "yura"),
            ("Олег", "oleh"), ("Микола", "mykola"), ("Володимир", "vova"),
        ],
    },
    "kk": {
        Gender.FEMALE: [
            ("Айгерим", "aigerim"), ("Асель", "asel"), ("Динара", "dinara"), ("Алия", "aliya"), ("Дана", "dana"),
            ("Камила", "kamila"), ("Мадина", "madina"), ("Айжан", "aizhan"), ("Сауле", "saule"),
            ("Гульнара", "gulnara"),
        ],
        Gender.MALE: [
            ("Нурлан", "nurlan"), ("Ерлан", "erlan"), ("Арман", "arman"), ("Данияр", "daniyar"),
            ("Асхат", "askhat"), ("Ержан", "erzhan"), ("Алихан", "alikhan"), ("Тимур", "timur"),
            ("Бауыржан", "baurzhan"), ("Руслан", "ruslan"),
        ],
    },
    "be": {
        Gender.FEMALE: [
            ("Алеся", "alesya"), ("Ольга", "olga"), ("Татьяна", "tanya"), ("Янина", "yanina"), ("Наталья", "natasha"),
            ("Анастасия", "nastya"), ("Ксения", "ksenia"), ("Дарья", "dasha"),
        ],
        Gender.MALE: [
            ("Алесь", "ales"), ("Андрей", "andrei"), ("Сергей", "sergei"), ("Дмитрий", "dmitry"),
            ("Павел", "pavel"), ("Максим", "maxim"), ("Владислав", "vlad"), ("Николай", "kolya"),
        ],
    },
    "en": {
        Gender.FEMALE: [
            ("Emily", "emily"), ("Sarah", "sarah"), ("Jessica", "jess"), ("Olivia", "olivia"), ("Emma", "emma"),
            ("Hannah", "hannah"), ("Rachel", "rachel"), ("Laura", "laura"), ("Chloe", "chloe"), ("Megan", "meg"),
            ("Sophie", "sophie"), ("Grace", "grace"), ("Lucy", "lucy"), ("Amy", "amy"),
        ],
        Gender.MALE: [
            ("James", "jamie"), ("Michael", "mike"), ("David", "dave"), ("Daniel", "dan"), ("Ryan", "ryan"),
            ("Thomas", "tom"), ("Matthew", "matt"), ("Christopher", "chris"), ("Jack", "jack"), ("Benjamin", "ben"),
            ("Andrew", "andy"), ("Luke", "luke"), ("Oliver", "olly"), ("Nathan", "nate"),
        ],
    },
}  # fmt: skip

# Surnames as a man has them; a woman's is made from it by her language's rule (_surname).
_LAST_NAMES: dict[str, list[str]] = {
    "ru": [
        "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
        "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
        "Степанов", "Николаев", "Орлов", "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв", "Борисов",
        "Григорьев", "Романов", "Белов", "Комаров", "Ильин", "Гусев", "Титов", "Баранов", "Покровский",
        "Вишневский", "Щукин",
    ],
    "uk": [
        "Шевченко", "Коваленко", "Бондаренко", "Ткаченко", "Кравченко", "Олійник", "Мельник", "Шевчук", "Коваль",
        "Бойко", "Ковальчук", "Лисенко", "Савченко", "Руденко", "Марченко", "Левченко", "Клименко", "Павленко",
        "Козловський", "Яворський",
    ],
    "kk": [
        "Ахметов", "Сейткалиев", "Жумабаев", "Касымов", "Нурланов", "Абенов", "Оспанов", "Сулейменов",
        "Искаков", "Байжанов", "Утегенов", "Тулегенов",
    ],
    "be": [
        "Ковалевич", "Карпович", "Богданович", "Лукашевич", "Якубович", "Новик", "Жук", "Садовский", "Климов",
        "Мельников", "Шпак", "Гайдукевич",
    ],
    "en": [
        "Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Clarke", "Walker", "Harris", "Lewis", "Evans",
        "Moore", "Hughes", "Wright", "Bennett", "Turner", "Cooper", "Reed",
    ],
}  # fmt: skip

_FEMININE_ENDINGS = [("ський", "ська"), ("цький", "цька"), ("ский", "ская"), ("цкий", "цкая")]
_TAKES_A = ("ов", "ев", "ёв", "ин", "ын")  # Иванов → Иванова, Ильин → Ильина

_LATIN = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya i yi ye g".split(),
        strict=True,
    )
)
_LATIN_UK = {**_LATIN, "г": "h", "и": "y", "ґ": "g"}


@dataclass(frozen=True)
class Name:
    first_name: str
    last_name: str
    username: str


def demo_language(rng: random.Random) -> str:
    return rng.choices(list(LANGUAGE_SHARES), weights=list(LANGUAGE_SHARES.values()))[0]


def demo_name(rng: random.Random, *, language: str, sex: str, taken: set[str]) -> Name:
    """A name for a `sex` (Gender.MALE or FEMALE) user of `language`; `taken` keeps usernames unique."""
    names = FIRST_NAMES.get(language, FIRST_NAMES["en"])
    first, short = rng.choice(names[sex])
    last = _surname(rng.choice(_LAST_NAMES.get(language, _LAST_NAMES["en"])), sex) if rng.random() < 0.7 else ""
    username = _username(rng, short, latin(first, language), latin(last, language), taken) if rng.random() < 0.8 else ""
    return Name(first_name=first, last_name=last, username=username)


def _surname(masculine: str, sex: str) -> str:
    if sex == Gender.MALE:
        return masculine
    for ending, feminine in _FEMININE_ENDINGS:
        if masculine.endswith(ending):
            return masculine[: -len(ending)] + feminine
    return masculine + "а" if masculine.endswith(_TAKES_A) else masculine  # Шевченко, Ковалевич: for both


def latin(text: str, language: str = "ru") -> str:
    """Lower-case Latin letters, as people spell their Cyrillic names in a username."""
    table = _LATIN_UK if language == "uk" else _LATIN
    letters = (table.get(char, char) for char in text.lower())
    return "".join(letter for letter in letters if letter.isascii() and letter.isalpha())


def _username(rng: random.Random, short: str, first: str, last: str, taken: set[str]) -> str:
    """Telegram's rules: 5 to 32 of a-z, 0-9 and _, starting with a letter; unique."""
    year = f"{rng.randint(75, 106) % 100:02d}"
    shapes = [f"{short}_{year}", f"{first}{year}", f"{short}{rng.randint(1, 999)}"]
    if last:
        shapes += [f"{short}_{last}", f"{short}{last[0]}", f"{first}_{last}", f"{last}_{short}", f"{short}{last}{year}"]
    username = rng.choice(shapes)[:28]
    while len(username) < 5 or username in taken:
        username += str(rng.randint(0, 9))
    taken.add(username)
    return username
