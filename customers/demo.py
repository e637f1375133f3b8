"""Demo data for `make run`: partners, a staff login and a few hundred customers. Idempotent."""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from customers import services
from customers.models import Customer, Language, Partner, PartnerAPIKey, RewardKind, SignupSource, Tag, User

FIRST_NAMES = {
    Language.FINNISH: [
        "Aino",
        "Eero",
        "Helmi",
        "Juhani",
        "Kaisa",
        "Lauri",
        "Minna",
        "Oskari",
        "Sanna",
        "Ville",
        "Elina",
        "Matti",
        "Noora",
        "Pekka",
        "Tuuli",
    ],
    Language.RUSSIAN: [
        "Анна",
        "Дмитрий",
        "Екатерина",
        "Иван",
        "Мария",
        "Николай",
        "Ольга",
        "Сергей",
        "Татьяна",
        "Алексей",
        "Наталья",
        "Павел",
    ],
    Language.ENGLISH: ["Emma", "Oliver", "Sophie", "James", "Grace", "Henry", "Chloe", "Jack", "Lucy", "Thomas"],
}
LAST_NAMES = {
    Language.FINNISH: [
        "Virtanen",
        "Korhonen",
        "Mäkinen",
        "Nieminen",
        "Mäkelä",
        "Hämäläinen",
        "Laine",
        "Heikkinen",
        "Koskinen",
        "Järvinen",
    ],
    Language.RUSSIAN: ["Иванова", "Смирнов", "Кузнецова", "Попов", "Васильева", "Петров", "Соколова", "Михайлов"],
    Language.ENGLISH: ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Davies", "Evans"],
}
LATIN = str.maketrans({"ä": "a", "ö": "o", "å": "a"})
CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "i",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "",
            "y",
            "",
            "e",
            "yu",
            "ya",
        ],
        strict=True,
    )
)
TAGS = ["coffee", "tea", "pastries", "vegan", "family", "outdoor", "books", "design"]
PARTNERS = [("Helsinki POS", "pos@kahvila.example"), ("Webshop", "dev@kauppa.example")]
DEMO_KEY_SCOPES = [
    "customers:read",
    "customers:write",
    "purchases:write",
    "rewards:read",
    "redemptions:write",
    "vouchers:read",
    "vouchers:write",
    "referrals:write",
    "segments:read",
    "campaigns:read",
    "webhooks:manage",
]
DEMO_CUSTOMER_EMAIL = "aino.virtanen@example.fi"


DemoStep = Callable[[], str]
_steps: list[tuple[int, str, DemoStep]] = []


def register_demo_step(*, order: int, name: str, step: DemoStep) -> None:
    """Higher apps add their demo data (loyalty: tiers, rules, a year of purchases) from
    ``AppConfig.ready()``. A step runs after the customers exist, must be idempotent, and returns
    a one-line summary."""
    if all(existing != name for _order, existing, _step in _steps):
        _steps.append((order, name, step))


def demo_steps_run() -> list[str]:
    return [step() for _order, _name, step in sorted(_steps, key=lambda item: item[0])]


@dataclass(frozen=True)
class DemoSummary:
    customers_created: int
    customers_total: int
    staff_email: str
    staff_password: str
    customer_email: str
    customer_password: str
    api_key: str | None


def _ascii(name: str) -> str:
    lowered = name.lower().translate(LATIN)
    return "".join(CYRILLIC.get(char, char) for char in lowered)


def _birth_dates_on_file(*, now: datetime.datetime) -> None:
    """The demo customers come with a year of history, so their birth dates have been on file for
    a year too (a birth date set in the last 30 days earns no birthday reward yet). Only demo
    sign-ups whose birth date is still the one given at sign-up are moved back."""
    Customer.objects.filter(
        signup_source=SignupSource.DEMO,
        birth_date__isnull=False,
        birth_date_changed_at__gt=now - datetime.timedelta(days=365),
        birth_date_changed_at__lte=F("created_at") + datetime.timedelta(minutes=1),
    ).update(birth_date_changed_at=now - datetime.timedelta(days=365))


def demo_load(*, count: int = 300, key_file: Path | None = None) -> DemoSummary:
    rng = random.Random(20261122)  # noqa: S311 - repeatable demo data, not a secret
    partners = [
        Partner.objects.get_or_create(name=name, defaults={"contact_email": mail})[0] for name, mail in PARTNERS
    ]
    tags = [services.customer_tags_set_names(name) for name in TAGS]
    Tag.objects.filter(pk__in=[tag.pk for tag in tags], is_interest=False).update(is_interest=True)

    staff, created = User.objects.get_or_create(
        username=settings.DEMO_STAFF_EMAIL,
        defaults={"email": settings.DEMO_STAFF_EMAIL, "is_staff": True, "is_superuser": True, "first_name": "Demo"},
    )
    if created:
        staff.set_password(settings.DEMO_STAFF_PASSWORD)
        staff.save(update_fields=["password"])

    created_count = 0
    today = timezone.localdate()
    languages = [Language.FINNISH] * 6 + [Language.RUSSIAN] * 3 + [Language.ENGLISH]
    for index in range(count):
        language = rng.choice(languages)
        first = rng.choice(FIRST_NAMES[language])
        last = rng.choice(LAST_NAMES[language])
        domain = {Language.FINNISH: "example.fi", Language.RUSSIAN: "example.ru", Language.ENGLISH: "example.com"}[
            language
        ]
        email = DEMO_CUSTOMER_EMAIL if index == 0 else f"{_ascii(first)}.{_ascii(last)}.{index}@{domain}"
        if index == 0:
            language, first, last = Language.FINNISH, "Aino", "Virtanen"
        # Draw every random value on every pass, so a second run replays the same customers.
        customer_tags = rng.sample(tags, rng.randrange(0, 3))
        with transaction.atomic():
            registration = services.customer_register(
                email=email,
                source=SignupSource.DEMO,
                partner=rng.choice(partners),
                first_name=first,
                last_name=last,
                language=language,
                phone=f"+3584{rng.randrange(10_000_000, 99_999_999)}",
                birth_date=today - datetime.timedelta(days=rng.randrange(18 * 365, 75 * 365)),
                preferred_reward_kind=rng.choice([*RewardKind.values, ""]),
                email_consent=rng.random() < 0.7 or index == 0,  # the demo login hears from us
                sms_consent=rng.random() < 0.3,
            )
            if registration.created:
                created_count += 1
                registration.customer.tags.set(customer_tags)
    _birth_dates_on_file(now=timezone.now())
    # The demo's addresses count as confirmed (there is no mailbox behind them to open a link).
    Customer.objects.filter(signup_source=SignupSource.DEMO, email_verified_at__isnull=True).update(
        email_verified_at=timezone.now()
    )
    demo_customer = Customer.objects.get(email=DEMO_CUSTOMER_EMAIL)
    if demo_customer.user_id is None:
        services.customer_portal_login_ensure(customer=demo_customer, password=settings.DEMO_STAFF_PASSWORD)

    api_key = None
    if key_file is not None:
        stored = key_file.read_text().strip() if key_file.exists() else ""
        if stored and PartnerAPIKey.objects.is_valid(stored):
            api_key = stored
        else:  # no key yet, or the file belongs to a database that has since been replaced
            _row, api_key = services.partner_key_create(partner=partners[0], scopes=DEMO_KEY_SCOPES, name="demo")
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(api_key + "\n")
            key_file.chmod(0o600)
    return DemoSummary(
        customers_created=created_count,
        customers_total=Customer.objects.count(),
        staff_email=settings.DEMO_STAFF_EMAIL,
        staff_password=settings.DEMO_STAFF_PASSWORD,
        customer_email=DEMO_CUSTOMER_EMAIL,
        customer_password=settings.DEMO_STAFF_PASSWORD,
        api_key=api_key,
    )


__all__ = ["DemoSummary", "demo_load"]
