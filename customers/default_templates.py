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
    ("referral_thanks", "en"): (
        "Thank you for the recommendation, {first_name}!",
        "Hi {first_name},\n\nyour friend {friend_name} joined us and has just made their first purchase. Thank you "
        "for recommending us! Our thank-you to you: {gift}.\n{voucher_code}\n\nYour points balance is now "
        "{balance}.\n\nKnow someone else who would like us? Share your link: {referral_link}",
    ),
    ("referral_thanks", "fi"): (
        "Kiitos suosittelusta, {first_name}!",
        "Hei {first_name},\n\nystäväsi {friend_name} liittyi joukkoomme ja teki juuri ensimmäisen ostoksensa. "
        "Kiitos, että suosittelit meitä! Kiitoksemme sinulle: {gift}.\n{voucher_code}\n\nPistesaldosi on nyt "
        "{balance}.\n\nTiedätkö jonkun muun, joka viihtyisi meillä? Jaa oma linkkisi: {referral_link}",
    ),
    ("referral_thanks", "ru"): (
        "Спасибо за рекомендацию, {first_name}!",
        "Здравствуйте, {first_name}!\n\nВаше приглашение сработало: {friend_name} теперь с нами, и первая покупка "
        "уже сделана. Спасибо, что рекомендуете нас! Наш подарок вам в благодарность: {gift}.\n{voucher_code}\n\n"
        "Баллов на счёте: {balance}.\n\nЗнаете, кому ещё у нас понравится? Поделитесь своей ссылкой: "
        "{referral_link}",
    ),
    ("referral_welcome", "en"): (
        "Welcome aboard, {first_name}!",
        "Hi {first_name},\n\nwelcome! We are so glad you joined us on a friend's recommendation. Here is your "
        "welcome gift: {gift}. Your points balance is now {balance}.\n\nYour member page: {link}\n\nSee you soon!",
    ),
    ("referral_welcome", "fi"): (
        "Tervetuloa joukkoomme, {first_name}!",
        "Hei {first_name},\n\ntervetuloa! Kiva, että liityit jäseneksemme ystäväsi suosituksesta. Tässä "
        "tervetuliaislahjasi: {gift}. Pistesaldosi on nyt {balance}.\n\nOma jäsensivusi: {link}\n\nNähdään pian!",
    ),
    ("referral_welcome", "ru"): (
        "Добро пожаловать, {first_name}!",
        "Здравствуйте, {first_name}!\n\nДобро пожаловать! Мы очень рады, что вы присоединились к нам по "
        "рекомендации друга. Ваш приветственный подарок: {gift}. Баллов на счёте: {balance}.\n\nВаша страница "
        "участника: {link}\n\nДо скорой встречи!",
    ),
    ("campaign_gift", "en"): (
        "A gift for you, {first_name}",
        "Hi {first_name},\n\nas part of {campaign}, we have a gift for you: {gift}.\n{voucher_code}\n\n{details}\n\n"
        "All the details: {link}\n\nEnjoy!\n\nNo more offers by e-mail? {unsubscribe_link}",
    ),
    ("campaign_gift", "fi"): (
        "Lahja sinulle, {first_name}",
        "Hei {first_name},\n\nosana kampanjaamme ”{campaign}” meillä on sinulle lahja: {gift}.\n{voucher_code}\n\n"
        "{details}\n\nKaikki tiedot: {link}\n\nNauti!\n\nEt halua enää tarjouksia sähköpostilla? {unsubscribe_link}",
    ),
    ("campaign_gift", "ru"): (
        "Подарок для вас, {first_name}",
        "Здравствуйте, {first_name}!\n\nВ рамках акции «{campaign}» у нас для вас подарок: {gift}.\n{voucher_code}\n\n"
        "{details}\n\nПодробности: {link}\n\nПриятных покупок!\n\nНе хотите получать предложения по почте? "
        "{unsubscribe_link}",
    ),
    ("sample", "en"): (
        "A free sample is on its way to you, {first_name}",
        "Hi {first_name},\n\nas part of {campaign}, we are sending you a free sample: {gift}. It is already on its "
        "way!\n\n{details}\n\nAll the details: {link}\n\nWe hope you like it!\n\nNo more offers by e-mail? "
        "{unsubscribe_link}",
    ),
    ("sample", "fi"): (
        "Ilmainen näyte on matkalla sinulle, {first_name}",
        "Hei {first_name},\n\nosana kampanjaamme ”{campaign}” lähetämme sinulle ilmaisen näytteen: {gift}. Se on jo "
        "matkalla!\n\n{details}\n\nKaikki tiedot: {link}\n\nToivottavasti pidät siitä!\n\nEt halua enää tarjouksia "
        "sähköpostilla? {unsubscribe_link}",
    ),
    ("sample", "ru"): (
        "Бесплатный образец уже в пути, {first_name}",
        "Здравствуйте, {first_name}!\n\nВ рамках акции «{campaign}» мы отправляем вам бесплатный образец: {gift}. "
        "Он уже в пути!\n\n{details}\n\nПодробности: {link}\n\nНадеемся, вам понравится!\n\nНе хотите получать "
        "предложения по почте? {unsubscribe_link}",
    ),
    ("gift_choice", "en"): (
        "Choose your gift, {first_name}",
        "Hi {first_name},\n\nas part of {campaign}, we have a gift for you, and you get to choose it. Pick yours by "
        "{deadline}: {link}\n\nIf you don't get round to it, no worries: we will choose the kind of gift you "
        "usually prefer.\n\nNo more offers by e-mail? {unsubscribe_link}",
    ),
    ("gift_choice", "fi"): (
        "Valitse lahjasi, {first_name}",
        "Hei {first_name},\n\nosana kampanjaamme ”{campaign}” meillä on sinulle lahja, ja saat valita sen itse. "
        "Tee valintasi {deadline} mennessä: {link}\n\nJos valinta unohtuu, ei hätää: valitsemme puolestasi lahjan, "
        "joka vastaa mieltymyksiäsi.\n\nEt halua enää tarjouksia sähköpostilla? {unsubscribe_link}",
    ),
    ("gift_choice", "ru"): (
        "Выберите свой подарок, {first_name}",
        "Здравствуйте, {first_name}!\n\nВ рамках акции «{campaign}» у нас для вас подарок, и выбрать его можете вы "
        "сами. Сделайте выбор до {deadline}: {link}\n\nНе успеете — не беда: мы подберём подарок на ваш вкус, "
        "такой, какой вы обычно выбираете.\n\nНе хотите получать предложения по почте? {unsubscribe_link}",
    ),
    ("special_day", "en"): (
        "A special day for you, {first_name}: {campaign}",
        "Hi {first_name},\n\nwe are holding a special day for our customers, and we would love to see you there: "
        "{campaign}.\n\n{details}\n\nValid until {deadline}. All the details: {link}\n\nSee you soon!\n\n"
        "No more offers by e-mail? {unsubscribe_link}",
    ),
    ("special_day", "fi"): (
        "Erityinen päivä sinulle, {first_name}: {campaign}",
        "Hei {first_name},\n\njärjestämme asiakkaillemme erityisen päivän, ja olisi ihana nähdä sinut mukana: "
        "{campaign}.\n\n{details}\n\nVoimassa {deadline} asti. Kaikki tiedot: {link}\n\nNähdään pian!\n\n"
        "Et halua enää tarjouksia sähköpostilla? {unsubscribe_link}",
    ),
    ("special_day", "ru"): (
        "Особый день для вас, {first_name}: {campaign}",
        "Здравствуйте, {first_name}!\n\nМы устраиваем особый день для наших клиентов и будем очень рады вас видеть: "
        "«{campaign}».\n\n{details}\n\nПредложение действует до {deadline}. Подробности: {link}\n\nДо скорой "
        "встречи!\n\nНе хотите получать предложения по почте? {unsubscribe_link}",
    ),
    ("announcement", "en"): (
        "News for you, {first_name}: {campaign}",
        "Hi {first_name},\n\nwe have news we would like to share with you: {campaign}.\n\n{details}\n\n"
        "Read more: {link}\n\nSee you soon!\n\nNo more offers by e-mail? {unsubscribe_link}",
    ),
    ("announcement", "fi"): (
        "Uutisia sinulle, {first_name}: {campaign}",
        "Hei {first_name},\n\nhalusimme kertoa sinulle uutisen: {campaign}.\n\n{details}\n\nLue lisää: {link}\n\n"
        "Nähdään pian!\n\nEt halua enää tarjouksia sähköpostilla? {unsubscribe_link}",
    ),
    ("announcement", "ru"): (
        "Новости для вас, {first_name}: {campaign}",
        "Здравствуйте, {first_name}!\n\nСпешим поделиться с вами новостью: «{campaign}».\n\n{details}\n\n"
        "Подробнее: {link}\n\nДо скорой встречи!\n\nНе хотите получать предложения по почте? {unsubscribe_link}",
    ),
    ("contest_winner", "en"): (
        "Congratulations, {first_name}, you won!",
        "Hi {first_name},\n\ncongratulations, you are a winner in {campaign}! Your prize: {prize}.\n\nTo accept it, "
        "please confirm by {deadline}: {link}\n\nWe are so happy for you!",
    ),
    ("contest_winner", "fi"): (
        "Onneksi olkoon, {first_name}, voitit!",
        "Hei {first_name},\n\nonneksi olkoon, voitit kilpailussamme ”{campaign}”! Palkintosi: {prize}.\n\n"
        "Ota palkinto vastaan {deadline} mennessä: {link}\n\nIloitsemme kanssasi!",
    ),
    ("contest_winner", "ru"): (
        "Поздравляем, {first_name}, вы выиграли!",
        "Здравствуйте, {first_name}!\n\nПоздравляем: вы выиграли в конкурсе «{campaign}»! Ваш приз: {prize}.\n\n"
        "Чтобы получить приз, примите его до {deadline} по ссылке: {link}\n\nМы очень рады за вас!",
    ),
    ("feedback_thanks", "en"): (
        "Thank you for your feedback, {first_name}",
        "Hi {first_name},\n\nthank you for telling us how we did; every answer helps us do better. As promised, "
        "we added {points} points to your account, whatever your answer. Your points balance is now {balance}.\n\n"
        "See you soon!",
    ),
    ("feedback_thanks", "fi"): (
        "Kiitos palautteestasi, {first_name}",
        "Hei {first_name},\n\nkiitos, että kerroit, miten onnistuimme; jokainen vastaus auttaa meitä "
        "parantamaan toimintaamme. Kuten lupasimme, lisäsimme tilillesi {points} pistettä vastauksestasi "
        "riippumatta. Pistesaldosi on nyt {balance}.\n\nNähdään pian!",
    ),
    ("feedback_thanks", "ru"): (
        "Спасибо за отзыв, {first_name}",
        "Здравствуйте, {first_name}!\n\nСпасибо, что рассказали, как мы справились: каждый ответ помогает нам "
        "становиться лучше. Как и обещали, мы начислили вам баллы, каким бы ни был ответ. Начислено баллов: "
        "{points}, всего на счёте: {balance}.\n\nДо скорой встречи!",
    ),
    ("email_verify", "en"): (
        "Please confirm your e-mail address, {first_name}",
        "Hi {first_name},\n\nthank you for joining us! One small step left: please confirm the e-mail address for "
        "your membership here:\n{link}\n\nThe link is valid for a limited time. If you did not sign up, you can "
        "simply ignore this message.",
    ),
    ("email_verify", "fi"): (
        "Vahvista sähköpostiosoitteesi, {first_name}",
        "Hei {first_name},\n\nkiva, että liityit jäseneksemme! Enää yksi pieni askel: vahvista "
        "sähköpostiosoitteesi tästä linkistä, niin jäsenyytesi on valmis:\n{link}\n\nLinkki on voimassa "
        "rajoitetun ajan. Jos et liittynyt jäseneksi, voit jättää tämän viestin huomiotta.",
    ),
    ("email_verify", "ru"): (
        "Подтвердите адрес электронной почты, {first_name}",
        "Здравствуйте, {first_name}!\n\nРады, что вы с нами! Остался один маленький шаг: подтвердите адрес "
        "электронной почты, указанный при регистрации, по ссылке:\n{link}\n\nСсылка действует ограниченное время. "
        "Если вы не регистрировались, просто проигнорируйте это письмо.",
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
