"""The message templates every installation starts with: personal, in English, Finnish and
Russian. A data migration loads them; staff edit them in the admin."""

from __future__ import annotations

DEFAULT_TEMPLATES: dict[tuple[str, str], tuple[str, str]] = {
    ("thank_you", "en"): (
        "Thank you, {first_name}!",
        "Hi {first_name},\n\nthank you for visiting us at {store} today. Your purchase of {amount} earned you "
        "{points} points; you now have {balance}.\n{gift}\n\nHow did we do? Tell us in a minute: {survey_link}\n\n"
        "See you soon!\n\nNo more offers by e-mail? {unsubscribe_link}",
    ),
    ("thank_you", "fi"): (
        "Kiitos, {first_name}!",
        "Hei {first_name},\n\nkiitos, että kävit tänään luonamme ({store}). Ostoksesi ({amount}) kerrytti "
        "{points} pistettä, ja sinulla on nyt {balance} pistettä.\n{gift}\n\n"
        "Miten onnistuimme? Kerro minuutissa: {survey_link}\n\n"
        "Nähdään pian!\n\nEt halua enää tarjouksia sähköpostilla? {unsubscribe_link}",
    ),
    ("thank_you", "ru"): (
        "Спасибо, {first_name}!",
        "Здравствуйте, {first_name}!\n\nСпасибо, что заглянули к нам сегодня ({store}). За покупку на {amount} "
        "вы получили {points} баллов, теперь у вас {balance}.\n{gift}\n\nКак мы справились? Расскажите за "
        "минуту: {survey_link}\n\nДо скорой встречи!\n\nНе хотите получать предложения по почте? {unsubscribe_link}",
    ),
    ("thank_you_first", "en"): (
        "Welcome, {first_name}, and thank you!",
        "Hi {first_name},\n\nthank you for your first purchase with us. As a welcome you now have {balance} "
        "points, and {points_to_next_tier} more take you to {next_tier}.\n{gift}\n\nWe would love to hear how "
        "your first visit went: {survey_link}\n\nNo more offers by e-mail? {unsubscribe_link}",
    ),
    ("thank_you_first", "fi"): (
        "Tervetuloa, {first_name}, ja kiitos!",
        "Hei {first_name},\n\nkiitos ensimmäisestä ostoksestasi. Tervetuliaisiksi sinulla on nyt {balance} "
        "pistettä, ja {points_to_next_tier} pistettä lisää vie sinut tasolle {next_tier}.\n{gift}\n\nKerro "
        "meille, miten ensimmäinen käyntisi sujui: {survey_link}\n\nEt halua enää tarjouksia sähköpostilla? "
        "{unsubscribe_link}",
    ),
    ("thank_you_first", "ru"): (
        "Добро пожаловать, {first_name}, и спасибо!",
        "Здравствуйте, {first_name}!\n\nСпасибо за вашу первую покупку. В знак приветствия у вас уже {balance} "
        "баллов, а ещё {points_to_next_tier} приведут вас на уровень {next_tier}.\n{gift}\n\nРасскажите, как "
        "прошёл ваш первый визит: {survey_link}\n\nНе хотите получать предложения по почте? {unsubscribe_link}",
    ),
    ("voucher_issued", "en"): (
        "Your voucher is ready, {first_name}",
        "Hi {first_name},\n\nhere is your voucher: {voucher_code} ({gift}). Show the code at the till or enter "
        "it at checkout.\n\nEnjoy!",
    ),
    ("voucher_issued", "fi"): (
        "Kuponkisi on valmis, {first_name}",
        "Hei {first_name},\n\ntässä kuponkisi: {voucher_code} ({gift}). Näytä koodi kassalla tai syötä se "
        "verkkokaupan kassalla.\n\nNauti!",
    ),
    ("voucher_issued", "ru"): (
        "Ваш ваучер готов, {first_name}",
        "Здравствуйте, {first_name}!\n\nВот ваш ваучер: {voucher_code} ({gift}). Покажите код на кассе или "
        "введите его при оформлении заказа.\n\nПриятных покупок!",
    ),
    ("birthday", "en"): (
        "Happy birthday, {first_name}!",
        "Hi {first_name},\n\nhappy birthday from all of us! To celebrate, we have a gift for you: {gift}. "
        "It is already in your account, nothing to claim; you now have {balance} points.\n\nWe hope to "
        "celebrate with you over a coffee soon!\n\nNo more offers by e-mail? {unsubscribe_link}",
    ),
    ("birthday", "fi"): (
        "Hyvää syntymäpäivää, {first_name}!",
        "Hei {first_name},\n\nhyvää syntymäpäivää meiltä kaikilta! Juhlan kunniaksi meillä on sinulle lahja: "
        "{gift}. Se on jo tililläsi, sinun ei tarvitse tehdä mitään; sinulla on nyt {balance} pistettä.\n\n"
        "Toivottavasti juhlitaan pian yhdessä kahvin merkeissä!\n\nEt halua enää tarjouksia sähköpostilla? "
        "{unsubscribe_link}",
    ),
    ("birthday", "ru"): (
        "С днём рождения, {first_name}!",
        "Здравствуйте, {first_name}!\n\nПоздравляем вас с днём рождения! В честь праздника у нас для вас "
        "подарок: {gift}. Он уже на вашем счёте, ничего делать не нужно; теперь у вас {balance} баллов.\n\n"
        "Будем рады отметить его с вами за чашкой кофе!\n\nНе хотите получать предложения по почте? "
        "{unsubscribe_link}",
    ),
    ("win_back", "en"): (
        "We miss you, {first_name}",
        "Hi {first_name},\n\nit has been a while since your last visit, and we miss you. No strings attached, "
        "here is a gift for you: {gift}. Your {balance} points are waiting for you too.\n\nWe would love to "
        "see you again soon!\n\nNo more offers by e-mail? {unsubscribe_link}",
    ),
    ("win_back", "fi"): (
        "Meillä on ikävä sinua, {first_name}",
        "Hei {first_name},\n\nedellisestä käynnistäsi on jo tovi, ja meillä on ikävä sinua. Ilman ehtoja, "
        "tässä sinulle lahja: {gift}. Myös {balance} pistettäsi odottavat sinua.\n\nOlisi ihana nähdä sinut "
        "taas pian!\n\nEt halua enää tarjouksia sähköpostilla? {unsubscribe_link}",
    ),
    ("win_back", "ru"): (
        "Мы скучаем по вам, {first_name}",
        "Здравствуйте, {first_name}!\n\nВы давно у нас не были, и мы по вам скучаем. Просто так, без условий, "
        "у нас для вас подарок: {gift}. Ваши {balance} баллов тоже ждут вас.\n\nБудем рады скорой "
        "встрече!\n\nНе хотите получать предложения по почте? {unsubscribe_link}",
    ),
}


def default_templates_load(template_model: type) -> int:
    """Create the missing defaults (existing templates, perhaps edited by staff, stay as they are)."""
    created = 0
    for (purpose, language), (subject, body) in DEFAULT_TEMPLATES.items():
        _row, was_created = template_model.objects.get_or_create(
            purpose=purpose, language=language, channel="email", defaults={"subject": subject, "body": body}
        )
        created += was_created
    return created
