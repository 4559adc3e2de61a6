"""Labels of the results website in Kyrgyz, Russian and English.

Kyrgyz is the state language and the default; Russian is the official language and
English is for observers.  A missing label falls back to English, then to its key, so
a page never fails because of a translation.
"""

from __future__ import annotations

LANGS = ("ky", "ru", "en")
DEFAULT = "ky"

_LABELS: dict[str, tuple[str, str, str]] = {
    # key: (ky, ru, en)
    "site": ("БШК — шайлоонун алдын ала жыйынтыктары", "ЦИК — предварительные итоги выборов",
             "CEC — preliminary election results"),
    "cec": ("Шайлоо жана референдум өткөрүү боюнча борбордук комиссия",
            "Центральная комиссия по выборам и проведению референдумов",
            "Central Commission for Elections and Referenda"),
    "preliminary": ("Алдын ала маалымат: PCOS автоматтык саноо. "
                    "Акыркы жыйынтык — кол менен саноо протоколдору.",
                    "Предварительные данные: автоматический подсчёт PCOS. "
                    "Окончательные итоги — протоколы ручного подсчёта.",
                    "Preliminary: PCOS machine count. The manual count protocols are final."),
    "national": ("Республика боюнча", "По республике", "Nationwide"),
    "decs_reporting": ("Маалымат берген УИК", "УИК передали данные", "DECs reporting"),
    "units_reporting": ("Маалымат берген PCOS", "PCOS передали данные", "PCOS units reporting"),
    "roll_covered": ("Камтылган шайлоочулар тизмеси", "Охват списков избирателей", "Roll covered"),
    "turnout": ("Катышуу", "Явка", "Turnout"),
    "participants": ("Добуш бергендер", "Приняли участие", "Participants"),
    "roll": ("Тизмедеги шайлоочулар", "Избирателей в списке", "Voters on the roll"),
    "party": ("Партия", "Партия", "Party"),
    "candidate": ("Талапкер", "Кандидат", "Candidate"),
    "votes": ("Добуштар", "Голоса", "Votes"),
    "share": ("Үлүшү", "Доля", "Share"),
    "seats": ("Мандаттар", "Мандаты", "Seats"),
    "seats_pr": ("Тизме б-ча", "По спискам", "List seats"),
    "seats_smd": ("Округ б-ча", "По округам", "District seats"),
    "threshold": ("Өтүү босогосу", "Проходной барьер", "Threshold"),
    "against_all": ("Баарына каршы", "Против всех", "Against all"),
    "invalid": ("Жараксыз бюллетендер", "Недействительные бюллетени", "Invalid ballots"),
    "blank": ("Белгисиз", "Пустые", "Blank"),
    "overvote": ("Ашыкча белгиленген", "С лишними отметками", "Overvoted"),
    "valid": ("Жарактуу", "Действительные", "Valid"),
    "ballots": ("Табылган бюллетендер", "Бюллетеней в ящиках", "Ballots found"),
    "regions": ("Аймактар", "Регионы", "Regions"),
    "region": ("Аймак", "Регион", "Region"),
    "districts": ("Бир мандаттуу округдар", "Одномандатные округа", "Single-mandate districts"),
    "district": ("Округ", "Округ", "District"),
    "dec": ("УИК", "УИК", "DEC"),
    "decs": ("Участкалык шайлоо комиссиялары", "Участковые избирательные комиссии",
             "Precinct commissions (DECs)"),
    "status": ("Абалы", "Статус", "Status"),
    "published": ("Жарыяланды", "Опубликовано", "Published"),
    "partial": ("Толук эмес", "Неполные данные", "Partial"),
    "quarantined": ("Карантинде", "Карантин", "Quarantined"),
    "awaiting": ("Күтүлүүдө", "Ожидается", "Awaiting"),
    "quarantine": ("Карантиндеги маалыматтар", "Данные на карантине", "Quarantined data"),
    "quarantine_note": ("Бул УИКтин сандары текшерүүдөн өткөн жок жана жарыяланбайт.",
                        "Данные этой УИК не прошли контроль и не публикуются.",
                        "This DEC's numbers failed the publication checks and are not shown."),
    "reason": ("Себеби", "Причина", "Reason"),
    "winner": ("Жеңүүчү", "Победитель", "Winner"),
    "leader": ("Алдыда", "Лидирует", "Leading"),
    "repeat": ("Кайра шайлоо: «баарына каршы» алдыда", "Повторные выборы: «против всех» впереди",
               "Repeat election: “against all” leads"),
    "tie": ("Тең добуш", "Равенство голосов", "Tie"),
    "no_data": ("Маалымат жок", "Нет данных", "No data yet"),
    "search": ("УИК номери", "Номер УИК", "DEC number"),
    "find": ("Табуу", "Найти", "Find"),
    "units": ("PCOS түзүлүштөрү", "Устройства PCOS", "PCOS units"),
    "unit": ("Түзүлүш", "Устройство", "Unit"),
    "zero_report": ("Нөлдүк отчёт", "Нулевой отчёт", "Zero report"),
    "final_report": ("Жыйынтык отчёт", "Итоговый отчёт", "Final report"),
    "audit_head": ("Аудит журналынын башы", "Голова журнала аудита", "Audit log head"),
    "received": ("Кабыл алынды", "Получено", "Received"),
    "unit_time": ("Түзүлүштүн убактысы", "Время устройства", "Unit clock"),
    "manual": ("Кол менен саноо протоколу", "Протокол ручного подсчёта", "Manual count protocol"),
    "scan": ("Протоколдун сүрөтү", "Скан протокола", "Protocol scan"),
    "line": ("Сап", "Строка", "Line"),
    "machine": ("PCOS", "PCOS", "Machine"),
    "difference": ("Айырма", "Разница", "Difference"),
    "discrepancies": ("Дал келбестиктер", "Расхождения", "Discrepancies"),
    "discrepancy_note": ("PCOS саноосу менен кол саноо протоколунун ортосундагы айырмалар.",
                         "Расхождения между подсчётом PCOS и протоколом ручного подсчёта.",
                         "Differences between the PCOS count and the manual count protocol."),
    "protocol_problems": ("Протоколдун ички каталары", "Ошибки контрольных соотношений",
                          "Control relations broken on the sheet"),
    "none": ("Жок", "Нет", "None"),
    "updated": ("Жаңыртылды", "Обновлено", "Updated"),
    "live": ("Барак өзү жаңыланат", "Страница обновляется автоматически", "This page updates live"),
    "pr_contest": ("Партиялык тизмелер боюнча шайлоо", "Выборы по партийным спискам",
                   "Party-list (proportional) contest"),
    "smd_contest": ("Бир мандаттуу округ боюнча шайлоо", "Выборы по одномандатному округу",
                    "Single-mandate district contest"),
    "members": ("Шайланган талапкерлер", "Избранные кандидаты", "Elected candidates"),
    "abroad": ("Чет өлкөдө", "За рубежом", "Abroad"),
    "api": ("JSON API", "JSON API", "JSON API"),
    "exports": ("NIST экспорту", "Экспорт NIST", "NIST exports"),
    "of": ("ичинен", "из", "of"),
    "regional_check": ("Аймактык босого", "Региональный барьер", "Regional threshold"),
    "not_found": ("Табылган жок", "Не найдено", "Not found"),
    "participants_source": ("Катышуучулардын булагы", "Источник числа участников",
                            "Participants source"),
}  # fmt: skip


def labels(lang: str) -> dict[str, str]:
    """Every label in ``lang`` (unknown languages get the default)."""
    index = LANGS.index(lang) if lang in LANGS else LANGS.index(DEFAULT)
    return {key: values[index] or values[2] for key, values in _LABELS.items()}


def pick(lang: str | None) -> str:
    return lang if lang in LANGS else DEFAULT
