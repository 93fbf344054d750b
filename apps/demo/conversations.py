"""What demo users talk about with the bot, in Russian and in English, and the profiles written of them.

A text says {his|her} words where the speaker's gender shows (я устал / я устала): `agree` picks one.
The assistant speaks to the user with "вы" and never of itself, so its words need no gender.
"""

import random
import re
from dataclasses import dataclass

from apps.users.models import Gender


@dataclass(frozen=True)
class Topic:
    key: str
    tags: tuple[str, ...]  # the profile's streams
    summary: str  # a sentence of the profile
    turns: tuple[tuple[str, str], ...]  # (the user, the assistant), in order


_RU = [
    Topic(
        "burnout",
        ("работа", "выгорание"),
        "Выгорает на работе: срочные задачи руководителя вытесняют собственные, и те уходят на вечера.",
        (
            (
                "Привет. Уже третью неделю прихожу с работы и просто лежу. Ни на что нет сил.",
                "Похоже, вы очень устали — и не один день. Что на работе забирает больше всего сил: объём задач, "
                "люди или ощущение, что всё это без смысла?",
            ),
            (
                "Наверное, всё сразу. Начальник каждый день подкидывает срочное, а свои задачи я делаю по вечерам.",
                "Получается, ваши собственные задачи всё время уезжают на вечер, а вечер — это ваш отдых. "
                "Вы говорили начальнику, сколько на вас уже висит?",
            ),
            (
                "Нет. Боюсь, решит, что я не справляюсь.",
                "Понимаю этот страх. Но «у меня сейчас пять задач, какая из них важнее?» — это не жалоба, а вопрос "
                "о приоритетах. Как думаете, как он отреагирует?",
            ),
            (
                "Может, и нормально. Он вообще адекватный, просто сам зашивается.",
                "Тогда, возможно, ему даже станет легче, если вы вместе расставите приоритеты. Хотите, продумаем, "
                "как начать этот разговор?",
            ),
            (
                "Давай. Завтра как раз созвон один на один.",
                "Отлично. Можно начать с фактов: какие задачи сейчас на вас и сколько времени занимает каждая, — "
                "а потом спросить, что можно отложить. Что в таком разговоре кажется вам самым трудным?",
            ),
            (
                "{Сходил|Сходила} на созвон. Договорились, что один проект передадут коллеге 🙌",
                "Это большой шаг: вы не просто пожаловались, а договорились о конкретном. Как вы себя чувствуете "
                "после разговора?",
            ),
        ),
    ),
    Topic(
        "relationships",
        ("отношения", "конфликты"),
        "В отношениях копит обиды и молчит, пока они не прорываются ссорой; учится говорить о своих чувствах раньше.",
        (
            (
                "Опять поругались {с девушкой|с парнем} из-за ерунды.",
                "Бывает, что ссора из-за ерунды на самом деле совсем не про ерунду. С чего всё началось в этот раз?",
            ),
            (
                "Опять из-за посуды. Я {сказал|сказала}, что всё по дому на мне, а мне в ответ: ты вечно всем "
                "{недоволен|недовольна}.",
                "Похоже, за посудой стоит ощущение, что вы тянете на себе больше и этого никто не замечает. Так?",
            ),
            (
                "Да, точно. Мне не посуда важна, а чтобы это видели.",
                "Это очень понятная потребность — чтобы ваш вклад замечали. Как думаете, {она|он} знает, что дело "
                "именно в этом, а не в посуде?",
            ),
            (
                "Вряд ли. Я обычно молчу, а потом взрываюсь.",
                "Знакомая многим схема: копится, копится — и выходит всё разом. Что, если говорить о том, что "
                "задело, пока оно ещё маленькое? Например: «Мне обидно, когда я убираю после ужина {один|одна}».",
            ),
            (
                "Попробую. Страшно, что опять поссоримся.",
                "Может быть и так — и это не провал. Спокойно сказать о своих чувствах — совсем другой разговор, "
                "чем взрыв. Расскажете потом, как прошло?",
            ),
            (
                "Вчера спокойно всё {ей|ему} {сказал|сказала}. В итоге вместе расписали, кто что делает по дому.",
                "Это настоящая перемена: вместо ссоры — общий план. Каково было почувствовать, что вас услышали?",
            ),
        ),
    ),
    Topic(
        "anxiety",
        ("тревога", "сон"),
        "Тревога усиливается по ночам и раскручивается цепочками «а вдруг»; помогают записанные мысли и медленное "
        "дыхание.",
        (
            (
                "Не могу уснуть, уже почти три ночи. В голове крутится всё подряд.",
                "Ночью мысли часто становятся громче и страшнее, чем днём. Что крутится у вас в голове прямо сейчас?",
            ),
            (
                "Что я что-то {забыл|забыла} сделать на работе, что меня уволят, что не потяну ипотеку.",
                "Тревога любит цепочки: забытое дело — увольнение — ипотека. Давайте остановимся на первом звене. "
                "Есть что-то конкретное, что вы могли забыть?",
            ),
            (
                "Вроде нет. Просто ощущение.",
                "Значит, это ощущение, а не факт. Попробуйте выписать все тревожные мысли на листок — утром "
                "посмотрите на них свежим взглядом. Получится сделать это прямо сейчас?",
            ),
            (
                "{Выписал|Выписала}. Правда стало чуть спокойнее.",
                "Хорошо. То, что записано на бумаге, уже не нужно держать в голове. Теперь попробуйте несколько "
                "медленных вдохов — так, чтобы выдох был длиннее вдоха.",
            ),
            (
                "Вчера {уснул|уснула} быстрее, спасибо. Но днём тревога всё равно накатывает.",
                "Как хорошо, что со сном стало лучше. А днём — в какие моменты тревога приходит чаще всего? Если "
                "поймать закономерность, с ней проще работать.",
            ),
            (
                "Чаще всего перед совещаниями, где нужно что-то презентовать.",
                "Это понятно: ситуации, где на вас смотрят и оценивают, — один из самых сильных триггеров. Что, "
                "по-вашему, может случиться на таком совещании?",
            ),
        ),
    ),
    Topic(
        "habits",
        ("привычки", "цели"),
        "Давно хочет начать бегать и откладывает; маленькие шаги работают лучше больших обещаний.",
        (
            (
                "Полгода хочу начать бегать и всё никак. Каждый понедельник себе обещаю.",
                "Полгода желания — это много, значит, для вас это правда важно. Что обычно происходит в понедельник "
                "утром?",
            ),
            (
                "Звонит будильник, и я думаю: холодно, начну со следующей недели.",
                "Честно. А если сделать старт совсем маленьким — не пробежка, а просто выйти на улицу в кроссовках "
                "на десять минут? Как вам такая планка?",
            ),
            (
                "Звучит глупо, но на это меня, наверное, хватит.",
                "Это не глупо — так и строятся привычки: сначала появляется действие, потом объём. Какой день на "
                "этой неделе будет первым?",
            ),
            (
                "Четверг. В этот день работа начинается позже.",
                "Четверг — договорились. Можно с вечера поставить кроссовки у двери, чтобы утром было на один повод "
                "меньше передумать.",
            ),
            (
                "{Вышел|Вышла}! Даже {пробежал|пробежала} минут пять 🙂",
                "Поздравляю! Вы сделали больше, чем планировали. Что почувствовали, когда вернулись домой?",
            ),
            (
                "Гордость, если честно. И удивление, что это оказалось не так уж сложно.",
                "Запомните это чувство — именно оно приводит обратно в следующий раз. Выберем следующий день?",
            ),
        ),
    ),
    Topic(
        "career",
        ("карьера", "обучение"),
        "Думает уйти из бухгалтерии в дизайн; страх потерять доход уравновешивает учёбой без увольнения.",
        (
            (
                "Мне 32, я бухгалтер и хочу уйти в дизайн. Это вообще нормально — начинать заново в таком возрасте?",
                "В 32 многие меняют профессию, и опыт с прошлой работы часто оказывается полезнее, чем кажется. "
                "Что вас тянет в дизайн?",
            ),
            (
                "Люблю, когда красиво. Я всегда {переделывал|переделывала} отчёты, чтобы их было приятно читать.",
                "Кажется, вы давно занимаетесь дизайном — просто в таблицах. Что пугает сильнее всего, когда вы "
                "представляете переход?",
            ),
            (
                "Деньги. Начинать джуниором после нормальной зарплаты страшно.",
                "Очень разумный страх. Можно ли пройти часть пути, не увольняясь: учиться по вечерам, взять пару "
                "небольших заказов?",
            ),
            (
                "{Записался|Записалась} на курс по UX. Первое задание уже {сделал|сделала}.",
                "Здорово! Вы перешли от «хочу» к делу. Как вам первое задание — интересно или скорее тяжело?",
            ),
            (
                "Интересно, но вижу, как много ещё не знаю.",
                "Это хороший знак: видеть, чего не знаешь, можно, только когда уже немного разбираешься. Что хотите "
                "освоить первым?",
            ),
            (
                "Наверное, нормально разобраться в Figma. На курсе как будто все уже умеют.",
                "Figma — хороший выбор для начала: с ней вы будете работать каждый день. А те, кто «уже умеет», "
                "тоже когда-то начинали. Сколько времени в неделю готовы на это выделять?",
            ),
        ),
    ),
    Topic(
        "loneliness",
        ("одиночество", "переезд"),
        "После переезда в новый город {остался|осталась} без друзей; находит новых знакомых в клубе настольных игр.",
        (
            (
                "Полгода назад {переехал|переехала} в другой город и до сих пор ни с кем не {подружился|подружилась}.",
                "Переезд — большая перемена, и одиночество после него очень частое. Как обычно проходят ваши вечера "
                "и выходные?",
            ),
            (
                "Работа, дом, сериал. Иногда созваниваюсь со старыми друзьями, но это не то.",
                "Понимаю: звонок не заменит человека, с которым можно просто выпить кофе. Есть что-то, чем вам "
                "раньше нравилось заниматься вместе с другими?",
            ),
            (
                "Я раньше {ходил|ходила} на настолки в антикафе.",
                "Отличная зацепка. Почти в каждом городе есть клубы настольных игр, где рады новичкам. Может, "
                "поискать такой рядом?",
            ),
            (
                "{Нашёл|Нашла} клуб, в субботу игротека. Но идти {одному|одной} стесняюсь.",
                "Стесняться в новой компании — нормально. На игротеки почти все приходят поодиночке, а игра сама "
                "помогает завязать разговор. Что помогло бы вам решиться?",
            ),
            (
                "{Сходил|Сходила}! Первые полчаса было неловко, а потом весело. Позвали приходить ещё.",
                "Как здорово! Вы сделали то, что было страшно, — и вас позвали снова. Пойдёте?",
            ),
            (
                "Да, в следующую субботу. А ещё один парень позвал на скалодром.",
                "Вот это да: один вечер — и уже два приглашения. Как вам теперь этот город?",
            ),
        ),
    ),
    Topic(
        "family",
        ("семья", "границы"),
        "Тяжело переносит мамины расспросы о свадьбе; учится мягко обозначать границы, не ссорясь.",
        (
            (
                "Мама каждый день звонит и спрашивает, когда я уже {женюсь|выйду замуж}.",
                "Каждый день — это много. Что вы чувствуете, когда слышите этот вопрос?",
            ),
            (
                "Злюсь. А потом стыдно, что злюсь на маму.",
                "Можно любить маму и злиться на её вопросы — одно другому не мешает. Вы говорили ей, каково вам "
                "от этого?",
            ),
            (
                "{Пытался|Пыталась}. Она обижается и говорит, что желает мне добра.",
                "Скорее всего, она правда желает вам добра — просто выражает это так, что вам больно. Можно сказать "
                "ей, что вы цените её заботу, но об этом хотите заговорить сами, когда будете готовы. Как вам такой "
                "вариант?",
            ),
            (
                "Звучит хорошо, но мне трудно говорить с ней так спокойно.",
                "Можно начать с письма или сообщения — в нём проще подобрать слова. Хотите, вместе подумаем, что "
                "написать?",
            ),
            (
                "{Написал|Написала} ей. Она ответила, что не хотела давить. Не {ожидал|ожидала}.",
                "Иногда нас слышат, когда мы говорим спокойно и о себе. Как вам после её ответа?",
            ),
            (
                "Легче. Вчера она звонила и ни разу не спросила про свадьбу.",
                "Хороший знак, что она вас услышала. О чём вы говорили вместо этого?",
            ),
        ),
    ),
    Topic(
        "self_esteem",
        ("самооценка",),
        "Сравнивает себя с однокурсниками и обесценивает свои достижения; оживляется, когда их называют вслух.",
        (
            (
                "Листаю ленту, и кажется, что у всех жизнь получается, кроме меня.",
                "Лента показывает лучшие моменты чужой жизни, а свою мы видим целиком, со всеми буднями. С кем вы "
                "сравниваете себя чаще всего?",
            ),
            (
                "С однокурсниками. Кто-то уже руководитель, кто-то живёт за границей.",
                "А если посмотреть на ваш собственный путь за последние пять лет — что изменилось к лучшему?",
            ),
            (
                "Ну… {закончил|закончила} магистратуру, {сменил|сменила} работу, {научился|научилась} водить.",
                "Это три серьёзных достижения. Интересно, что вы вспомнили о них не сразу. Как думаете, почему?",
            ),
            (
                "Потому что у меня это как будто не считается.",
                "Очень знакомое чувство: чужие успехи кажутся настоящими, а свои — «ничего особенного». Что бы вы "
                "сказали другу, который так говорит о себе?",
            ),
            (
                "Что он молодец и слишком строг к себе.",
                "Попробуйте сказать это себе — с той же интонацией. Непривычно?",
            ),
            (
                "Очень. Но как-то теплее.",
                "Непривычно и теплее — хорошее начало: так говорить с собой учатся постепенно. Хотите каждый вечер "
                "записывать одну вещь, которая у вас сегодня получилась?",
            ),
        ),
    ),
    Topic(
        "breakup",
        ("расставание",),
        "Переживает недавнее расставание; {скрыл|скрыла} страницу {бывшей|бывшего} и {вернулся|вернулась} к рисованию.",
        (
            (
                "Мы расстались месяц назад, а я до сих пор проверяю {её|его} страницу.",
                "Месяц — это совсем немного для такого. Что вы ищете, когда заходите на страницу?",
            ),
            (
                "Наверное, доказательство, что {ей|ему} без меня тоже плохо.",
                "Очень честный ответ. А что происходит с вами, когда кажется, что у {неё|него} всё хорошо?",
            ),
            (
                "Становится ещё хуже. Понимаю, что надо перестать, но рука сама тянется.",
                "Похоже на привычку, а привычки проще менять действием, чем силой воли. Может, скрыть страницу или "
                "отписаться — хотя бы на время?",
            ),
            (
                "{Скрыл|Скрыла}. Первые дни было тяжело, сейчас полегче.",
                "Вы сделали трудную вещь ради себя. Чем заполняете время, которое раньше уходило на проверки?",
            ),
            (
                "Снова {начал|начала} рисовать. {Забросил|Забросила}, пока мы были вместе.",
                "Как хорошо, что вы вернулись к тому, что любите. Что сейчас рисуете?",
            ),
            (
                "В основном людей в метро — быстрые наброски по дороге на работу.",
                "Рисовать попутчиков по дороге на работу — чудесная привычка: обычная поездка становится вашей. "
                "Покажете кому-нибудь?",
            ),
        ),
    ),
    Topic(
        "meaning",
        ("смысл", "отдых"),
        "Живёт на автопилоте и скучает по ощущению свободы; ищет в неделе время, которое принадлежит только {ему|ей}.",
        (
            (
                "Такое чувство, что живу на автопилоте. С работой нормально, вообще всё нормально, но ничего не "
                "радует.",
                "«Всё нормально, но ничего не радует» — очень точные слова. Когда вы в последний раз чувствовали, "
                "что по-настоящему живёте?",
            ),
            (
                "Наверное, в походе прошлым летом. Три дня без связи, горы.",
                "Что там было такого, чего не хватает сейчас?",
            ),
            (
                "Свобода. И ощущение, что я {сам|сама} решаю, что делать.",
                "Похоже, сейчас многое решают за вас: график, чужие ожидания, привычки. Есть ли в вашей неделе "
                "время, которое целиком принадлежит вам?",
            ),
            (
                "Почти нет. Разве что утро субботы.",
                "Тогда можно начать с него: одно субботнее утро — только то, чего хочется вам. Что бы вы туда "
                "поставили?",
            ),
            (
                "В субботу {съездил|съездила} на электричке за город. Впервые за долгое время было хорошо.",
                "Как здорово это читать. Кажется, вы нашли ниточку к тому, что вас оживляет. Как сделать, чтобы это "
                "повторялось?",
            ),
            (
                "Думаю выбираться раз в две недели. И, может, летом спланировать нормальный поход.",
                "Раз в две недели — ритм, который реально выдержать, а летний поход даст то, чего ждать. Куда "
                "хотелось бы пойти?",
            ),
        ),
    ),
]

_EN = [
    Topic(
        "burnout",
        ("work", "burnout"),
        "Burning out at work: the manager's urgent requests crowd out {his|her} own tasks, which spill into the "
        "evenings.",
        (
            (
                "Hi. For three weeks now I come home from work and just lie on the couch. No energy for anything.",
                "It sounds like you've been exhausted for a while, not just one bad day. What takes the most out of "
                "you at work: the amount of it, the people, or a feeling that none of it matters?",
            ),
            (
                "Probably all of it. My boss keeps dropping urgent stuff on me and I end up doing my own work in the "
                "evenings.",
                "So your own tasks keep sliding into the evening, and the evening is supposed to be your rest. Have "
                "you ever told your boss how much is already on your plate?",
            ),
            (
                "No. I'm afraid he'll think I can't cope.",
                'That fear makes sense. But "I have five things going, which one matters most?" isn\'t a complaint, '
                "it's a question about priorities. How do you think he'd take it?",
            ),
            (
                "Maybe fine, actually. He's reasonable, he's just swamped himself.",
                "Then he might even be relieved to sort out priorities with you. Want to sketch how you'd open that "
                "conversation?",
            ),
            (
                "Yes please. We have a one-on-one tomorrow.",
                "Great. You could start with facts: what you're working on and roughly how long each thing takes, "
                "then ask what can wait. What feels hardest about saying it?",
            ),
            (
                "Had the one-on-one. We agreed one project goes to a colleague 🙌",
                "That's a big step: you didn't just vent, you came away with something concrete. How do you feel "
                "after the conversation?",
            ),
        ),
    ),
    Topic(
        "relationships",
        ("relationships", "conflict"),
        "Holds back small hurts in the relationship until they burst out as a fight; learning to say what {he|she} "
        "feels sooner.",
        (
            (
                "Had another fight with {my girlfriend|my boyfriend} over nothing.",
                "Sometimes a fight about nothing isn't really about nothing. How did it start this time?",
            ),
            (
                "The dishes, again. I said everything at home is on me, and got told I'm never happy with anything.",
                "It sounds like behind the dishes there's a feeling that you carry more and nobody notices. Is that "
                "it?",
            ),
            (
                "Yes, exactly. It's not really the dishes, I just want it to be seen.",
                "Wanting your effort to be noticed is a very human need. Do you think {she|he} knows that's what "
                "it's about, and not the dishes?",
            ),
            (
                "Probably not. I usually keep quiet and then explode.",
                "A lot of people know that pattern: it builds up and then comes out all at once. What if you said "
                "what hurt while it's still small? Something like: \"It stings when I clean up after dinner on my "
                'own."',
            ),
            (
                "I'll try. I'm scared it'll turn into another fight.",
                "It might, and that wouldn't be a failure. Calmly saying how you feel is a different conversation "
                "from an explosion. Will you tell me how it goes?",
            ),
            (
                "Told {her|him} calmly last night. We ended up making a chore list together.",
                "That's a real change: instead of a fight, a plan you made together. How did it feel to be heard?",
            ),
        ),
    ),
    Topic(
        "anxiety",
        ("anxiety", "sleep"),
        "Anxiety peaks at night and spirals into what-ifs; writing thoughts down and slow breathing help.",
        (
            (
                "Can't sleep, it's almost 3am. My head is spinning with everything.",
                "At night thoughts often get louder and scarier than in the daytime. What's spinning right now?",
            ),
            (
                "That I forgot something at work, that I'll get fired, that I won't make the mortgage.",
                "Anxiety loves chains: a forgotten task, then getting fired, then the mortgage. Let's stop at the "
                "first link. Is there anything specific you might have forgotten?",
            ),
            (
                "Not really. It's just a feeling.",
                "So it's a feeling, not a fact. Try writing every worrying thought on a piece of paper; in the "
                "morning you can look at them with fresh eyes. Could you do that right now?",
            ),
            (
                "Done. It actually feels a bit calmer.",
                "Good. What's on paper doesn't have to be held in your head. Now try a few slow breaths, with the "
                "out-breath longer than the in-breath.",
            ),
            (
                "Fell asleep faster last night, thanks. But the anxiety still comes in waves during the day.",
                "Glad the sleep is better. During the day, when does it come most often? If we can spot a pattern, "
                "it's easier to work with.",
            ),
            (
                "Mostly before meetings where I have to present something.",
                "That makes sense: being watched and judged is one of the strongest triggers. What do you imagine "
                "might happen in those meetings?",
            ),
        ),
    ),
    Topic(
        "habits",
        ("habits", "goals"),
        "Has wanted to start running for months and keeps putting it off; tiny steps work better than big promises.",
        (
            (
                "I've wanted to start running for six months and still haven't. Every Monday I promise myself.",
                "Six months of wanting it means it really matters to you. What usually happens on Monday morning?",
            ),
            (
                "The alarm goes off and I think: it's cold, I'll start next week.",
                "That's honest. What if the start were tiny: not a run, just stepping outside in your trainers for "
                "ten minutes? How does that bar feel?",
            ),
            (
                "Sounds silly, but I could probably manage that.",
                "It's not silly, that's how habits are built: first the action, then the amount. Which day this "
                "week will be the first?",
            ),
            (
                "Thursday. I start work later that day.",
                "Thursday it is. You could leave your trainers by the door the night before, so there's one less "
                "reason to back out in the morning.",
            ),
            (
                "I went! Even ran for about five minutes 🙂",
                "Congratulations! You did more than you planned. How did you feel when you got back home?",
            ),
            (
                "Proud, honestly. And a bit surprised it wasn't that hard.",
                "Hold on to that feeling, it's what brings you back next time. Shall we pick the next day?",
            ),
        ),
    ),
    Topic(
        "career",
        ("career", "learning"),
        "Thinking of moving from accounting into design; balances the fear of losing income by studying while still "
        "employed.",
        (
            (
                "I'm 32, I'm an accountant and I want to move into design. Is it even normal to start over at my age?",
                "Lots of people change careers at 32, and what you bring from your old job is often more useful "
                "than it seems. What draws you to design?",
            ),
            (
                "I like making things look good. I was always redoing reports so they'd be nice to read.",
                "It sounds like you've been doing design for a while, just in spreadsheets. What scares you most "
                "when you picture making the switch?",
            ),
            (
                "Money. Starting as a junior after a decent salary is scary.",
                "That's a very reasonable fear. Could you walk part of the way without quitting: study in the "
                "evenings, take a couple of small freelance jobs?",
            ),
            (
                "Signed up for a UX course. Already did the first assignment.",
                'Brilliant! You\'ve gone from "I want to" to doing it. How was the first assignment, interesting '
                "or more of a slog?",
            ),
            (
                "Interesting, but I can see how much I don't know.",
                "That's a good sign: you can only see what you don't know once you already know a bit. What do you "
                "want to learn first?",
            ),
            (
                "Probably Figma, properly. Everyone on the course seems to know it already.",
                "Figma is a good place to start: it's the tool you'll use every day. And everyone who knows it was "
                "a beginner once. How much time a week can you give it?",
            ),
        ),
    ),
    Topic(
        "loneliness",
        ("loneliness", "moving"),
        "Moved to a new city and hasn't made friends yet; meeting people at a board-game club.",
        (
            (
                "I moved to a new city six months ago and I still haven't made a single friend.",
                "Moving is a big change, and loneliness after it is really common. How do your evenings and "
                "weekends usually go?",
            ),
            (
                "Work, home, a series. Sometimes I call my old friends, but it's not the same.",
                "I understand: a call can't replace someone you can just go for coffee with. Is there something you "
                "used to enjoy doing with other people?",
            ),
            (
                "I used to go to board-game nights at a café.",
                "That's a great lead. Most cities have board-game clubs that welcome newcomers. How about looking "
                "for one nearby?",
            ),
            (
                "Found a club, there's a games night on Saturday. But I'm shy about going alone.",
                "Feeling shy with new people is normal. At games nights almost everyone comes on their own, and the "
                "games themselves get the conversation going. What would help you decide to go?",
            ),
            (
                "I went! The first half hour was awkward, then it was fun. They asked me to come again.",
                "That's wonderful! You did the scary thing, and they invited you back. Will you go?",
            ),
            (
                "Yes, next Saturday. One of the guys also invited me climbing.",
                "Look at that: one evening and already two invitations. How does the city feel to you now?",
            ),
        ),
    ),
    Topic(
        "family",
        ("family", "boundaries"),
        "Finds {his|her} mother's questions about marriage hard to bear; learning to set boundaries gently.",
        (
            (
                "My mum calls every day asking when I'm finally getting married.",
                "Every day is a lot. What do you feel when you hear that question?",
            ),
            (
                "Angry. And then ashamed for being angry at my mum.",
                "You can love your mum and be angry at her questions; one doesn't cancel the other. Have you told "
                "her how it makes you feel?",
            ),
            (
                "I tried. She gets hurt and says she only wants what's best for me.",
                "She probably does want the best for you; she just shows it in a way that hurts. You could tell her "
                "you appreciate her care, but you'd like to bring that topic up yourself when you're ready. How "
                "does that sound?",
            ),
            (
                "Sounds good, but it's hard for me to talk to her that calmly.",
                "You could start with a letter or a message; it's easier to find the words that way. Want to think "
                "together about what to write?",
            ),
            (
                "I wrote to her. She replied that she didn't mean to pressure me. Didn't expect that.",
                "Sometimes people hear us when we speak calmly and about ourselves. How do you feel after her reply?",
            ),
            (
                "Lighter. She called yesterday and didn't mention the wedding once.",
                "That's a good sign she heard you. What did you talk about instead?",
            ),
        ),
    ),
    Topic(
        "self_esteem",
        ("self-esteem",),
        "Compares {himself|herself} with old classmates and discounts {his|her} own achievements; brightens when "
        "they are named.",
        (
            (
                "I scroll my feed and it feels like everyone's life is working out except mine.",
                "A feed shows the best moments of other people's lives, while we see our own in full, with all the "
                "ordinary days. Who do you compare yourself with most?",
            ),
            (
                "People I studied with. Some are already managers, some live abroad.",
                "And if you look at your own path over the last five years, what has changed for the better?",
            ),
            (
                "Well... I finished my master's, changed jobs, learned to drive.",
                "Those are three serious achievements. Interesting that they didn't come to mind right away. Why do "
                "you think that is?",
            ),
            (
                "Because for me they kind of don't count.",
                'A very familiar feeling: other people\'s successes seem real, and ours are "nothing special". '
                "What would you say to a friend who talked about themselves like that?",
            ),
            (
                "That they did great and they're too hard on themselves.",
                "Try saying that to yourself, in the same tone. Does it feel strange?",
            ),
            (
                "Very strange. But a little warmer, too.",
                "Strange and warmer is a good start: talking to yourself this way takes practice. Would you like to "
                "note down one thing each evening that went well?",
            ),
        ),
    ),
    Topic(
        "breakup",
        ("breakup",),
        "Getting over a recent breakup; muted {his|her} ex's profile and went back to drawing.",
        (
            (
                "We broke up a month ago and I still keep checking {her|his} page.",
                "A month is very little time for something like that. What are you looking for when you open the page?",
            ),
            (
                "Proof that {she's|he's} miserable without me too, I guess.",
                "That's a very honest answer. And what happens to you when it looks like {she's|he's} doing fine?",
            ),
            (
                "I feel even worse. I know I should stop, but my hand just reaches for the phone.",
                "That sounds like a habit, and habits are easier to change with an action than with willpower. "
                "Maybe mute the page or unfollow it, at least for a while?",
            ),
            (
                "Muted it. The first days were hard, it's easier now.",
                "You did something hard for your own sake. What do you fill the time with that used to go on checking?",
            ),
            (
                "Started drawing again. I'd dropped it while we were together.",
                "I'm so glad you've come back to something you love. What are you drawing at the moment?",
            ),
            (
                "Mostly people on the metro, quick sketches on the way to work.",
                "Sketching strangers on the way to work is a lovely habit: it makes an ordinary commute yours. "
                "Would you show them to anyone?",
            ),
        ),
    ),
    Topic(
        "meaning",
        ("meaning", "rest"),
        "Feels life runs on autopilot and misses a sense of freedom; looking for time in the week that is {his|hers} "
        "alone.",
        (
            (
                "I feel like I'm living on autopilot. Work's fine, everything's fine, but nothing brings me joy.",
                '"Everything\'s fine, but nothing brings joy" is a very precise description. When did you last '
                "feel really alive?",
            ),
            (
                "Probably on a hike last summer. Three days with no signal, mountains.",
                "What was there that's missing now?",
            ),
            (
                "Freedom. And the feeling that I decide what to do.",
                "It sounds like right now a lot is decided for you: the schedule, expectations, habits. Is there "
                "any time in your week that's entirely yours?",
            ),
            (
                "Hardly any. Maybe Saturday morning.",
                "Then you could start there: one Saturday morning for only what you want. What would you put in it?",
            ),
            (
                "Took a train out of town on Saturday. First time in ages I felt good.",
                "It's so good to read that. It sounds like you've found a thread to what makes you feel alive. How "
                "could you make it happen again?",
            ),
            (
                "Thinking of going every other weekend. And maybe planning a proper hike for the summer.",
                "Every other weekend is a rhythm you can keep, and a summer hike gives you something to look "
                "forward to. Where would you like to go?",
            ),
        ),
    ),
]

TOPICS = {"ru": _RU, "en": _EN}

# The third sentence of a profile: how the person talks, whatever about.
_TRAITS = {
    "ru": [
        "Отвечает открыто и подробно, охотно размышляет о себе.",
        "{Склонен|Склонна} к самокритике, но быстро откликается на поддержку.",
        "Лучше всего работают маленькие конкретные шаги, а не большие планы.",
        "Ценит прямые вопросы и практичные советы.",
        "Часто пишет поздно вечером, после тяжёлого дня.",
        "Сначала сомневается, но доводит задуманное до конца.",
    ],
    "en": [
        "Answers openly and at length, and enjoys reflecting.",
        "Tends to be self-critical but responds quickly to encouragement.",
        "Small concrete steps work better than big plans.",
        "Values direct questions and practical advice.",
        "Often writes late in the evening, after a hard day.",
        "Hesitates at first, then follows through.",
    ],
}

_AGREEMENT = re.compile(r"\{([^{}|]*)\|([^{}|]*)\}")


def agree(text: str, sex: str) -> str:
    """The words of `text` for a man or a woman ({his|her}: the first for a man)."""
    side = 2 if sex == Gender.FEMALE else 1
    return _AGREEMENT.sub(lambda match: match.group(side), text)


def topic_order(rng: random.Random, language: str) -> list[Topic]:
    """The topics one user brings, in the order they bring them."""
    topics = list(TOPICS[language])
    rng.shuffle(topics)
    return topics


def exchanges(topics: list[Topic], count: int, sex: str) -> list[tuple[str, str]]:
    """The first `count` (message, answer) pairs of a user who goes through `topics` one after another (and
    round again, if they write that much)."""
    pairs = [pair for topic in topics for pair in topic.turns]
    return [tuple(agree(text, sex) for text in pairs[index % len(pairs)]) for index in range(count)]


def topics_discussed(topics: list[Topic], count: int) -> list[Topic]:
    """The topics `count` messages reached."""
    per_topic = len(topics[0].turns)
    return topics[: min(len(topics), -(-count // per_topic))]


def profile(rng: random.Random, language: str, discussed: list[Topic], sex: str) -> tuple[str, list[str]]:
    """A profile as the rotation writes one: at most three sentences, and up to five topic tags (streams)."""
    sentences = [discussed[0].summary]
    if len(discussed) > 1:
        sentences.append(discussed[-1].summary)
    sentences.append(rng.choice(_TRAITS[language]))
    streams = list(dict.fromkeys(tag for topic in discussed for tag in topic.tags))[:5]
    return agree(" ".join(sentences), sex), streams
