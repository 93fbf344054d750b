"""The broadcast form in a real headless Chromium, at a laptop's 1024 px and a desktop's 1400 px: the audience
is counted as the segment is chosen, before saving; markers and buttons typed as rows are stored as JSON;
the preview shows the formatting and the buttons. Screenshots go to tests/artefacts/."""

import pytest
from django.contrib.auth.models import User

from apps.broadcast.models import Broadcast
from apps.users.models import TelegramUser
from tests.helpers import admin_login

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def population() -> None:
    TelegramUser.objects.bulk_create(
        [
            TelegramUser(
                id=n,
                language_code=("ru", "en", "en-GB")[n % 3],
                last_journey_stage=("ordinary_world", "call_to_adventure")[n % 2],
                streams=["career"] if n % 4 == 0 else ["growth"],
                markers={"tier": "gold", **({"level": 3} if n < 6 else {})} if n < 12 else {"tier": "silver"},
            )
            for n in range(1, 25)
        ]
    )


@pytest.mark.usefixtures("population")
@pytest.mark.parametrize("width", [1024, 1400])
def test_the_operator_sees_the_audience_and_the_message_before_saving(browser, screenshot, live_server, width):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    User.objects.create_superuser("operator", password="a-long-test-password")
    browser.set_window_size(width, 1000)
    admin_login(
        browser,
        live_server.url,
        "/admin/broadcast/broadcast/add/",
        username="operator",
        password="a-long-test-password",
    )

    def count_reads(text: str) -> None:
        WebDriverWait(browser, 15).until(
            lambda driver: (
                driver.execute_script("return document.getElementById('segment-count')?.textContent") == text
            ),
            message=f"the count never read “{text}”",
        )

    count_reads("reaches 24 users")
    heading = browser.find_element(By.CSS_SELECTOR, "fieldset.broadcast-segment .fieldset-heading")
    assert heading.text.startswith("Segment") and heading.text.endswith("reaches 24 users")

    # The segment, chosen from the values users have: each choice counted at once, nothing saved.
    browser.find_element(By.CSS_SELECTOR, "input[name=journey_stages][value=ordinary_world]").click()
    count_reads("reaches 12 users")  # even ids
    Select(browser.find_element(By.NAME, "language")).select_by_value("en")
    count_reads("reaches 8 users")  # en and en-GB: 2, 4, 8, 10, 14, 16, 20, 22
    browser.find_element(By.CSS_SELECTOR, "input[name=streams][value=growth]").click()
    count_reads("reaches 4 users")  # 2, 10, 14, 22
    days = browser.find_element(By.NAME, "last_seen_within_days")
    days.send_keys("-1")
    count_reads("not counted — Last seen within days: Ensure this value is greater than or equal to 0.")
    days.clear()
    count_reads("reaches 4 users")
    markers = browser.find_elements(By.CSS_SELECTOR, ".field-markers .json-rows tbody input")
    markers[0].send_keys("tier")
    markers[1].send_keys("gold")
    count_reads("reaches 2 users")  # 2 and 10
    browser.find_element(By.CSS_SELECTOR, ".field-markers .json-rows-add").click()
    level = browser.find_elements(By.CSS_SELECTOR, ".field-markers .json-rows tbody tr")[1]
    level.find_elements(By.TAG_NAME, "input")[0].send_keys("level")
    level.find_elements(By.TAG_NAME, "input")[1].send_keys("3")  # a whole number: matches the number 3
    count_reads("reaches 1 user")
    assert not Broadcast.objects.exists(), "counted before saving"

    # The message, previewed as Telegram shows it.
    browser.find_element(By.NAME, "title").send_keys("Spring")
    browser.find_element(By.NAME, "text").send_keys("<b>Spring</b> is here.\nOur <i>new</i> course opens today.")
    button = browser.find_elements(By.CSS_SELECTOR, ".field-buttons .json-rows tbody input")
    button[0].send_keys("Open the course")
    button[1].send_keys("https://example.com/course")
    WebDriverWait(browser, 15).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, ".telegram-preview .telegram-button"),
        message="the preview never showed the button",
    )
    assert browser.find_element(By.CSS_SELECTOR, ".telegram-preview .telegram-text b").text == "Spring"
    assert browser.find_element(By.CSS_SELECTOR, ".telegram-preview .telegram-button").text == "Open the course"
    assert not browser.find_elements(By.CSS_SELECTOR, ".telegram-preview .errorlist")
    screenshot(f"broadcast-add-{width}")

    browser.find_element(By.NAME, "_continue").click()
    # The add page still reads "reaches 1 user" until the browser has left it: wait for the change page.
    WebDriverWait(browser, 15).until(lambda driver: "/change/" in driver.current_url, message="never saved")
    count_reads("reaches 1 user")  # the change page counts the saved segment
    broadcast = Broadcast.objects.get()
    assert broadcast.buttons == [{"text": "Open the course", "url": "https://example.com/course"}]
    assert broadcast.markers == {"tier": "gold", "level": 3}
    assert (broadcast.journey_stages, broadcast.language, broadcast.streams) == (["ordinary_world"], "en", ["growth"])
    cancel = browser.find_element(By.CSS_SELECTOR, "#broadcast-actions button[value=cancel]")
    assert cancel.value_of_css_property("background-color") == "rgba(186, 33, 33, 1)", "the admin's delete red"
    screenshot(f"broadcast-change-{width}")

    # The actions take the broadcast as saved: with changes not saved yet, they say so first.
    browser.find_element(By.NAME, "title").send_keys(" sale")
    schedule = "#broadcast-actions button[value=schedule]"
    browser.find_element(By.CSS_SELECTOR, schedule).click()
    warning = WebDriverWait(browser, 5).until(expected_conditions.alert_is_present())
    assert "not saved" in warning.text
    warning.dismiss()
    browser.find_element(By.CSS_SELECTOR, schedule).click()
    WebDriverWait(browser, 5).until(expected_conditions.alert_is_present()).accept()
    # Read in the page in one step: the page reloads after the action, and an element found just
    # before the reload is stale by the time its text is asked for.
    WebDriverWait(browser, 15).until(
        lambda driver: (
            "set a future"
            in (driver.execute_script("return document.querySelector('ul.messagelist')?.textContent") or "")
        )
    )
    assert Broadcast.objects.get().title == "Spring"
