"""Labels of the report in English, Russian and Persian, and number formatting.

Numbers are written with Latin digits in every language (the figures stay comparable with the
tables and the CLI), grouped by the language's habit: ``12,345.6`` in English and Persian,
``12 345,6`` in Russian. Dataset text (link names, scenario titles and descriptions) is shown as
written in the dataset, in English.
"""

from __future__ import annotations

import math

from karvan.errors import InputError

LANGS = ("en", "ru", "fa")
RTL = frozenset({"fa"})

#: key -> (en, ru, fa)
_LABELS: dict[str, tuple[str, str, str]] = {
    "title": ("Freight corridor report", "Отчёт по грузовому коридору",
              "گزارش کریدور حمل بار"),
    "scenario": ("Scenario", "Сценарий", "سناریو"),
    "scenarios": ("Scenarios", "Сценарии", "سناریوها"),
    "year": ("Year", "Год", "سال"),
    "reference": ("reference", "базовый", "مرجع"),
    "sep": (", ", ", ", "، "),
    "summary": ("Key figures", "Основные показатели", "شاخص‌های اصلی"),
    "demand": ("Demand", "Спрос", "تقاضا"),
    "tonne_km_bn": ("Tonne-km, bn", "Тонно-км, млрд", "تن-کیلومتر، میلیارد"),
    "ue": ("User equilibrium", "Равновесие пользователей", "تعادل کاربران"),
    "choice_solver": ("Logit choice with capacities (multipliers)",
                      "Логит-выбор с ограничениями пропускной способности (множители)",
                      "انتخاب لاجیت با محدودیت ظرفیت (ضرایب)"),
    "capacity_excess": ("largest relative excess over a capacity",
                        "наибольшее относительное превышение пропускной способности",
                        "بیشترین مازاد نسبی بر ظرفیت"),
    "converged": ("converged", "сошлось", "همگرا شد"),
    "not_converged": ("not converged", "не сошлось", "همگرا نشد"),
    "gap": ("relative gap", "относительный разрыв", "شکاف نسبی"),
    "lp_binding": ("Binding capacities (LP)", "Связывающие ограничения пропускной способности (ЛП)",
                   "ظرفیت‌های محدودکننده (برنامه‌ریزی خطی)"),
    "map": ("Freight flows", "Грузопотоки", "جریان‌های بار"),
    "map_note": ("Band width: tonnes per year (both directions); colour: utilization of "
                 "capacity. Hover for details; drag to pan, buttons to zoom.",
                 "Ширина полосы — тонн в год (в обоих направлениях); цвет — загрузка пропускной "
                 "способности. Наведите указатель для подробностей; перетаскивайте для сдвига, "
                 "масштаб — кнопками.",
                 "پهنای نوار: تن در سال (هر دو جهت)؛ رنگ: میزان بهره‌برداری از ظرفیت. برای "
                 "جزئیات نشانگر را روی خطوط ببرید؛ برای جابه‌جایی بکشید و برای بزرگ‌نمایی از "
                 "دکمه‌ها استفاده کنید."),
    "legend": ("Legend", "Условные обозначения", "راهنما"),
    "util_none": ("no capacity given", "пропускная способность не задана", "ظرفیت تعیین نشده"),
    "no_flow": ("no flow", "нет потока", "بدون جریان"),
    "sea_leg": ("Sea or ferry leg (dashed)", "Морской или паромный участок (пунктир)",
                "مسیر دریایی یا کشتی (خط‌چین)"),
    "border": ("Border crossing", "Пограничный переход", "گذرگاه مرزی"),
    "transfer": ("Transfer (port, terminal, gauge change)",
                 "Перевалка (порт, терминал, смена колеи)",
                 "انتقال بار (بندر، پایانه، تغییر عرض خط)"),
    "zoom_in": ("Zoom in", "Увеличить", "بزرگ‌نمایی"),
    "zoom_out": ("Zoom out", "Уменьшить", "کوچک‌نمایی"),
    "zoom_caucasus": ("Caucasus and Caspian", "Кавказ и Каспий", "قفقاز و دریای خزر"),
    "zoom_reset": ("Whole map", "Вся карта", "کل نقشه"),
    "tonnes": ("Tonnes", "Тонны", "تن"),
    "tonnes_yr": ("t/yr", "т/год", "تن در سال"),
    "mt": ("Mt", "млн т", "میلیون تن"),
    "mt_yr": ("Mt/yr", "млн т/год", "میلیون تن در سال"),
    "ab": ("A→B", "A→B", "A→B"),
    "ba": ("B→A", "B→A", "B→A"),
    "both": ("both directions", "оба направления", "هر دو جهت"),
    # from one country to another: in a right-to-left line the arrow points the reading way
    "to": (" → ", " → ", " ← "),
    "utilization": ("Utilization", "Загрузка", "بهره‌برداری از ظرفیت"),
    "lp_utilization": ("Utilization (LP)", "Загрузка (ЛП)", "بهره‌برداری (برنامه‌ریزی خطی)"),
    "shadow_price": ("Shadow price, $/t", "Теневая цена, $/т", "قیمت سایه‌ای، دلار/تن"),
    "shadow_price_choice": ("Shadow price (choice model), $/t",
                            "Теневая цена (модель выбора), $/т",
                            "قیمت سایه‌ای (مدل انتخاب)، دلار/تن"),
    "shadow_price_limit": ("Shadow price (choice model's limit, no dispersion), $/t",
                           "Теневая цена (предел модели выбора, без разброса), $/т",
                           "قیمت سایه‌ای (حد مدل انتخاب، بدون پراکندگی)، دلار/تن"),
    "capacity": ("Capacity, Mt/yr", "Пропускная способность, млн т/год",
                 "ظرفیت، میلیون تن در سال"),
    "mode": ("Mode", "Вид транспорта", "شیوه حمل"),
    "link": ("Link", "Участок", "پیوند"),
    "country": ("Country", "Страна", "کشور"),
    "warnings": ("Warnings", "Предупреждения", "هشدارها"),
    "warnings_note": ("What karvan warned of when this scenario was loaded and run: values "
                      "allowed but unusual, demand left without a route, solvers that stopped "
                      "early.",
                      "О чём karvan предупредил при загрузке и расчёте сценария: допустимые, "
                      "но необычные значения, спрос без маршрута, незавершённые расчёты.",
                      "هشدارهای karvan هنگام بارگذاری و اجرای این سناریو: مقادیر مجاز اما "
                      "غیرمعمول، تقاضای بدون مسیر، حل‌کننده‌هایی که زودتر متوقف شدند."),
    "countries": ("Countries: transit", "Страны: транзит", "کشورها: ترانزیت"),
    "countries_note": ("Tonnes carried on each country's links; transit: cargo with neither "
                       "end in the country, and cargo from or to overseas through one of its "
                       "ports that crosses it by rail or road.",
                       "Тонны, перевезённые по участкам страны; транзит — грузы, у которых ни "
                       "отправитель, ни получатель не находятся в этой стране, а также грузы "
                       "из-за моря или за море через её порт, пересекающие страну по железной "
                       "или автомобильной дороге.",
                       "تن حمل‌شده روی پیوندهای هر کشور؛ ترانزیت: باری که نه مبدأ و نه مقصد آن "
                       "در آن کشور است، و باری که از راه یکی از بنادر آن از ماورای دریا می‌آید "
                       "یا به آن سو می‌رود و با راه‌آهن یا جاده از کشور می‌گذرد."),
    "transit_tonnes": ("Transit, Mt", "Транзит, млн т", "ترانزیت، میلیون تن"),
    "transit_share": ("Transit share", "Доля транзита", "سهم ترانزیت"),
    "transit_tkm": ("Transit tonne-km, bn", "Транзит, млрд т·км", "ترانزیت، میلیارد تن-کیلومتر"),
    "transit_revenue": ("Transit revenue, $ m", "Доход от транзита, млн $",
                        "درآمد ترانزیت، میلیون دلار"),
    "all_tonnes": ("All cargo, Mt", "Все грузы, млн т", "کل بار، میلیون تن"),
    "chart_transit": ("Transit tonnes by country, Mt/yr", "Транзит по странам, млн т/год",
                      "ترانزیت به تفکیک کشور، میلیون تن در سال"),
    "bottlenecks": ("Bottlenecks", "Узкие места", "گلوگاه‌ها"),
    "shadow_capped_note": ("* Set by demand the capacities cannot carry (the LP's penalty on "
                           "unserved demand), not by a saving in transport cost: a capacity "
                           "that turns freight away.",
                           "* Определяется грузом, который пропускная способность не может "
                           "пропустить (штраф ЛП за непровезённый спрос), а не экономией "
                           "транспортных затрат: ограничение отсекает грузы.",
                           "* ناشی از تقاضایی که ظرفیت‌ها نمی‌توانند حمل کنند (جریمهٔ برنامه‌ریزی "
                           "خطی برای تقاضای حمل‌نشده)، نه صرفه‌جویی در هزینهٔ حمل: ظرفیتی که بار "
                           "را برمی‌گرداند."),
    "bottlenecks_note": ("Links loaded above 80 % of capacity in the run (under the choice model: "
                         "of their hard capacity) or binding in the capacity LP, a second opinion "
                         "that routes every tonne by least cost; the LP's shadow price is what "
                         "one more tonne of capacity would save per tonne there.",
                         "Участки, загруженные более чем на 80 % в расчёте (в модели выбора — от "
                         "их жёсткой пропускной способности) или связывающие в задаче ЛП, "
                         "втором мнении, которое везёт каждую тонну по наименьшим затратам; "
                         "теневая цена ЛП — экономия на тонну от увеличения пропускной "
                         "способности на одну тонну.",
                         "پیوندهایی که در اجرا بیش از 80 درصد ظرفیتشان پر است (در مدل انتخاب: "
                         "ظرفیت سخت آن‌ها) یا در برنامه‌ریزی خطی ظرفیت، نظر دومی که هر تن را با "
                         "کمترین هزینه می‌برد، محدودکننده‌اند؛ قیمت سایه‌ای آن صرفه‌جویی هر تن با "
                         "افزودن یک تن ظرفیت است."),
    "borders_note": ("Capacity: the sum of the capacities the crossing's links have (a link "
                     "without one is unlimited, so the crossing's tonnes may exceed it); "
                     "utilization: that of its busiest link against its own capacity.",
                     "Пропускная способность — сумма пропускных способностей звеньев перехода, "
                     "где они заданы (звено без неё не ограничено, поэтому грузы перехода могут "
                     "её превышать); загрузка — загрузка его самого загруженного звена "
                     "относительно собственной пропускной способности.",
                     "ظرفیت: جمع ظرفیت پیوندهای گذرگاه، هر جا تعیین شده باشد (پیوند بدون ظرفیت "
                     "نامحدود است، پس بار گذرگاه ممکن است از آن بیشتر شود)؛ بهره‌برداری: "
                     "بهره‌برداری پرکارترین پیوند آن در برابر ظرفیت خودش."),
    "chart_bottlenecks": ("Utilization of the bottlenecks", "Загрузка узких мест",
                          "بهره‌برداری از ظرفیت گلوگاه‌ها"),
    "none": ("None.", "Нет.", "هیچ."),
    "borders": ("Border crossings", "Пограничные переходы", "گذرگاه‌های مرزی"),
    "border_id": ("Crossing", "Переход", "گذرگاه"),
    "shipper": ("Shipper's choice against Suez", "Выбор грузоотправителя в сравнении с Суэцем",
                "انتخاب صاحب کالا در مقایسه با مسیر سوئز"),
    "shipper_note": ("Best route of each option, door to door, by generalized cost: the "
                     "charges paid plus the value of time × time; a route can be cheaper in "
                     "generalized cost and dearer in charges. The choice model's shares weigh "
                     "each route family's reliability, insurance, empty return and constant "
                     "besides, which this comparison leaves out. Differences against the "
                     "all-water route via Suez (negative: faster or cheaper than Suez).",
                     "Лучший маршрут каждого варианта «от двери до двери» по обобщённым "
                     "затратам: уплаченные тарифы плюс стоимость времени × время; маршрут может "
                     "быть дешевле по обобщённым затратам и дороже по тарифам. Доли модели "
                     "выбора учитывают также надёжность, страхование, порожний возврат и "
                     "константу каждого семейства маршрутов, которых в этом сравнении нет. "
                     "Разница с морским маршрутом через Суэц (отрицательная — быстрее или "
                     "дешевле).",
                     "بهترین مسیر هر گزینه، از در تا در، بر پایه هزینه تعمیم‌یافته: کرایه "
                     "پرداختی به‌علاوه ارزش زمان × زمان؛ مسیری ممکن است در هزینه تعمیم‌یافته "
                     "ارزان‌تر و در کرایه گران‌تر باشد. سهم‌های مدل انتخاب افزون بر این، "
                     "قابلیت اطمینان، بیمه، بازگشت خالی و ثابت هر خانواده مسیر را نیز در نظر "
                     "می‌گیرند که این مقایسه ندارد. تفاوت با مسیر تمام‌دریایی از راه سوئز "
                     "(منفی: سریع‌تر یا ارزان‌تر از سوئز)."),
    "origin": ("Origin", "Откуда", "مبدأ"),
    "destination": ("Destination", "Куда", "مقصد"),
    "commodity": ("Commodity", "Груз", "کالا"),
    "option": ("Route", "Маршрут", "مسیر"),
    "available": ("Open", "Доступен", "باز"),
    "days": ("Days", "Сутки", "روز"),
    "distance_km": ("km", "км", "کیلومتر"),
    "charge": ("Charges, $/t", "Тарифы, $/т", "کرایه، دلار/تن"),
    "cost": ("Generalized cost (charges + time), $/t",
             "Обобщённые затраты (тарифы + время), $/т",
             "هزینه تعمیم‌یافته (کرایه + زمان)، دلار/تن"),
    "vs_suez_days": ("Δ days vs Suez", "Δ суток к Суэцу", "اختلاف روز با سوئز"),
    "vs_suez_cost": ("Δ generalized cost vs Suez, $/t", "Δ обобщённых затрат к Суэцу, $/т",
                     "اختلاف هزینه تعمیم‌یافته با سوئز، دلار/تن"),
    "chart_shipper": ("Door-to-door generalized cost (charges + value of time × time), $/t",
                      "Обобщённые затраты «от двери до двери» (тарифы + стоимость времени × "
                      "время), $/т",
                      "هزینه تعمیم‌یافته از در تا در (کرایه + ارزش زمان × زمان)، دلار/تن"),
    "yes": ("yes", "да", "بله"),
    "no": ("no", "нет", "خیر"),
    "diff": ("Change against", "Изменения относительно", "تغییر نسبت به"),
    "diff_map": ("Change in tonnes", "Изменение грузопотоков", "تغییر جریان بار"),
    "diff_note": ("Band width: change in tonnes per year; blue: more, red: less.",
                  "Ширина полосы — изменение тонн в год; синий — больше, красный — меньше.",
                  "پهنای نوار: تغییر تن در سال؛ آبی: بیشتر، قرمز: کمتر."),
    "increase": ("+ more tonnes", "+ больше грузов", "+ بار بیشتر"),
    "decrease": ("− fewer tonnes", "− меньше грузов", "− بار کمتر"),
    "change": ("Change", "Изменение", "تغییر"),
    "diff_countries": ("Countries", "Страны", "کشورها"),
    "diff_links": ("Links with the largest change", "Участки с наибольшими изменениями",
                   "پیوندهای با بیشترین تغییر"),
    "diff_links_note": ("The {n} links whose tonnes change most and the {n} whose utilization "
                        "changes most: a capacity changed without a tonne moved changes only "
                        "the utilization.",
                        "{n} участков с наибольшим изменением тонн и {n} с наибольшим "
                        "изменением загрузки: изменение пропускной способности без перемещения "
                        "грузов меняет только загрузку.",
                        "{n} پیوند با بیشترین تغییر تن و {n} پیوند با بیشترین تغییر بهره‌برداری "
                        "از ظرفیت: تغییر ظرفیت بدون جابه‌جایی بار فقط بهره‌برداری از ظرفیت را "
                        "تغییر می‌دهد."),
    "diff_borders": ("Border crossings", "Пограничные переходы", "گذرگاه‌های مرزی"),
    "diff_shipper": ("Shipper's routes", "Маршруты грузоотправителя", "مسیرهای صاحب کالا"),
    "diff_benefit": ("Users' benefit", "Выгода грузоотправителей", "منفعت صاحبان کالا"),
    "benefit_note": ("B against A: the saving in shippers' expected generalized cost, the choice "
                     "model's logsum (charges, time, reliability, family constants, capacity "
                     "surcharges), by the rule of a half over the two runs' demand; not "
                     "operators' revenue, building costs or external costs.",
                     "B относительно A: экономия ожидаемых обобщённых затрат грузоотправителей, "
                     "логсуммы модели выбора (тарифы, время, надёжность, константы семейств "
                     "маршрутов, надбавки за пропускную способность), по правилу половины по "
                     "спросу обоих расчётов; без выручки перевозчиков, затрат на строительство "
                     "и внешних издержек.",
                     "B در برابر A: صرفه‌جویی در هزینه تعمیم‌یافته مورد انتظار صاحبان کالا، "
                     "لگ‌جمع مدل انتخاب (کرایه، زمان، قابلیت اطمینان، ثابت‌های خانواده مسیرها، "
                     "عوارض ظرفیت)، با قاعده نصف بر تقاضای هر دو اجرا؛ بدون درآمد بهره‌برداران، "
                     "هزینه ساخت و هزینه‌های بیرونی."),
    "benefit_note_least": ("B against A: the saving in shippers' least generalized cost (charges "
                           "and time) by the rule of a half over the two runs' demand; not "
                           "operators' revenue, building costs or external costs.",
                           "B относительно A: экономия наименьших обобщённых затрат "
                           "грузоотправителей (тарифы и время) по правилу половины по спросу "
                           "обоих расчётов; без выручки перевозчиков, затрат на строительство и "
                           "внешних издержек.",
                           "B در برابر A: صرفه‌جویی در کمترین هزینه تعمیم‌یافته صاحبان کالا "
                           "(کرایه و زمان) با قاعده نصف بر تقاضای هر دو اجرا؛ بدون درآمد "
                           "بهره‌برداران، هزینه ساخت و هزینه‌های بیرونی."),
    "from_country": ("From", "Откуда", "از"),
    "to_country": ("To", "Куда", "به"),
    "benefit_demand_changed": ("The demand differs in {n} pair(s) ({a} Mt/yr in A, {b} in B): "
                               "the rule of a half counts the change of cost, not the value of "
                               "the tonnes added or lost.",
                               "Спрос различается в {n} пар(ах) ({a} млн т/год в A, {b} в B): "
                               "правило половины учитывает изменение затрат, но не ценность "
                               "добавленных или потерянных тонн.",
                               "تقاضا در {n} جفت متفاوت است ({a} میلیون تن در سال در A، {b} در "
                               "B): قاعده نصف تغییر هزینه را می‌شمارد، نه ارزش تن‌های افزوده یا "
                               "ازدست‌رفته را."),
    "benefit_left_out": ("Left out: {n} pair(s), {mt} Mt/yr, without a cost in one run (no route "
                         "or no demand there) or whose demand a capacity turns away.",
                         "Не учтены: {n} пар(ы), {mt} млн т/год, без затрат в одном из расчётов "
                         "(нет маршрута или спроса) или со спросом, который не пропускает "
                         "пропускная способность.",
                         "کنار گذاشته: {n} جفت، {mt} میلیون تن در سال، بدون هزینه در یکی از "
                         "اجراها (بدون مسیر یا تقاضا) یا با تقاضایی که ظرفیت آن را نمی‌پذیرد."),
    "benefit_musd": ("Benefit, M USD/yr", "Выгода, млн долл./год", "منفعت، میلیون دلار در سال"),
    "saving_usd_t": ("Saving, USD/t", "Экономия, долл./т", "صرفه‌جویی، دلار/تن"),
    "all_commodities": ("All", "Все", "همه"),
    "chart_diff_transit": ("Change in transit tonnes, Mt/yr", "Изменение транзита, млн т/год",
                           "تغییر ترانزیت، میلیون تن در سال"),
    "disclaimer": ("The boundaries and names shown on the maps do not imply any judgement on the "
                   "legal status of any territory or any endorsement or acceptance of such "
                   "boundaries.",
                   "Границы и названия, показанные на картах, не означают какого-либо суждения "
                   "о правовом статусе какой-либо территории, а также признания или одобрения "
                   "этих границ.",
                   "مرزها و نام‌هایی که بر نقشه‌ها نشان داده شده‌اند به معنای هیچ‌گونه داوری "
                   "درباره وضعیت حقوقی هیچ سرزمینی یا تأیید یا پذیرش این مرزها نیست."),
    "attribution": ("Country outlines: Natural Earth (public domain), clipped and simplified.",
                    "Контуры стран: Natural Earth (общественное достояние), обрезаны и "
                    "упрощены.",
                    "مرز کشورها: Natural Earth (مالکیت عمومی)، بریده و ساده‌شده."),
    "generated": ("Written by karvan", "Подготовлено karvan", "تهیه‌شده با karvan"),
    "dataset_text": ("Names and scenario descriptions are shown as written in the dataset.",
                     "Названия и описания сценариев приводятся так, как они записаны в данных.",
                     "نام‌ها و شرح سناریوها همان‌گونه که در داده‌ها آمده نشان داده شده‌اند."),
    "rail": ("rail", "железная дорога", "راه‌آهن"),
    "road": ("road", "автодорога", "جاده"),
    "sea": ("sea", "море", "دریا"),
    "ferry": ("ferry", "паром", "کشتی فری"),
    "mode_transfer": ("transfer", "перевалка", "انتقال بار"),
    "mode_border": ("border", "граница", "مرز"),
    # the choice model (karvan.report.choice)
    "choice": ("Route families and binding capacities",
               "Семейства маршрутов и ограничивающие мощности",
               "خانواده‌های مسیر و ظرفیت‌های محدودکننده"),
    "choice_note": (
        "Choice model (nested logit over route families, hard capacities): each family's share "
        "of the tonnes of the major country pairs, all commodities; the binding capacities with "
        "their multiplier in hours of queue and in USD per tonne (hours × value of time, "
        "averaged over the tonnes through).",
        "Модель выбора (вложенный логит по семействам маршрутов, жёсткие мощности): доля "
        "каждого семейства в тоннах основных пар стран, все грузы; ограничивающие мощности и их "
        "множители в часах очереди и в долларах за тонну (часы × стоимость времени, в среднем "
        "по проходящим тоннам).",
        "مدل انتخاب (لاجیت آشیانه‌ای بر خانواده‌های مسیر، ظرفیت‌های سخت): سهم هر خانواده از "
        "تناژ جفت‌کشورهای اصلی، همه کالاها؛ ظرفیت‌های محدودکننده با ضریب آن‌ها به ساعت صف و به "
        "دلار در تن (ساعت × ارزش زمان، میانگین بر تناژ عبوری)."),
    "od_pair": ("Country pair", "Пара стран", "جفت کشور"),
    "family": ("Route family", "Семейство маршрутов", "خانواده مسیر"),
    "nest": ("Nest", "Гнездо", "آشیانه"),
    "share": ("Share", "Доля", "سهم"),
    "direction": ("Direction", "Направление", "جهت"),
    "shadow_h": ("Shadow price, h", "Теневая цена, ч", "قیمت سایه، ساعت"),
    "shadow_usd": ("Shadow price, USD/t", "Теневая цена, долл./т", "قیمت سایه، دلار در تن"),
    "no_binding": ("No capacity binds.", "Ни одна мощность не ограничивает.",
                   "هیچ ظرفیتی محدودکننده نیست."),
    # calibration (karvan.report.calibration)
    "calibration": ("Calibration against reported volumes",
                    "Калибровка по фактическим объёмам",
                    "واسنجی با حجم‌های گزارش‌شده"),
    "calibration_what_if": (
        "This scenario is not what happened in its year: its rows of that year set a what-if "
        "against what was counted and check nothing of the model (the reference of its year "
        "does); its rows of other years are compared with the back-casts.",
        "Этот сценарий — не то, что произошло в его году: его строки этого года сопоставляют "
        "допущение с фактическими данными и ничего не проверяют в модели (это делает эталонный "
        "расчёт того же года); строки других лет сопоставлены с ретроспективными расчётами.",
        "این سناریو آنچه در سال خود رخ داد نیست: ردیف‌های آن سال یک فرض را با آنچه شمرده شده "
        "مقایسه می‌کنند و چیزی از مدل را نمی‌آزمایند (اجرای مرجع همان سال می‌آزماید)؛ ردیف‌های "
        "سال‌های دیگر با اجراهای گذشته‌نگر مقایسه شده‌اند."),
    "calibration_note": (
        "Each reported volume against the run of its year, counted in the scope of the figure. "
        "Fit rows may be fitted to; validation rows never are (split rule in the dataset "
        "documentation). Targets: every fit row within ±30 %; on validation rows a median "
        "|ln M/C| of at most ln 1.3 = 0.26 and no row beyond a factor 2.",
        "Каждый фактический объём сопоставлен с расчётом того же года в охвате самой цифры. "
        "По строкам подгонки модель может настраиваться, по проверочным — никогда (правило "
        "разделения в описании данных). Цели: каждая строка подгонки в пределах ±30 %; на "
        "проверочных строках медиана |ln M/C| не более ln 1,3 = 0,26 и ни одной строки с "
        "расхождением больше чем в 2 раза.",
        "هر حجم گزارش‌شده در برابر اجرای مدل در همان سال و در همان دامنه‌ای که رقم می‌شمارد. "
        "مدل ممکن است با ردیف‌های برازش تنظیم شود، اما با ردیف‌های اعتبارسنجی هرگز (قاعدهٔ "
        "تفکیک در مستندات داده‌ها). هدف‌ها: هر ردیف برازش در محدودهٔ ±30%؛ در ردیف‌های "
        "اعتبارسنجی میانهٔ |ln M/C| حداکثر ln 1.3 = 0.26 و هیچ ردیفی با اختلاف بیش از دو برابر."),
    "cal_chart": ("Modelled against reported tonnes", "Расчётные и фактические тонны",
                  "تن مدل‌شده در برابر تن گزارش‌شده"),
    "cal_chart_note": ("Log axes, Mt/yr; green band: ±30 %; dashed: a factor 2. Hollow "
                       "markers on the bottom edge: nothing modelled. Hover for the scope, the "
                       "source and the largest parts (country pair and commodity).",
                       "Логарифмические оси, млн т/год; зелёная полоса — ±30 %; пунктир — "
                       "расхождение в 2 раза. Пустые значки у нижнего края — расчёт равен "
                       "нулю. Наведите указатель, чтобы увидеть охват, источник и основные "
                       "составляющие (пара стран и груз).",
                       "محورهای لگاریتمی، میلیون تن در سال؛ نوار سبز: ±30%؛ خط‌چین: دو "
                       "برابر. نشانه‌های توخالی در لبهٔ پایین: مقدار مدل صفر است. برای دیدن "
                       "دامنه، منبع و بزرگ‌ترین سهم‌ها (جفت کشور و کالا)، نشانگر را روی نقطه "
                       "ببرید."),
    "cal_observed": ("Reported, Mt/yr", "Фактически, млн т/год", "گزارش‌شده، میلیون تن در سال"),
    "cal_modelled": ("Modelled, Mt/yr", "Расчёт, млн т/год", "مدل، میلیون تن در سال"),
    "cal_fit": ("fit (independent)", "подгонка (независимые)", "برازش (مستقل)"),
    "cal_built": ("fit (figure built the inputs)", "подгонка (цифра вошла в исходные данные)",
                  "برازش (رقم در ساخت داده‌ها به کار رفته)"),
    "cal_validate": ("validation", "проверка", "اعتبارسنجی"),
    "cal_check": ("check (a total of fit rows, not fitted)",
                  "контроль (сумма строк подгонки, не подгоняется)",
                  "کنترل (جمع ردیف‌های برازش، برازش نمی‌شود)"),
    "cal_scope": ("Counts", "Охват", "دامنه"),
    "cal_source": ("Source", "Источник", "منبع"),
    "cal_set": ("Rows", "Строки", "ردیف‌ها"),
    "cal_compared": ("Compared", "Сопоставлено", "مقایسه‌شده"),
    "cal_within": ("Within ±30 %", "В пределах ±30 %", "در محدودهٔ ±30%"),
    "cal_beyond": ("Beyond a factor 2", "Расхождение больше 2 раз", "بیش از دو برابر"),
    "cal_median": ("Median |ln M/C|", "Медиана |ln M/C|", "میانهٔ |ln M/C|"),
    "cal_geh": ("GEH < 5", "GEH < 5", "GEH < 5"),
    "cal_target": ("Target met", "Цель достигнута", "هدف محقق شد"),
    "cal_row": ("Reported volume", "Фактический объём", "حجم گزارش‌شده"),
    "cal_ratio": ("M/C", "M/C", "M/C"),
    "cal_rows": ("Every reported volume", "Все фактические объёмы", "همهٔ حجم‌های گزارش‌شده"),
    "cal_parts": ("Largest parts", "Основные составляющие", "بزرگ‌ترین سهم‌ها"),
    "cal_largest": ("Largest part", "Основная составляющая", "بزرگ‌ترین سهم"),
    # like-year references (karvan.scenario.reference)
    "like_year": ("Against {ref} ({ref_year}), the like-year reference: the differences are "
                  "the scenario's own effect.",
                  "Сравнение с {ref} ({ref_year}) — базовым расчётом того же года: разница "
                  "показывает эффект самого сценария.",
                  "در برابر {ref} ({ref_year})، مرجعِ همان سال: تفاوت‌ها اثر خود سناریو است."),
    "other_year": ("Against {ref} ({ref_year}), not a like-year reference: the differences "
                   "include {years} year(s) of demand growth as well as the scenario's own "
                   "changes; run {want} to separate them.",
                   "Сравнение с {ref} ({ref_year}), а не с базовым расчётом того же года: "
                   "разница включает рост спроса за {years} г. наряду с изменениями самого "
                   "сценария; чтобы их разделить, рассчитайте {want}.",
                   "در برابر {ref} ({ref_year})، نه مرجعِ همان سال: تفاوت‌ها افزون بر "
                   "تغییرات خود سناریو، رشد تقاضا در {years} سال را نیز در بر دارد؛ برای "
                   "جدا کردن آن‌ها {want} را اجرا کنید."),
    # as other_year where both runs are references: no third run separates the two
    "other_year_only": ("Against {ref} ({ref_year}), not a like-year reference: the differences "
                        "include {years} year(s) of demand growth as well as the scenario's own "
                        "changes.",
                        "Сравнение с {ref} ({ref_year}), а не с базовым расчётом того же года: "
                        "разница включает рост спроса за {years} г. наряду с изменениями самого "
                        "сценария.",
                        "در برابر {ref} ({ref_year})، نه مرجعِ همان سال: تفاوت‌ها افزون بر "
                        "تغییرات خود سناریو، رشد تقاضا در {years} سال را نیز در بر دارد."),
}

#: ISO 3166-1 alpha-2 (and karvan's XX high seas, XC Caspian) -> (en, ru, fa)
_COUNTRIES: dict[str, tuple[str, str, str]] = {
    "RU": ("Russia", "Россия", "روسیه"),
    "AZ": ("Azerbaijan", "Азербайджан", "جمهوری آذربایجان"),
    "IR": ("Iran", "Иран", "ایران"),
    "GE": ("Georgia", "Грузия", "گرجستان"),
    "AM": ("Armenia", "Армения", "ارمنستان"),
    "TR": ("Türkiye", "Турция", "ترکیه"),
    "KZ": ("Kazakhstan", "Казахстан", "قزاقستان"),
    "TM": ("Turkmenistan", "Туркменистан", "ترکمنستان"),
    "UZ": ("Uzbekistan", "Узбекистан", "ازبکستان"),
    "IN": ("India", "Индия", "هند"),
    "EG": ("Egypt", "Египет", "مصر"),
    "PK": ("Pakistan", "Пакистан", "پاکستان"),
    "AF": ("Afghanistan", "Афганистан", "افغانستان"),
    "IQ": ("Iraq", "Ирак", "عراق"),
    "SA": ("Saudi Arabia", "Саудовская Аравия", "عربستان سعودی"),
    "AE": ("United Arab Emirates", "ОАЭ", "امارات متحده عربی"),
    "OM": ("Oman", "Оман", "عمان"),
    "UA": ("Ukraine", "Украина", "اوکراین"),
    "BY": ("Belarus", "Беларусь", "بلاروس"),
    "CN": ("China", "Китай", "چین"),
    "EU": ("European Union", "Евросоюз", "اتحادیه اروپا"),
    "XX": ("High seas", "Открытое море", "آب‌های آزاد"),
    "XC": ("Caspian Sea", "Каспийское море", "دریای خزر"),
}

_GROUP = {"en": ",", "ru": "\u202f", "fa": ","}
_DECIMAL = {"en": ".", "ru": ",", "fa": "."}
MINUS = "\u2212"


def check_lang(lang: str) -> str:
    """Return ``lang`` if the report speaks it, else raise with the choices.

    Raises
    ------
    InputError
        A language the report does not speak.
    """
    if lang not in LANGS:
        raise InputError(f"unknown report language {lang!r}; choose one of {', '.join(LANGS)}.")
    return lang


def label(key: str, lang: str) -> str:
    """The label ``key`` in ``lang``."""
    return _LABELS[key][LANGS.index(lang)]


#: key -> forms by language, for a count: English (one, other), Russian (one, few, many),
#: Persian (one form: a noun after a numeral stays singular)
_COUNTED: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "iterations": (("iteration", "iterations"), ("итерация", "итерации", "итераций"),
                   ("تکرار",)),
}


def counted(n: int, key: str, lang: str) -> str:
    """The noun ``key`` in the form that follows the count ``n`` in ``lang``.

    >>> [counted(k, "iterations", "ru") for k in (1, 3, 5, 11, 21, 112)]
    ['итерация', 'итерации', 'итераций', 'итераций', 'итерация', 'итераций']
    >>> counted(1, "iterations", "en"), counted(2, "iterations", "en")
    ('iteration', 'iterations')
    """
    forms = _COUNTED[key][LANGS.index(lang)]
    n = abs(int(n))
    if lang == "en":
        return forms[0] if n == 1 else forms[1]
    if lang == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return forms[0]
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return forms[1]
        return forms[2]
    return forms[0]


def labels(lang: str) -> dict[str, str]:
    """Every label in ``lang``, by key."""
    i = LANGS.index(check_lang(lang))
    return {k: v[i] for k, v in _LABELS.items()}


def country_name(code: str, lang: str) -> str:
    """Name of a country code in ``lang``; the code itself when unknown."""
    names = _COUNTRIES.get(str(code))
    return names[LANGS.index(lang)] if names else str(code)


def mode_name(mode: str, lang: str) -> str:
    """Name of a mode (rail, road, sea, transfer...) in ``lang``; the mode itself when unknown."""
    key = {"transfer": "mode_transfer", "border": "mode_border"}.get(mode, mode)
    return label(key, lang) if key in _LABELS else str(mode)


def fmt_num(x: float | None, lang: str, digits: int = 0, *, signed: bool = False) -> str:
    """``x`` with ``digits`` decimals, grouped for ``lang``; an en dash for missing values.

    >>> fmt_num(-1234567.891, "en", 1)
    '−1,234,567.9'
    >>> fmt_num(1234.5, "ru", 1)
    '1\u202f234,5'
    >>> fmt_num(0.4, "fa", 0, signed=True), fmt_num(2, "fa", 0, signed=True)
    ('0', '+2')
    """
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    s = f"{abs(float(x)):,.{digits}f}"
    if s.strip("0.,") == "":  # rounds to zero: no sign
        return s.replace(".", _DECIMAL[lang])
    neg = float(x) < 0
    s = s.replace(",", "\0").replace(".", _DECIMAL[lang]).replace("\0", _GROUP[lang])
    if neg:
        return MINUS + s
    return ("+" + s) if signed else s


def fmt_sci(x: float | None, lang: str, digits: int = 1) -> str:
    """``x`` in scientific notation with ``lang``'s decimal mark; an en dash for missing values.

    >>> fmt_sci(1.6e-15, "ru"), fmt_sci(0.0, "en"), fmt_sci(float("nan"), "fa")
    ('1,6e-15', '0.0e+00', '–')
    """
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{float(x):.{digits}e}".replace(".", _DECIMAL[lang])


def fmt_pct(x: float | None, lang: str, digits: int = 0) -> str:
    """A share as a percentage: 0.873 -> ``87 %`` (``87%`` in English)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    sep = "" if lang == "en" else "\u00a0"
    return fmt_num(100 * float(x), lang, digits) + sep + "%"
