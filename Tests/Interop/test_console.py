"""The web console (issue #16) in a real browser: Debian's chromium, headless, driven by Selenium
through chromium-driver, against a real `strom serve` with data the test made. Every page must load
without console errors and show what the test created; screenshots of each page at 1280x800 and
390x844 go to $STROM_CONSOLE_SCREENSHOTS (default: a temporary directory) — docs/console/ holds
the committed ones."""

from __future__ import annotations

import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from strom_server import create_topic, unique_topic

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
VIEWPORTS = {"desktop": (1280, 800, False), "phone": (390, 844, True)}


@pytest.fixture
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are not installed (scripts/install-dependencies.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER, port=0)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()  # closes chromium, then stops chromium-driver by its process
        assert service.process is None or service.process.poll() is not None, "chromium-driver still running"


def screenshots_dir() -> Path:
    path = Path(os.environ.get("STROM_CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(prefix="strom-console-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def visit(driver, url: str, name: str):
    """Loads `url`, fails on any console error, and saves a screenshot at each viewport."""
    for viewport, (width, height, mobile) in VIEWPORTS.items():
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        driver.get(url)
        check_and_save(driver, url, f"{name}-{viewport}.png", width)


def snapshot(driver, name: str):
    """The same for the page as it is now: a form's answer, which cannot be loaded again."""
    for viewport, (width, height, mobile) in VIEWPORTS.items():
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        check_and_save(driver, driver.current_url, f"{name}-{viewport}.png", width)


def check_and_save(driver, url: str, file_name: str, width: int):
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], f"console errors on {url}: {errors}"
    # A page readable on a phone: nothing wider than the window but the scrolling tables.
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{url} is {overflow} px wider than a {width} px window"
    driver.save_screenshot(str(screenshots_dir() / file_name))


def test_the_overview_shows_the_broker_its_partitions_and_the_throughput_chart(server, browser):
    from selenium.webdriver.common.by import By
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 3)
    visit(browser, f"{server.admin_url}/", "overview")
    assert browser.title == "Overview · Strom"
    cards = {card.find_element(By.CLASS_NAME, "label").text: card.find_element(By.CLASS_NAME, "value").text
             for card in browser.find_elements(By.CLASS_NAME, "card")}
    assert cards["Brokers"] == "1" and cards["Offline"] == "0" and cards["Under-replicated"] == "0"
    assert int(cards["Partitions"]) >= 3 and int(cards["Topics"]) >= 1
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")]
    assert any(row.startswith("0 (controller) alive 127.0.0.1:") for row in rows), rows
    assert browser.find_elements(By.TAG_NAME, "figure"), "the throughput chart's place"


def test_topics_are_listed_filtered_and_paged(server, browser):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    prefix = unique_topic()
    names = [f"{prefix}-{index:02d}" for index in range(55)]
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    for future in admin.create_topics([NewTopic(name, 2, 1) for name in names]).values():
        future.result(timeout=30)
    producer = Producer({"bootstrap.servers": server.bootstrap})
    for index in range(40):
        producer.produce(names[0], f"record {index}".encode(), partition=index % 2)
    assert producer.flush(15) == 0

    from selenium.webdriver.common.by import By
    visit(browser, f"{server.admin_url}/topics?q={prefix}", "topics")
    rows = [row.find_elements(By.TAG_NAME, "td") for row in browser.find_elements(By.CSS_SELECTOR, "main tbody tr")]
    assert len(rows) == 50, "a page holds 50 topics"
    first = [cell.text for cell in rows[0]]
    # Topic, Partitions, Replication, Size, Records, Records/s, Health.
    assert first[0] == names[0] and first[1] == "2" and first[2] == "1" and first[4] == "40" and first[6] == "healthy", first
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Next →"))
    assert [row.find_element(By.TAG_NAME, "td").text for row in browser.find_elements(By.CSS_SELECTOR, "main tbody tr")] == names[50:]
    # The filter form narrows the list (a plain GET form: no script).
    box = browser.find_element(By.NAME, "q")
    box.clear()
    box.send_keys(names[7])
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.filter button"))
    assert [row.find_element(By.TAG_NAME, "td").text for row in browser.find_elements(By.CSS_SELECTOR, "main tbody tr")] == [names[7]]


def test_a_topic_page_shows_its_partitions_and_configs_with_their_sources(server, browser):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    from selenium.webdriver.common.by import By
    topic = unique_topic()
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    admin.create_topics([NewTopic(topic, 3, 1, config={"retention.ms": "3600000"})])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": server.bootstrap})
    for index in range(30):
        producer.produce(topic, f"record {index}".encode(), partition=index % 3)
    assert producer.flush(15) == 0

    browser.get(f"{server.admin_url}/topics?q={topic}")
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, topic))
    assert browser.current_url == f"{server.admin_url}/topics/{topic}"
    visit(browser, browser.current_url, "topic")
    tables = browser.find_elements(By.CSS_SELECTOR, "main table")
    partitions = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert [(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[8]) for row in partitions] == [
        (str(p), "0", "0", "0", "0", "10", "10", "in sync") for p in range(3)], partitions
    configs = {row.find_elements(By.TAG_NAME, "td")[0].text: [cell.text for cell in row.find_elements(By.TAG_NAME, "td")[1:]]
               for row in tables[1].find_elements(By.CSS_SELECTOR, "tbody tr")}
    assert configs["retention.ms"] == ["3600000", "DYNAMIC_TOPIC_CONFIG"]
    assert configs["cleanup.policy"] == ["delete", "DEFAULT_CONFIG"]
    # The same sources Kafka's admin client reads.
    from confluent_kafka.admin import ConfigResource, ResourceType
    resource = ConfigResource(ResourceType.TOPIC, topic)
    described = admin.describe_configs([resource])[resource].result(timeout=15)
    assert described["retention.ms"].source == 1 and described["cleanup.policy"].source == 5  # DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG
    missing = urllib.request.Request(f"{server.admin_url}/topics/no-such-topic")
    try:
        urllib.request.urlopen(missing, timeout=10)
        raise AssertionError("a missing topic is a 404")
    except urllib.error.HTTPError as error:
        assert error.code == 404


def test_the_alerts_page_shows_a_firing_alert_its_event_and_the_rules(data_dir, browser):
    """A topic wants two in-sync replicas on a single broker: its partition is under min ISR at
    once, so the rule fires; the page shows it now, in the history, and the rule."""
    import json
    from selenium.webdriver.common.by import By
    from strom_server import StromServer
    topic = unique_topic()
    rules = data_dir / "alerts.json"
    rules.write_text(json.dumps({"rules": ["underisr"], "underisr": {
        "condition": "partition_under_min_isr", "topics": topic, "annotations": ["summary={topic}-{partition} has too few replicas"]}}))
    server = StromServer(data_dir / "broker", overrides={"alerts.file": str(rules)}).start()
    try:
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": server.bootstrap})
        admin.create_topics([NewTopic(topic, 1, 1, config={"min.insync.replicas": "2"})])[topic].result(timeout=30)
        deadline = time.monotonic() + 20
        while True:
            browser.get(f"{server.admin_url}/alerts")
            if browser.find_elements(By.XPATH, "//td[text()='firing']"):
                break
            assert time.monotonic() < deadline, "the alert firing on the page within 20 s"
            time.sleep(0.5)
        visit(browser, f"{server.admin_url}/alerts", "alerts")
        tables = browser.find_elements(By.CSS_SELECTOR, "main table")
        now = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert [(row[0], row[1], row[4], row[5]) for row in now] == [
            ("underisr", "firing", f"partition=0 topic={topic}", f"{topic}-0 has too few replicas")], now
        events = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in tables[1].find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert [(row[1], row[2]) for row in events] == [("firing", "underisr")], events
        rules_rows = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in tables[2].find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert rules_rows == [["underisr", "*", topic, "0 s"]], rules_rows
    finally:
        assert server.stop() == 0


def test_pages_escape_what_they_show(server):
    """A topic name cannot carry markup into the page, and a filter value neither."""
    with urllib.request.urlopen(f"{server.admin_url}/topics?q=%3Cscript%3Ealert(1)%3C/script%3E", timeout=10) as answer:
        page = answer.read().decode()
        assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_throughput_chart_draws_what_was_produced_and_consumed(server, browser):
    """The broker keeps a point every 10 s: with a producer and a consumer running, the overview's
    chart gains its two lines within a bounded wait, and the last interval's rate is shown."""
    from selenium.webdriver.common.by import By
    from test_operations import SteadyProducer, consume_for, group_consumer
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 1)
    with SteadyProducer(server.bootstrap, topic, rate=200):
        consumer = group_consumer(server.bootstrap, unique_topic(), topic)
        try:
            deadline = time.monotonic() + 40
            while True:
                consume_for(consumer, 1)
                browser.get(f"{server.admin_url}/")
                if len(browser.find_elements(By.CSS_SELECTOR, "figure svg polyline")) == 2:
                    break
                assert time.monotonic() < deadline, "the chart drawn within 40 s"
            consume_for(consumer, 1)
        finally:
            consumer.close()
    summary = browser.find_element(By.XPATH, "//p[starts-with(text(), 'Last 10 s:')]").text
    rate = float(summary.split()[3].rstrip("k"))
    assert rate > 0, summary
    visit(browser, f"{server.admin_url}/", "overview")


# The console's forms (post/redirect/get with a one-time notice), the messages page and the groups pages.

def notice(driver) -> tuple[str, str]:
    """The one-time notice a change leaves on the page it redirects to: ("ok" or "bad", its text)."""
    from selenium.webdriver.common.by import By
    shown = driver.find_elements(By.CSS_SELECTOR, "main p.notice[role=status]")
    assert len(shown) == 1, f"one notice on {driver.current_url}, saw {[element.text for element in shown]}"
    kind = "ok" if "ok" in shown[0].get_attribute("class").split() else "bad"
    return kind, shown[0].text


def form_with_button(driver, button: str):
    """The form whose submit button reads `button`."""
    from selenium.webdriver.common.by import By
    forms = driver.find_elements(By.XPATH, f"//form[.//button[normalize-space()='{button}']]")
    assert len(forms) == 1, f"one form with a {button!r} button on {driver.current_url}"
    return forms[0]


def fill_and_submit(driver, button: str, fields: dict[str, str]):
    """Types `fields` into the form of `button` (a select: the option with that value) and submits it, then waits for the next page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    form = form_with_button(driver, button)
    for name, text in fields.items():
        element = form.find_element(By.NAME, name)
        if element.tag_name == "select":
            # By the option's value, which is its text when it has no value attribute.
            values = [option.get_property("value") for option in element.find_elements(By.TAG_NAME, "option")]
            assert text in values, f"{name} offers {values}, not {text!r}"
            Select(element).select_by_index(values.index(text))
        else:
            element.clear()
            element.send_keys(text)
    click_and_wait(driver, form.find_element(By.XPATH, f".//button[normalize-space()='{button}']"))


def click_and_wait(driver, element):
    """Clicks `element` and waits (bounded) until the browser has loaded the page that follows.

    The old page is marked with a token in its `window`; the next document starts without it.
    (Selenium's `staleness_of` is not used: while the old document is torn down, Chromium can
    answer "Node with given id does not belong to the document", which it does not treat as stale.)"""
    import uuid
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    token = uuid.uuid4().hex
    driver.execute_script("window.stromPageToken = arguments[0]", token)
    element.click()

    def next_page_loaded(d) -> bool:
        try:
            return d.execute_script("return window.stromPageToken !== arguments[0] && document.readyState === 'complete'", token)
        except WebDriverException:
            return False  # the page is changing under the script

    WebDriverWait(driver, 30).until(next_page_loaded)


def table_rows(driver, selector: str = "main table") -> list[list[str]]:
    from selenium.webdriver.common.by import By
    table = driver.find_element(By.CSS_SELECTOR, selector)
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]


def all_tables(driver) -> list[list[list[str]]]:
    """The rows of every table in the page's main part, in order."""
    from selenium.webdriver.common.by import By
    return [[[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
            for table in driver.find_elements(By.CSS_SELECTOR, "main table")]


def test_a_form_without_the_cookies_token_changes_nothing(server):
    """Every page sets an HttpOnly SameSite=Strict `strom_csrf` cookie; a form posted without that
    token in its `csrf` field, or with another, is refused and creates nothing; with it, the
    answer is a redirect (post/redirect/get) to the new topic's page."""
    import http.client
    import urllib.parse
    host, port = server.admin_url.removeprefix("http://").rsplit(":", 1)

    def request(method: str, path: str, body: str | None = None, cookie: str | None = None):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        if cookie:
            headers["Cookie"] = cookie
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.getheader("Location"), answer.msg.get_all("Set-Cookie") or [], answer.read().decode()
        finally:
            connection.close()

    status, _, cookies, _ = request("GET", "/topics")
    assert status == 200
    csrf = [cookie for cookie in cookies if cookie.startswith("strom_csrf=")]
    assert len(csrf) == 1, cookies
    attributes = [part.strip().lower() for part in csrf[0].split(";")]
    assert "httponly" in attributes and "samesite=strict" in attributes, csrf
    token = csrf[0].split(";")[0].split("=", 1)[1]
    assert len(token) >= 32
    topic = unique_topic()
    form = {"name": topic, "partitions": "1", "replication": ""}
    for fields, cookie in [(form, f"strom_csrf={token}"), ({**form, "csrf": "0" * len(token)}, f"strom_csrf={token}"),
                           ({**form, "csrf": token}, None)]:
        status, _, _, body = request("POST", "/topics", urllib.parse.urlencode(fields), cookie)
        assert (status, body) == (403, "missing or wrong CSRF token\n"), (fields, cookie)
    assert request("GET", f"/topics/{topic}")[0] == 404, "a refused form created the topic"
    status, location, cookies, _ = request("POST", "/topics", urllib.parse.urlencode({**form, "csrf": token}), f"strom_csrf={token}")
    assert (status, location) == (303, f"/topics/{topic}")
    assert any(cookie.startswith("strom_notice=") for cookie in cookies), cookies
    assert request("GET", f"/topics/{topic}")[0] == 200


def test_a_topic_created_in_the_console_takes_a_record_that_kcat_reads_and_the_page_shows_as_json(server, browser):
    """Create a topic with two partitions through the form, produce a record with a key, a JSON
    value and headers through the messages page: kcat reads exactly that record back; the page
    shows the value pretty-printed (escaped, keys in written order) and its search narrows what
    was loaded."""
    import json
    import subprocess
    from selenium.webdriver.common.by import By
    topic = unique_topic()
    browser.get(f"{server.admin_url}/topics")
    fill_and_submit(browser, "Create topic", {"name": topic, "partitions": "2"})
    assert browser.current_url == f"{server.admin_url}/topics/{topic}"
    assert notice(browser) == ("ok", f"Created topic {topic}.")
    cards = {card.find_element(By.CLASS_NAME, "label").text: card.find_element(By.CLASS_NAME, "value").text
             for card in browser.find_elements(By.CLASS_NAME, "card")}
    assert cards["Partitions"] == "2" and cards["Replication"] == "1", cards
    assert [row[0] for row in table_rows(browser)] == ["0", "1"]
    # The notice is shown once: a reload no longer has it.
    browser.refresh()
    assert browser.find_elements(By.CSS_SELECTOR, "main p.notice") == []

    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Messages →"))
    assert browser.current_url == f"{server.admin_url}/messages?topic={topic}"
    value = {"order": 42, "items": ["a", "b"], "note": "<b>"}
    written = json.dumps(value, separators=(",", ":"))
    fill_and_submit(browser, "Produce", {"partition": "", "key": "order-42", "value": written,
                                         "headers": "trace-id: abc-123\nsource: console"})
    kind, text = notice(browser)
    assert kind == "ok" and text.startswith("Produced to partition ") and text.endswith(" at offset 0."), text
    partition = int(text.split()[3])
    assert partition in (0, 1)
    assert browser.current_url == f"{server.admin_url}/messages?topic={topic}&partition={partition}&from=offset&offset=0"
    rows = table_rows(browser, "table.records")
    assert [(row[0], row[2], row[3]) for row in rows] == [("0", "order-42", written)], rows
    headers = browser.find_elements(By.CSS_SELECTOR, "table.records tbody tr td:nth-child(5) > div")
    assert [" ".join(header.text.split()) for header in headers] == ["trace-id: abc-123", "source: console"]

    # Another client reads exactly what the form wrote.
    read = subprocess.run(["kcat", "-b", server.bootstrap, "-C", "-t", topic, "-p", str(partition), "-o", "beginning", "-e",
                           "-f", "%k|%s|%h\n"], capture_output=True, text=True, timeout=30)
    assert read.returncode == 0, read.stderr
    assert read.stdout.splitlines() == [f"order-42|{written}|trace-id=abc-123,source=console"], read.stdout

    # A second record in the same partition, for the search.
    browser.get(f"{server.admin_url}/messages?topic={topic}")
    fill_and_submit(browser, "Produce", {"partition": str(partition), "key": "plain", "value": "just some text"})
    assert notice(browser) == ("ok", f"Produced to partition {partition} at offset 1.")

    page = f"{server.admin_url}/messages?topic={topic}&partition={partition}&from=beginning&format=json"
    visit(browser, page, "messages")
    rows = table_rows(browser, "table.records")
    # Keys that are not JSON are shown as the text they are, unmarked (only values are marked).
    assert [(row[0], row[2]) for row in rows] == [("0", "order-42"), ("1", "plain")], rows
    pretty = browser.find_elements(By.CSS_SELECTOR, "table.records td.value pre.json")
    assert len(pretty) == 1, "the JSON value pretty-printed, the text one not"
    assert pretty[0].text == json.dumps(value, indent=2)
    assert browser.find_elements(By.CSS_SELECTOR, "table.records pre.json b") == [], "the value's markup stays text"
    with urllib.request.urlopen(page, timeout=10) as answer:
        source = answer.read().decode()
    assert "&quot;note&quot;: &quot;&lt;b&gt;&quot;" in source and "<b>" not in source
    # The plain-text value falls back to text, marked.
    assert "(not JSON)" in rows[1][3]

    # The search narrows the loaded page to the records whose key or value holds it.
    # (A search with a space last: an HTML form sends it as "some+text".)
    for search, expected in [("ORDER", ["0"]), ("TEXT", ["1"]), ("nowhere", []), ("some text", ["1"])]:
        box = browser.find_element(By.NAME, "q")
        box.clear()
        box.send_keys(search)
        click_and_wait(browser, form_with_button(browser, "Show").find_element(By.XPATH, ".//button[normalize-space()='Show']"))
        rows = table_rows(browser, "table.records")
        shown = [row[0] for row in rows if len(row) == 5]
        assert shown == expected, (search, rows)
        summary = browser.find_element(By.XPATH, "//p[starts-with(text(), 'Partition ')]").text
        assert f"2 loaded, {len(expected)} match" in summary, summary
        if not expected:
            assert rows == [["No loaded record matches."]], rows


def test_the_topic_page_adds_partitions_sets_a_config_and_deletes_only_with_the_name_typed(server, browser):
    """Each change on a topic's page shows up in Kafka's admin client: partitions added, a config
    set and then back to its default, and a delete refused until the topic's name is typed."""
    from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 2)
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    page = f"{server.admin_url}/topics/{topic}"

    browser.get(page)
    fill_and_submit(browser, "Add partitions", {"count": "5"})
    assert browser.current_url == page
    assert notice(browser) == ("ok", f"Topic {topic} now has 5 partitions.")
    assert [row[0] for row in table_rows(browser)] == ["0", "1", "2", "3", "4"]
    assert len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 5

    resource = ConfigResource(ResourceType.TOPIC, topic)

    def described(name: str):
        return admin.describe_configs([resource])[resource].result(timeout=15)[name]

    fill_and_submit(browser, "Set config", {"name": "retention.ms", "value": "7200000"})
    assert notice(browser) == ("ok", "Set retention.ms to 7200000.")
    config = described("retention.ms")
    assert (config.value, config.source) == ("7200000", 1)  # DYNAMIC_TOPIC_CONFIG
    fill_and_submit(browser, "Set config", {"name": "retention.ms", "value": ""})
    assert notice(browser) == ("ok", "retention.ms is back to its default.")
    config = described("retention.ms")
    assert config.source == 5 and config.value != "7200000"  # DEFAULT_CONFIG
    # A config the broker does not know is an error on the page, not a change.
    fill_and_submit(browser, "Set config", {"name": "no.such.config", "value": "1"})
    kind, text = notice(browser)
    assert kind == "bad" and "no.such.config" in text, text

    fill_and_submit(browser, "Delete topic", {"confirm": topic + "-not"})
    assert browser.current_url == page
    kind, text = notice(browser)
    assert kind == "bad" and "type the topic's name to delete it: nothing was deleted" in text, text
    assert topic in admin.list_topics(timeout=10).topics
    fill_and_submit(browser, "Delete topic", {"confirm": topic})
    assert browser.current_url == f"{server.admin_url}/topics"
    assert notice(browser) == ("ok", f"Deleted topic {topic}.")
    deadline = time.monotonic() + 15
    while topic in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, "the topic gone from the metadata within 15 s"
        time.sleep(0.2)


def committed_offsets(admin, group: str, topic: str) -> dict[int, int]:
    from confluent_kafka import ConsumerGroupTopicPartitions
    listed = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(timeout=15)
    return {entry.partition: entry.offset for entry in listed.topic_partitions if entry.topic == topic}


def test_a_groups_lag_grows_once_its_consumer_stops_and_a_reset_shows_its_plan_first(server, browser):
    """A producer goes on after the group's only consumer has stopped: the group's page shows the
    lag growing from one reload to the next. A reset to the earliest offsets shows its plan and
    changes nothing; applying the plan is refused while the group has a member, and commits
    exactly the plan once it has none."""
    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient
    from selenium.webdriver.common.by import By
    from test_operations import SteadyProducer, consume_for, group_consumer
    topic, group = unique_topic(), unique_topic()
    create_topic(server.bootstrap, topic, 2)
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    page = f"{server.admin_url}/groups/{group}"

    def lag_cells() -> list[str]:
        return [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "td.num.lag")]

    with SteadyProducer(server.bootstrap, topic, rate=100):
        consumer = group_consumer(server.bootstrap, group, topic)
        try:
            deadline = time.monotonic() + 30
            while True:
                consume_for(consumer, 0.5)
                browser.get(page)
                if len(lag_cells()) == 2 and all(cell.isdigit() for cell in lag_cells()):
                    break
                assert time.monotonic() < deadline, "both partitions' committed offsets on the group page within 30 s"
        finally:
            consumer.close()
        # Nobody reads or commits now: the lag grows from one reload to the next.
        deadline = time.monotonic() + 30
        previous = None
        while True:
            browser.get(page)
            lag = sum(int(cell) for cell in lag_cells())
            if previous is not None and lag > previous > 0:
                break
            previous = lag
            assert time.monotonic() < deadline, f"the lag growing within 30 s (last {lag})"
            time.sleep(0.3)
        # The coordinator keeps a point of the group's lag every 10 s: the chart draws from two.
        deadline = time.monotonic() + 40
        while not browser.find_elements(By.CSS_SELECTOR, "figure svg polyline"):
            assert time.monotonic() < deadline, "the group's lag chart drawn within 40 s"
            time.sleep(1)
            browser.get(page)
    # Each partition's lag is its end offset less its committed one.
    rows = all_tables(browser)[0]
    assert [(row[0], row[1]) for row in rows] == [(topic, "0"), (topic, "1")], rows
    assert all(int(row[4]) == int(row[3]) - int(row[2]) for row in rows), rows
    cards = {card.find_element(By.CLASS_NAME, "label").text: card.find_element(By.CLASS_NAME, "value").text
             for card in browser.find_elements(By.CLASS_NAME, "card")}
    assert (cards["Type"], cards["State"], cards["Members"], cards["Coordinator"]) == ("classic", "Empty", "0", "0"), cards
    assert int(cards["Lag"]) == sum(int(row[4]) for row in rows)
    assert browser.find_elements(By.XPATH, "//h2[text()='Lag, last hour']") and browser.find_elements(By.CSS_SELECTOR, "figure")
    assert all_tables(browser)[1] == [["No active members."]]

    visit(browser, f"{server.admin_url}/groups", "groups")
    listed = {row[0]: row for row in table_rows(browser)}
    assert listed[group][1:3] == ["classic", "Empty"] and int(listed[group][3]) > 0, listed[group]
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, group))
    assert browser.current_url == page
    visit(browser, page, "group")

    before = committed_offsets(admin, group, topic)
    assert set(before) == {0, 1} and all(offset > 0 for offset in before.values()), before

    def dry_run():
        browser.get(page)
        fill_and_submit(browser, "Preview (dry run)", {"topic": topic, "to": "earliest"})
        assert browser.find_element(By.XPATH, "//main/p[text()='Dry run: nothing has changed yet.']")
        plan = table_rows(browser)
        assert [(row[0], row[1], row[3]) for row in plan] == [(topic, "0", "0"), (topic, "1", "0")], plan
        return {int(row[1]): int(row[2]) for row in plan}

    assert dry_run() == before, "the plan shows what is committed now"
    snapshot(browser, "reset-plan")
    assert committed_offsets(admin, group, topic) == before, "a dry run changes nothing"

    # A member joins (it commits nothing): applying the plan is refused.
    member = Consumer({"bootstrap.servers": server.bootstrap, "group.id": group, "enable.auto.commit": False,
                       "auto.offset.reset": "earliest"})
    try:
        member.subscribe([topic])
        deadline = time.monotonic() + 30
        while not member.assignment():
            member.poll(0.2)
            assert time.monotonic() < deadline, "the member assigned within 30 s"
        click_and_wait(browser, form_with_button(browser, "Apply these offsets").find_element(By.TAG_NAME, "button"))
        assert browser.current_url == page
        kind, text = notice(browser)
        assert kind == "bad" and "active members" in text, text
        assert committed_offsets(admin, group, topic) == before
    finally:
        member.close()

    deadline = time.monotonic() + 30
    while True:
        browser.get(page)
        members = {card.find_element(By.CLASS_NAME, "label").text: card.find_element(By.CLASS_NAME, "value").text
                   for card in browser.find_elements(By.CLASS_NAME, "card")}["Members"]
        if members == "0":
            break
        assert time.monotonic() < deadline, "the member gone within 30 s"
        time.sleep(0.3)
    assert dry_run() == before
    click_and_wait(browser, form_with_button(browser, "Apply these offsets").find_element(By.TAG_NAME, "button"))
    assert browser.current_url == page
    assert notice(browser) == ("ok", f"Committed new offsets for {topic}: 0:0,1:0.")
    assert committed_offsets(admin, group, topic) == {0: 0, 1: 0}
    rows = all_tables(browser)[0]
    assert [(row[2], row[4]) for row in rows] == [("0", row[3]) for row in rows], "the whole log behind again"
